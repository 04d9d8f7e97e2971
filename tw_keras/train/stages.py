"""The two training stages of the paper (4.4.3 and 5.1): a task object per stage, and its job.

Stage 1 (`PerFrameTask`) trains the per-frame CNN on labelled frames: Adam (the encoder at a
10x smaller rate when it starts from ImageNet weights), polynomial decay, L2 weight decay,
softmax cross-entropy ignoring 255, scale/flip/crop augmentation.

Stage 2 (`NonKeyFrameTask`) freezes the per-frame CNN and trains one non-key-frame variant
on clips: the key frame goes through the per-frame CNN; its Layer-k features are warped and
corrected through the following P-frames; each step adds cross-entropy (where labelled) plus
`lambda * L2(corrected context, per-frame context of that frame)`.

A task owns its models, optimizers and `train_step` (one replica's step on one batch), so a
step can be run and tested without a training job. `train_stage1` / `train_stage2` are the
jobs: they wrap the task's step in `tf.function` (optional XLA) under any tf.distribute
strategy, and hand it to `loop.Loop` (checkpoints, TensorBoard, evaluation, resume).
"""

import dataclasses
import os
from typing import Dict, Optional

import keras
import numpy as np
import tensorflow as tf

from tw_keras import config as config_lib, dataset_info
from tw_keras.data import dataset, features
from tw_keras.evaluation import quick
from tw_keras.model import model_dir as model_dir_lib
from tw_keras.model import encoders, models, twnet
from tw_keras.train import distribute, inputs, loop, losses
from tw_keras.video import codec


class PerFrameTask:
  """Stage 1. Build inside the strategy's scope; `train_step` runs in replica context.

  Attributes: `model` (the per-frame CNN), `optimizers` ({"decoder", "encoder"} Adam, the
  encoder's at `encoder_lr_multiplier` when starting from ImageNet weights).
  """

  def __init__(self, model_config: config_lib.ModelConfig, cfg: config_lib.Stage1Config, replicas: int = 1,
               dataset: Optional[dataset_info.DatasetInfo] = None, class_weights=None):
    """`class_weights`: optional [K] weights of the cross-entropy (`cfg.class_weighting`)."""
    self.cfg, self.replicas, self.class_weights = cfg, replicas, class_weights
    self.twnet = twnet.build(model_config, "per_frame", dataset=dataset)
    self.model = self.twnet.per_frame
    encoder_vars = {id(v) for v in models.encoder_of(self.model).trainable_weights}
    self.encoder_vars = [v for v in self.model.trainable_weights if id(v) in encoder_vars]
    self.decoder_vars = [v for v in self.model.trainable_weights if id(v) not in encoder_vars]
    self.decayed = losses.decayed_kernels(self.model, among=self.model.trainable_weights)
    mult = cfg.encoder_lr_multiplier if model_config.imagenet_weights else 1.0
    self.optimizers = {
        "decoder": keras.optimizers.Adam(loop.poly_decay(cfg.learning_rate, cfg.steps, cfg.power)),
        "encoder": keras.optimizers.Adam(loop.poly_decay(cfg.learning_rate * mult, cfg.steps, cfg.power)),
    }
    self.optimizers["decoder"].build(self.decoder_vars)
    self.optimizers["encoder"].build(self.encoder_vars)

  def checkpoint_items(self) -> Dict[str, object]:
    """What a checkpoint holds (besides the step), by name: the per-frame CNN under the
    model's own key (`TWNet.checkpoint_items`) and both optimizers."""
    return {**self.twnet.checkpoint_items(("per_frame",)), "optimizer_decoder": self.optimizers["decoder"],
            "optimizer_encoder": self.optimizers["encoder"]}

  def train_step(self, images: tf.Tensor, labels: tf.Tensor) -> Dict[str, tf.Tensor]:
    """One replica's step. images [b, h, w, 3] float32 0..255, labels [b, h, w] int32 trainIds
    (255 ignored). Returns {"loss", "cross_entropy"} (this replica's, unscaled)."""
    dec, enc = self.decoder_vars, self.encoder_vars
    with tf.GradientTape() as tape:
      logits = self.model(images, training=True)[models.PRED_LOGITS]
      ce = losses.masked_cross_entropy(labels, logits, self.class_weights)
      loss = ce + losses.weight_decay_loss(self.decayed, self.cfg.weight_decay)
      scaled = loss / self.replicas
    grads = tape.gradient(scaled, dec + enc)
    loop.apply_gradients([(self.optimizers["decoder"], grads[:len(dec)], dec),
                     (self.optimizers["encoder"], grads[len(dec):], enc)])
    return {"loss": loss, "cross_entropy": ce}


class NonKeyFrameTask:
  """Stage 2 for one variant, on a frozen per-frame CNN. Build inside the strategy's scope.

  Attributes: `twnet` (the model: the frozen per-frame CNN of `base` and a new non-key-frame
  model of `variant`), `per_frame`, `nkfc`, `variables` (what the step trains; empty for
  variants with nothing to train), `optimizer`.
  """

  def __init__(self, base: twnet.TWNet, variant: config_lib.Variant, cfg: config_lib.Stage2Config,
               replicas: int = 1, motion_cell: int = codec.MV_CELL):
    self.cfg, self.variant, self.replicas, self.motion_cell = cfg, variant, replicas, motion_cell
    base.per_frame.trainable = False
    self.twnet = base.with_variant(variant)
    self.per_frame, self.nkfc = self.twnet.per_frame, self.twnet.nkfc
    self.variables = self.nkfc.trainable_weights if variant.trainable else []
    self.decayed = losses.decayed_kernels(self.nkfc, among=self.variables)
    self.optimizer = keras.optimizers.Adam(loop.poly_decay(cfg.learning_rate, cfg.steps, cfg.power))
    self.optimizer.build(self.variables)

  def checkpoint_items(self) -> Dict[str, object]:
    """The non-key-frame model under the model's own key (the frozen per-frame CNN is in
    stage 1's files) and the optimizer."""
    return {**self.twnet.checkpoint_items(("nkfc",)), "optimizer": self.optimizer}

  def train_step(self, clip: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """One replica's step on a batch of clips (keys of `features`, [b, T, h, w, ...]): the
    codec's compact inputs (frames, their references, motion grids), expanded in the model.

    Frame 0 is the key frame; frames 1..T-1 are chained through the NKFC. Returns {"loss",
    "cross_entropy", "consistency"}, each averaged over the T-1 non-key frames.
    """
    length = self.cfg.clip_length
    frames = clip[features.CLIP_IMAGES]
    images = tf.cast(frames, tf.float32)
    shape = tf.shape(images)
    flat = tf.reshape(images, tf.concat([[-1], shape[2:]], 0))
    targets = self.twnet.context_of(self.per_frame(flat, training=False))  # per-frame context of every frame
    targets = tf.reshape(targets, tf.concat([shape[:2], tf.shape(targets)[1:]], 0))
    with tf.GradientTape() as tape:
      context = targets[:, 0]
      ce_sum, cons_sum = 0.0, 0.0
      for t in range(1, length):  # unrolled: key frame, then the chained P-frames
        out = self.twnet.non_key_frame_from_codec(frames[:, t], clip[features.CLIP_REFERENCES][:, t], context,
                                                  clip[features.CLIP_MOTION_GRID][:, t], self.motion_cell,
                                                  training=True)
        ce_sum += losses.masked_cross_entropy(clip[features.CLIP_LABELS][:, t], out[models.PRED_LOGITS])
        cons_sum += losses.consistency_loss(out[models.PRED_CONTEXT], targets[:, t])
        context = out[models.PRED_CONTEXT]
      ce, cons = ce_sum / (length - 1), cons_sum / (length - 1)
      loss = ce + self.cfg.consistency_weight * cons + losses.weight_decay_loss(self.decayed,
                                                                                 self.cfg.weight_decay)
      scaled = loss / self.replicas
    loop.apply_gradients([(self.optimizer, tape.gradient(scaled, self.variables), self.variables)])
    return {"loss": loss, "cross_entropy": ce, "consistency": cons}


def _distributed_step(strategy, replica_step, xla: bool, unpack: bool):
  """tf.function(iterator -> per-replica metrics) running `replica_step` on the next batch."""
  compiled = tf.function(replica_step, jit_compile=True) if xla else replica_step

  @tf.function
  def step_fn(iterator):
    batch = next(iterator)
    return strategy.run(compiled, args=tuple(batch) if unpack else (batch,))
  return step_fn


def class_weights(data_dir: str, split: str, num_classes: int, weighting: str):
  """[K] cross-entropy weights of `weighting` ("none" -> None; "median_frequency": SegNet's,
  from the labelled frames of `split`), printed once."""
  if weighting == "none":
    return None
  if weighting != "median_frequency":
    raise ValueError(f"class_weighting {weighting!r}: choose none or median_frequency")
  pixels, image_pixels = np.zeros(num_classes), np.zeros(num_classes)
  for gop in dataset.gop_dataset(dataset.shard_files(data_dir, split), with_motion=False):
    for label, has in zip(gop[features.CLIP_LABELS].numpy(), gop[features.CLIP_HAS_LABEL].numpy()):
      if has:
        counts = np.bincount(label[label < num_classes].ravel(), minlength=num_classes)[:num_classes]
        pixels += counts
        image_pixels += np.where(counts > 0, counts.sum(), 0)
  weights = losses.median_frequency_weights(pixels, image_pixels)
  print("class weights (median frequency): " + " ".join(f"{w:.2f}" for w in weights), flush=True)
  return weights


def train_stage1(model_config: config_lib.ModelConfig, preset: config_lib.Preset, data_dir: str,
                 model_dir: str, strategy: Optional[tf.distribute.Strategy] = None, seed: int = 0,
                 xla: bool = False, progress: bool = True, cache: Optional[bool] = None,
                 steps: Optional[int] = None, split: str = "train", eval_split: Optional[str] = "val"):
  """Trains (or resumes) the per-frame CNN; writes `stage1/per_frame.weights.h5`.

  The classes come from the records' descriptor (`data_dir/dataset.json`; Cityscapes' when
  the records carry none): `model_config.num_classes` follows it, and it is written into
  the model directory beside `model_config.json`. Returns (history, the per-frame TWNet).
  """
  strategy = strategy or tf.distribute.get_strategy()
  cfg = preset.stage1 if steps is None else dataclasses.replace(preset.stage1, steps=steps)
  if model_config.imagenet_weights:  # a wrong file fails before anything is read or written
    encoders.check_imagenet_weights(model_config.backbone, model_config.width, model_config.imagenet_weights)
  cache = inputs.should_cache(data_dir, split, inputs.STAGE1_CACHE_MIB, cache)
  loop.set_seed(seed)
  directory = model_dir_lib.stage1_dir(model_dir)
  info = dataset.dataset_info_of(data_dir)
  model_config = dataclasses.replace(model_config, num_classes=info.num_classes)
  if distribute.is_chief(strategy):
    model_dir_lib.save_model_config(model_dir, model_config)  # refuses another configuration first
    model_dir_lib.save_dataset_info(model_dir, info)
  weights = class_weights(data_dir, split, info.num_classes, cfg.class_weighting)
  with strategy.scope():
    task = PerFrameTask(model_config, cfg, strategy.num_replicas_in_sync, info, weights)
  make_dataset = lambda start: strategy.distribute_datasets_from_function(
      lambda ctx: inputs.stage1_dataset(data_dir, split, cfg, seed, cache, ctx, inputs.resume_skip(start, cache)))
  eval_fn = None
  if eval_split:
    eval_files = dataset.shard_files(data_dir, eval_split)
    eval_fn = lambda: {"miou": quick.quick_per_frame_miou(task.twnet, eval_files, preset.eval_gops)}
  loop_config = loop.LoopConfig(cfg.steps, preset.checkpoint_every, preset.eval_every, progress, "stage 1",
                                best_weights=os.path.join(directory, model_dir_lib.STAGE1_BEST) if eval_fn else None)
  runner = loop.Loop(strategy, directory, _distributed_step(strategy, task.train_step, xla, unpack=True),
                     task.checkpoint_items(), loop_config, eval_fn, task.model)
  history = runner.run(make_dataset)
  model_dir_lib.save_weights(task.model, os.path.join(distribute.write_dir(directory, strategy),
                                                      model_dir_lib.STAGE1_WEIGHTS))
  distribute.barrier(strategy)  # stage 2 on every worker reads the chief's weights file
  return history, task.twnet


def train_stage2(variant_name: str, preset: config_lib.Preset, data_dir: str, model_dir: str,
                 strategy: Optional[tf.distribute.Strategy] = None, seed: int = 0, xla: bool = False,
                 progress: bool = True, cache: Optional[bool] = None, steps: Optional[int] = None,
                 consistency_weight: Optional[float] = None, split: str = "train",
                 eval_split: Optional[str] = "val", flow: str = "codec", flow_root: Optional[str] = None):
  """Trains (or resumes) one non-key-frame variant on top of the frozen stage-1 model.

  Writes `stage2/{variant}/nkfc.weights.h5` and the motion it was trained on (`flow`, see
  `flow_sources`: the codec's vectors, DIS, or the benchmark's exact flow under `flow_root`;
  `model_dir.stage2_flow`). Variants with nothing to train (warp only, DFF-style warping) are
  saved as built. Returns (history, the variant's TWNet).
  """
  strategy = strategy or tf.distribute.get_strategy()
  variant = config_lib.VARIANTS[variant_name]
  cfg = preset.stage2
  if steps is not None:
    cfg = dataclasses.replace(cfg, steps=steps)
  if consistency_weight is not None:
    cfg = dataclasses.replace(cfg, consistency_weight=consistency_weight)
  cache = inputs.should_cache(data_dir, split, inputs.STAGE2_CACHE_MIB, cache)
  loop.set_seed(seed)
  model_config = model_dir_lib.load_model_config(model_dir)
  if not model_config.deep_context:
    raise ValueError(f"{model_dir}: a no-context model (deep_context=false) has no stage 2")
  directory = model_dir_lib.stage2_dir(model_dir, variant_name)
  weights_path = os.path.join(distribute.write_dir(directory, strategy), model_dir_lib.STAGE2_WEIGHTS)
  with strategy.scope():
    base = model_dir_lib.load(model_dir, "per_frame")
  dataset_info.check_same_classes(base.dataset, f"the model directory {model_dir}",
                                  dataset.dataset_info_of(data_dir), f"the records in {data_dir}")
  cell = dataset.motion_cell(dataset.shard_files(data_dir, split)) if flow == "codec" else 1
  with strategy.scope():
    task = NonKeyFrameTask(base, variant, cfg, strategy.num_replicas_in_sync, cell)
  model_dir_lib.save_stage2_flow(model_dir, variant_name, flow)  # refuses resuming on another motion
  if not task.variables:
    os.makedirs(directory, exist_ok=True)
    model_dir_lib.save_weights(task.nkfc, weights_path)
    return {"steps": 0, "note": f"{variant_name} has nothing to train"}, task.twnet
  make_dataset = lambda start: strategy.distribute_datasets_from_function(
      lambda ctx: inputs.stage2_dataset(data_dir, split, cfg, seed, cache, ctx, inputs.resume_skip(start, cache),
                                        flow, flow_root))
  eval_fn = None
  if eval_split:
    eval_files = dataset.shard_files(data_dir, eval_split)
    eval_fn = lambda: {"miou_d": quick.quick_nkfc_miou(task.twnet, eval_files, cfg.clip_length - 1, flow=flow,
                                                       flow_root=flow_root)}
  loop_config = loop.LoopConfig(cfg.steps, preset.checkpoint_every, preset.eval_every, progress,
                                f"stage 2 {variant_name}")
  runner = loop.Loop(strategy, directory, _distributed_step(strategy, task.train_step, xla, unpack=False),
                     task.checkpoint_items(), loop_config, eval_fn, task.nkfc)
  history = runner.run(make_dataset)
  model_dir_lib.save_weights(task.nkfc, weights_path)
  distribute.barrier(strategy)
  return history, task.twnet

"""Two-stage training with a custom loop (paper 4.4.3 and 5.1), under any tf.distribute strategy.

Stage 1 trains the per-frame CNN on labelled frames: Adam (the encoder at a 10x smaller
rate when it starts from ImageNet weights), polynomial decay, L2 weight decay, softmax
cross-entropy ignoring 255, scale/flip/crop augmentation.

Stage 2 freezes the per-frame CNN and trains one non-key-frame variant on clips: the key
frame goes through the per-frame CNN; its Layer-k features are warped and corrected
through the following P-frames; each step adds cross-entropy (where labelled) plus
`lambda * L2(corrected context, per-frame context of that frame)`.

Both stages: `tf.GradientTape` inside `tf.function` (optional XLA, optional bfloat16 mixed
precision), `tf.train.CheckpointManager` checkpoints of model, optimizer(s) and step (a
killed job resumes where it stopped), TensorBoard scalars, a progress bar on a terminal,
periodic evaluation, and seeds. The same loop runs under the default strategy,
MirroredStrategy, or MultiWorkerMirroredStrategy (TF_CONFIG); the input pipeline is built
per worker by `distribute_datasets_from_function`, each reading its own shards.

Layout of `model_dir`::

  model_config.json                 the ModelConfig (read back by evaluation and export)
  stage1/ckpt-N, stage1/per_frame.weights.h5, stage1/train/ (TensorBoard)
  stage2/{variant}/ckpt-N, stage2/{variant}/nkfc.weights.h5, stage2/{variant}/train/
"""

import dataclasses
import glob
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Dict, Optional

import keras
import tensorflow as tf
import tqdm

from tw_keras import augment, cli, common, dataset, evaluation, fileio, losses, models
from tw_keras import config as config_lib

STAGE1_WEIGHTS = "per_frame.weights.h5"
STAGE2_WEIGHTS = "nkfc.weights.h5"
MODEL_CONFIG = "model_config.json"


# ---------------------------------------------------------------------------- helpers

def set_seed(seed: int):
  keras.utils.set_random_seed(seed)  # Python, NumPy and TF


def set_mixed_precision(mode: Optional[str]):
  """None/"none" -> float32; "bfloat16" -> mixed_bfloat16 (no loss scaling needed)."""
  keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if mode == "bfloat16" else "float32")


def save_model_config(model_dir: str, config: config_lib.ModelConfig):
  """Writes `model_config.json`; refuses (before writing anything) a directory that already
  holds a model of another configuration."""
  path = os.path.join(model_dir, MODEL_CONFIG)
  if os.path.exists(path):
    old = load_model_config(model_dir)
    if old != config:
      diff = ", ".join(f"{k}={getattr(old, k)!r} (asked {getattr(config, k)!r})"
                       for k in dataclasses.asdict(config) if getattr(old, k) != getattr(config, k))
      raise ValueError(f"{path}: this model directory holds a model of another configuration ({diff}); "
                       "use a new --model_dir")
    return
  os.makedirs(model_dir, exist_ok=True)
  fileio.write_json(path, dataclasses.asdict(config))


def load_model_config(model_dir: str) -> config_lib.ModelConfig:
  path = os.path.join(model_dir, MODEL_CONFIG)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no model config (is {model_dir} a tw_keras model directory?)")
  try:
    with open(path) as f:
      return config_lib.ModelConfig(**json.load(f))
  except (ValueError, TypeError) as e:
    raise ValueError(f"{path}: not a valid model config ({e})") from None


def save_weights(model, path: str):
  """`model.save_weights` through a temporary file: a kill never leaves a broken .h5."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with fileio.atomic_path(path) as tmp:
    model.save_weights(tmp)


def load_weights(model, path: str):
  """`model.load_weights`, with an error that names the file."""
  try:
    model.load_weights(path)
  except (OSError, ValueError) as e:
    raise ValueError(f"{path}: unreadable weights file ({str(e).splitlines()[0][:120]})") from None


def _is_chief(strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                           and "chief" not in resolver.cluster_spec().as_dict())


def _write_dir(directory: str, strategy) -> str:
  """Chief writes to `directory`; other workers to a scratch directory (the MWMS pattern:
  every worker must take part in saving, only the chief's copy is kept)."""
  if _is_chief(strategy):
    return directory
  return os.path.join(tempfile.gettempdir(), "tw_keras_worker", str(strategy.cluster_resolver.task_id),
                      os.path.basename(os.path.normpath(directory)))


def barrier(strategy):
  """Blocks until every worker gets here (an all-reduce); e.g. after the chief wrote a file
  that the others read next. A no-op for single-worker strategies."""
  if getattr(strategy, "cluster_resolver", None) is None or strategy.extended._num_workers <= 1:  # pylint: disable=protected-access
    return
  strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)


def _resume_skip(start_step: int, cache: bool) -> int:
  """Batches to skip on resume so the input order continues exactly where it stopped.

  Only for in-memory (cached) data, where skipping costs little; a large on-disk dataset
  would have to decode every skipped example, so it restarts its (seeded) order instead.
  """
  if start_step and not cache:
    print(f"resuming at step {start_step}: the input pipeline restarts its seeded order "
          "(data not cached in memory)", flush=True)
  return start_step if cache else 0


def _fits_in_memory(data_dir: str, split: str, limit_mib: int) -> bool:
  """Whether to cache the decoded split in memory: its shards total under `limit_mib` MiB."""
  return sum(os.path.getsize(f) for f in dataset.shard_files(data_dir, split)) < limit_mib * 2 ** 20


def _poly(lr, steps, power):
  return keras.optimizers.schedules.PolynomialDecay(lr, max(steps, 1), end_learning_rate=0.0, power=power)


def _stateless_seeds(ds, seed):
  """(index, element) -> (seed [2], element): a per-example stateless seed."""
  return ds.enumerate().map(lambda i, x: (tf.stack([tf.constant(seed, tf.int64), i]), x))


# ---------------------------------------------------------------------------- input pipelines

def stage1_dataset(data_dir: str, split: str, cfg: config_lib.Stage1Config, seed: int, cache: bool,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   skip_batches: int = 0) -> tf.data.Dataset:
  """Batches of (images [b, h, w, 3] float32 0..255, labels [b, h, w] int32) for one replica.

  `skip_batches` drops that many batches before augmentation (a resumed run continues the
  exact example order and augmentation seeds of the interrupted one).
  """
  files = dataset.shard_files(data_dir, split)
  batch = input_context.get_per_replica_batch_size(cfg.batch_size) if input_context else cfg.batch_size
  ds = dataset.gop_dataset(files, input_context, shuffle_files=not cache, seed=seed, with_motion=False)
  ds = ds.flat_map(lambda g: tf.data.Dataset.from_tensor_slices(
      (g[common.CLIP_IMAGES], g[common.CLIP_LABELS], g[common.CLIP_HAS_LABEL])))
  def labelled(image, label, has_label):
    del image, label
    return has_label

  def drop_flag(image, label, has_label):
    del has_label
    return image, label

  ds = ds.filter(labelled).map(drop_flag)
  if cache:
    ds = ds.cache()
  ds = ds.shuffle(512, seed=seed).repeat()
  ds = _stateless_seeds(ds, seed).skip(skip_batches * batch).map(
      lambda s, x: augment.scale_flip_crop(x[0], x[1], s, cfg.crop, cfg.scale_range, cfg.flip),
      num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch, drop_remainder=True).prefetch(2)


def stage2_dataset(data_dir: str, split: str, cfg: config_lib.Stage2Config, seed: int, cache: bool,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   skip_batches: int = 0) -> tf.data.Dataset:
  """Batches of clips (keys of `tw_keras.common`), [b, clip_length, h, w, ...], for one replica.

  `skip_batches` as in `stage1_dataset`.
  """
  files = dataset.shard_files(data_dir, split)
  batch = input_context.get_per_replica_batch_size(cfg.batch_size) if input_context else cfg.batch_size
  ds = dataset.gop_dataset(files, input_context, shuffle_files=not cache, seed=seed)
  keep = (common.CLIP_IMAGES, common.CLIP_MOTION, common.CLIP_RESIDUALS, common.CLIP_LABELS, common.CLIP_HAS_LABEL)
  ds = ds.map(lambda g: {k: g[k] for k in keep})
  if cfg.resize:
    ds = ds.map(lambda g: dataset.resize_clip(g, cfg.resize), num_parallel_calls=tf.data.AUTOTUNE)
  if cache:
    ds = ds.cache()
  ds = ds.shuffle(64, seed=seed).repeat()

  ds = _stateless_seeds(ds, seed).skip(skip_batches * batch).map(
      lambda s, g: dataset.sample_clip(g, cfg.clip_length, s),
                                      num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.filter(lambda c: tf.shape(c[common.CLIP_IMAGES])[0] == cfg.clip_length)
  return ds.batch(batch, drop_remainder=True).prefetch(2)


# ---------------------------------------------------------------------------- the loop

def sync_non_trainable(strategy, variables):
  """Averages non-trainable variables (BatchNorm moving statistics) over all replicas.

  Each replica updates its moving statistics from its own batch; before a checkpoint or
  export every worker must hold the same values.
  """
  variables = [v for v in variables if v.trainable is False]
  if not variables or strategy.num_replicas_in_sync == 1:
    return
  local = strategy.run(lambda: [tf.identity(v.value) for v in variables])
  for v, values in zip(variables, local):
    v.assign(strategy.reduce(tf.distribute.ReduceOp.MEAN, values, axis=None))


class _Loop:
  """Checkpointing, logging, progress and periodic evaluation around a distributed step."""

  def __init__(self, strategy, directory, step_fn, trackables, steps, checkpoint_every, eval_every,
               eval_fn, progress, desc, model=None):
    self.strategy, self.directory, self.steps = strategy, directory, steps
    self.step_fn, self.eval_fn, self.eval_every = step_fn, eval_fn, eval_every
    self.checkpoint_every, self.progress, self.desc = checkpoint_every, progress, desc
    self.model = model
    self.chief = _is_chief(strategy)
    with strategy.scope():
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    # Every model variable is also tracked explicitly, by position: Keras 3 layers held in
    # Python containers are invisible to tf.train.Checkpoint's object graph.
    extra = {"all_weights": list(model.weights)} if model is not None else {}
    self.ckpt = tf.train.Checkpoint(step=self.step, **trackables, **extra)
    write_dir = _write_dir(directory, strategy)
    if write_dir != directory:  # a non-chief's scratch copy: never restored from
      shutil.rmtree(write_dir, ignore_errors=True)
    # A checkpoint write killed part-way leaves `ckpt-N_temp/`; the index never names it.
    for leftover in glob.glob(os.path.join(glob.escape(write_dir), "*_temp*")):
      shutil.rmtree(leftover, ignore_errors=True) if os.path.isdir(leftover) else os.remove(leftover)
    self.manager = tf.train.CheckpointManager(self.ckpt, write_dir, max_to_keep=3)
    self.writer = tf.summary.create_file_writer(os.path.join(directory, "train")) if self.chief \
        else tf.summary.create_noop_writer()

  def restore(self) -> int:
    latest = tf.train.latest_checkpoint(self.directory)  # the chief's, also on other workers
    if latest:
      self.ckpt.restore(latest).assert_existing_objects_matched()
    return int(self.step.numpy())

  def save(self):
    if self.model is not None:
      sync_non_trainable(self.strategy, self.model.non_trainable_weights)
    self.manager.save(checkpoint_number=int(self.step.numpy()))

  def run(self, make_dataset) -> Dict[str, float]:
    """Restores the latest checkpoint, then trains to `steps` on `make_dataset(start_step)`.

    SIGINT (Ctrl-C) or SIGTERM during training: the current step finishes, a checkpoint is
    saved, and `cli.Interrupted` is raised (the entry point prints one line, exits 130).
    """
    stop = []
    handlers = {}
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        handlers[sig] = signal.signal(sig, lambda signum, frame: stop.append(signum))
    try:
      return self._run(make_dataset, stop)
    finally:
      for sig, handler in handlers.items():
        signal.signal(sig, handler)

  def _run(self, make_dataset, stop) -> Dict[str, float]:
    start_step = self.restore()
    iterator = iter(make_dataset(start_step))
    history = {"start_step": start_step, "losses": []}
    show = self.progress and self.chief and sys.stderr.isatty()
    bar = tqdm.tqdm(total=self.steps, initial=start_step, desc=self.desc, disable=not show)
    t0 = time.time()
    metrics = {}
    while int(self.step.numpy()) < self.steps:
      per_replica = self.step_fn(iterator)
      # Reduced eagerly, after the step: a scalar all-reduce inside the step function could
      # be ordered differently from the gradient all-reduce on different workers.
      metrics = {k: float(self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None))
                 for k, v in per_replica.items()}
      self.step.assign_add(1)
      step = int(self.step.numpy())
      history["losses"].append(metrics["loss"])
      with self.writer.as_default(step=step):
        for k, v in metrics.items():
          tf.summary.scalar(k, v)
      bar.update(1)
      bar.set_postfix(loss=f"{metrics['loss']:.3f}")
      if step % self.checkpoint_every == 0 or step == self.steps or stop:
        self.save()
      if stop:
        bar.close()
        self.writer.flush()
        raise cli.Interrupted(f"{self.directory}: stopped at step {step} of {self.steps}; checkpoint "
                              "saved, rerun the same command to resume")
      if self.eval_fn and self.eval_every and (step % self.eval_every == 0 or step == self.steps):
        scores = self.eval_fn()
        with self.writer.as_default(step=step):
          for k, v in scores.items():
            tf.summary.scalar(f"eval/{k}", v)
        history.setdefault("eval", []).append({"step": step, **scores})
        if not show and self.chief:
          print(f"{self.desc} step {step}: " + ", ".join(f"{k}={v:.2f}" for k, v in scores.items()), flush=True)
      elif not show and self.chief and (step % max(1, self.steps // 10) == 0):
        print(f"{self.desc} step {step}/{self.steps} loss {metrics['loss']:.4f}", flush=True)
    bar.close()
    self.writer.flush()
    history["seconds"] = time.time() - t0
    history["final_step"] = int(self.step.numpy())
    history["final"] = metrics
    return history


def apply_gradients(updates):
  """Applies (optimizer, gradients, variables) updates in replica context, in order."""
  for opt, grads, variables in updates:
    if variables:
      opt.apply_gradients(zip(grads, variables))


# ---------------------------------------------------------------------------- stage 1

def train_stage1(model_config: config_lib.ModelConfig, preset: config_lib.Preset, data_dir: str,
                 model_dir: str, strategy: Optional[tf.distribute.Strategy] = None, seed: int = 0,
                 xla: bool = False, progress: bool = True, cache: Optional[bool] = None,
                 steps: Optional[int] = None, split: str = "train", eval_split: Optional[str] = "val"):
  """Trains (or resumes) the per-frame CNN; writes `stage1/per_frame.weights.h5`. Returns history."""
  strategy = strategy or tf.distribute.get_strategy()
  cfg = preset.stage1 if steps is None else dataclasses.replace(preset.stage1, steps=steps)
  cache = _fits_in_memory(data_dir, split, 512) if cache is None else cache
  set_seed(seed)
  directory = os.path.join(model_dir, "stage1")
  if _is_chief(strategy):
    save_model_config(model_dir, model_config)
  replicas = strategy.num_replicas_in_sync
  with strategy.scope():
    model = models.build_per_frame(model_config)
    encoder_vars = {id(v) for v in models.encoder_of(model).trainable_weights}
    enc = [v for v in model.trainable_weights if id(v) in encoder_vars]
    dec = [v for v in model.trainable_weights if id(v) not in encoder_vars]
    mult = cfg.encoder_lr_multiplier if model_config.imagenet_weights else 1.0
    opt_dec = keras.optimizers.Adam(_poly(cfg.learning_rate, cfg.steps, cfg.power))
    opt_enc = keras.optimizers.Adam(_poly(cfg.learning_rate * mult, cfg.steps, cfg.power))
    opt_dec.build(dec)
    opt_enc.build(enc)
  make_dataset = lambda start: strategy.distribute_datasets_from_function(
      lambda ctx: stage1_dataset(data_dir, split, cfg, seed, cache, ctx, _resume_skip(start, cache)))

  def replica_step(images, gt):
    with tf.GradientTape() as tape:
      logits = model(images, training=True)["logits"]
      ce = losses.masked_cross_entropy(gt, logits)
      loss = ce + losses.weight_decay_loss(model.trainable_weights, cfg.weight_decay)
      scaled = loss / replicas
    grads = tape.gradient(scaled, dec + enc)
    apply_gradients([(opt_dec, grads[:len(dec)], dec), (opt_enc, grads[len(dec):], enc)])
    return {"loss": loss, "cross_entropy": ce}

  @tf.function(jit_compile=xla)
  def compiled_replica_step(images, gt):
    return replica_step(images, gt)

  @tf.function
  def step_fn(iterator):
    images, gt = next(iterator)
    return strategy.run(compiled_replica_step if xla else replica_step, args=(images, gt))

  eval_fn = None
  if eval_split:
    eval_files = dataset.shard_files(data_dir, eval_split)
    eval_fn = lambda: {"miou": evaluation.quick_per_frame_miou(model, eval_files)}
  loop = _Loop(strategy, directory, step_fn,
               {"model": model, "optimizer_decoder": opt_dec, "optimizer_encoder": opt_enc},
               cfg.steps, preset.checkpoint_every, preset.eval_every, eval_fn, progress, "stage 1", model)
  history = loop.run(make_dataset)
  save_weights(model, os.path.join(_write_dir(directory, strategy), STAGE1_WEIGHTS))
  barrier(strategy)  # stage 2 on every worker reads the chief's weights file
  return history, model


# ---------------------------------------------------------------------------- stage 2

def load_per_frame(model_dir: str, model_config: Optional[config_lib.ModelConfig] = None):
  model_config = model_config or load_model_config(model_dir)
  path = os.path.join(model_dir, "stage1", STAGE1_WEIGHTS)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no stage-1 weights (train stage 1 first)")
  per_frame = models.build_per_frame(dataclasses.replace(model_config, imagenet_weights=None))
  load_weights(per_frame, path)
  return per_frame


def train_stage2(variant_name: str, preset: config_lib.Preset, data_dir: str, model_dir: str,
                 strategy: Optional[tf.distribute.Strategy] = None, seed: int = 0, xla: bool = False,
                 progress: bool = True, cache: Optional[bool] = None, steps: Optional[int] = None,
                 consistency_weight: Optional[float] = None, split: str = "train",
                 eval_split: Optional[str] = "val"):
  """Trains (or resumes) one non-key-frame variant on top of the frozen stage-1 model.

  Writes `stage2/{variant}/nkfc.weights.h5`. Variants with nothing to train (warp only,
  DFF-style warping) are saved as built. Returns (history, per_frame, nkfc).
  """
  strategy = strategy or tf.distribute.get_strategy()
  variant = config_lib.VARIANTS[variant_name]
  cfg = preset.stage2
  if steps is not None:
    cfg = dataclasses.replace(cfg, steps=steps)
  if consistency_weight is not None:
    cfg = dataclasses.replace(cfg, consistency_weight=consistency_weight)
  # Decoded clips (float motion and residuals) are ~10x the size of their records.
  cache = _fits_in_memory(data_dir, split, 128) if cache is None else cache
  set_seed(seed)
  model_config = load_model_config(model_dir)
  if not model_config.deep_context:
    raise ValueError(f"{model_dir}: a no-context model (deep_context=false) has no stage 2")
  directory = os.path.join(model_dir, "stage2", variant_name)
  replicas = strategy.num_replicas_in_sync
  layer = "scores" if variant.kind == "warp_scores" else f"layer{variant.warp_layer}"
  with strategy.scope():
    per_frame = load_per_frame(model_dir, model_config)
    nkfc = models.build_non_key_frame(per_frame, model_config, variant)
    per_frame.trainable = False
    variables = nkfc.trainable_weights if variant.trainable else []
    opt = keras.optimizers.Adam(_poly(cfg.learning_rate, cfg.steps, cfg.power))
    opt.build(variables)
  if not variables:
    os.makedirs(directory, exist_ok=True)
    save_weights(nkfc, os.path.join(_write_dir(directory, strategy), STAGE2_WEIGHTS))
    return {"steps": 0, "note": f"{variant_name} has nothing to train"}, per_frame, nkfc
  make_dataset = lambda start: strategy.distribute_datasets_from_function(
      lambda ctx: stage2_dataset(data_dir, split, cfg, seed, cache, ctx, _resume_skip(start, cache)))
  length = cfg.clip_length

  def replica_step(clip):
    images = tf.cast(clip[common.CLIP_IMAGES], tf.float32)
    shape = tf.shape(images)
    flat = tf.reshape(images, tf.concat([[-1], shape[2:]], 0))
    targets = per_frame(flat, training=False)[layer]  # per-frame context of every frame
    targets = tf.reshape(targets, tf.concat([shape[:2], tf.shape(targets)[1:]], 0))
    with tf.GradientTape() as tape:
      context = targets[:, 0]
      ce_sum, cons_sum = 0.0, 0.0
      for t in range(1, length):  # unrolled: key frame, then the chained P-frames
        out = nkfc([images[:, t], context, clip[common.CLIP_MOTION][:, t], clip[common.CLIP_RESIDUALS][:, t]],
                   training=True)
        ce_sum += losses.masked_cross_entropy(clip[common.CLIP_LABELS][:, t], out["logits"])
        cons_sum += losses.consistency_loss(out["context"], targets[:, t])
        context = out["context"]
      ce, cons = ce_sum / (length - 1), cons_sum / (length - 1)
      loss = ce + cfg.consistency_weight * cons + losses.weight_decay_loss(variables, cfg.weight_decay)
      scaled = loss / replicas
    apply_gradients([(opt, tape.gradient(scaled, variables), variables)])
    return {"loss": loss, "cross_entropy": ce, "consistency": cons}

  @tf.function(jit_compile=xla)
  def compiled_replica_step(clip):
    return replica_step(clip)

  @tf.function
  def step_fn(iterator):
    return strategy.run(compiled_replica_step if xla else replica_step, args=(next(iterator),))

  eval_fn = None
  if eval_split:
    eval_files = dataset.shard_files(data_dir, eval_split)
    eval_fn = lambda: {"miou_d": evaluation.quick_nkfc_miou(per_frame, nkfc, variant, eval_files,
                                                            distance=length - 1, resize=cfg.resize)}
  loop = _Loop(strategy, directory, step_fn, {"model": nkfc, "optimizer": opt}, cfg.steps,
               preset.checkpoint_every, preset.eval_every, eval_fn, progress, f"stage 2 {variant_name}", nkfc)
  history = loop.run(make_dataset)
  save_weights(nkfc, os.path.join(_write_dir(directory, strategy), STAGE2_WEIGHTS))
  barrier(strategy)
  return history, per_frame, nkfc


def load_trained(model_dir: str, variant_names, strict: bool = True):
  """(model_config, per_frame, {name: nkfc or None}) with trained weights from `model_dir`.

  Variants without stage-2 weights raise FileNotFoundError when `strict`, else are built
  from the per-frame weights (warp only) and reported as untrained.
  """
  model_config = load_model_config(model_dir)
  per_frame = load_per_frame(model_dir, model_config)
  out = {}
  for name in variant_names:
    variant = config_lib.VARIANTS[name]
    if variant.kind == "per_frame":
      out[name] = None
      continue
    nkfc = models.build_non_key_frame(per_frame, model_config, variant)
    path = os.path.join(model_dir, "stage2", name, STAGE2_WEIGHTS)
    if os.path.exists(path):
      load_weights(nkfc, path)
    elif strict and variant.trainable:
      raise FileNotFoundError(f"{path}: no stage-2 weights for {name} (train it first)")
    out[name] = nkfc
  return model_config, per_frame, out

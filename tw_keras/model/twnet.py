"""TWNet, the one model object: the per-frame CNN and (for a non-key-frame variant) its
non-key-frame model, the variant and the configuration they were built from, and the
inference steps -- the key-frame step, the non-key-frame step, and which per-frame output is
the context that one hands to the other.

`build(config, variant, dataset)` is the one function that makes a TWNet from a `ModelConfig`,
a `Variant` (or its name) and a dataset descriptor (`tw_keras.dataset_info`: the classes,
whose count sets the logits' channels K); `model_dir.load` makes one from a model directory. Several TWNets
may share one per-frame CNN (`TWNet.with_variant`): evaluation scores {name: TWNet} of one
model directory, stage 2 trains `with_variant(v)` of the frozen stage-1 model. Training
(stage 2's unrolled chain), evaluation (`distance_protocol.chain_predictions`), the streaming runner
and the SavedModel export all call these steps, so a change to either lands once.

Shapes (batch B, padded size H x W, a multiple of `models.INPUT_MULTIPLE`; stride s of the
variant's context, C its channels, K classes):

  key_frame(image [B, H, W, 3] float32 0..255)
      -> {"logits": [B, H, W, K] float32, "scores": [B, H/4, W/4, K], "context": [B, H/s, W/s, C]}
  non_key_frame(image [B, H, W, 3], context [B, H/s, W/s, C], motion [B, H, W, 2] px,
                residual [B, H, W, 3])
      -> the same (the dense step: what the Keras NKFC takes)

ONE input contract: every caller gives the non-key-frame step the codec's compact inputs --
the frame, its reference frame (the previous decoded frame) and the int16 block motion grid
-- and the dense motion and residual are expanded once, inside the model
(`codec_inputs`, i.e. `compensation.dense_inputs`):

  non_key_frame_from_codec(image [B, H, W, 3] uint8, reference [B, H, W, 3] uint8,
                           context [B, H/s, W/s, C], motion_grid [B, h', w', 2] int16, cell)
      -> the same (training's unrolled chain and evaluation; H, W multiples of 32)

The state between frames is the context (and the previous frame); callers hold it.

Streaming and serving take the same compact inputs at any frame size, and return labels as
well (padding, residual, crop and argmax all in the graph, on the network's device):

  segment_key_frame(image [B, H, W, 3] uint8)
      -> {"logits": [B, H, W, K], "labels": [B, H, W] int32, "context": [B, h, w, C]}
         (with_logits=False: no logits, and the labels come from the stride-4 scores by
         `resize.bilinear_argmax`, the same labels without the full-resolution scores)
  segment_non_key_frame(image [B, H, W, 3] uint8, previous [B, H, W, 3] uint8,
                        context [B, h, w, C], motion_grid [B, ceil(Hc/8), ceil(Wc/8), 2] int16)
      -> the same

`motion_grid` is the codec's block grid as decoded (`codec.CompressedFrame.motion_grid`,
quarter pixels, dst - src, Hc x Wc the 16-padded coded size); `previous` is the previous
decoded frame. The dense motion and the residual (docs/CONVENTIONS.md) are computed from them
in the graph (`video.compensation`), so the state between frames is (context, previous frame).

Compiled steps (`compiled`, `compiled_streaming`, `compiled_per_frame`) are built once per
TWNet (per-frame forward: once per per-frame CNN) and reused, so repeated evaluations trace
each input signature once.
"""

import dataclasses
import functools
from typing import Dict, Optional, Sequence

import tensorflow as tf

from tw_keras import config as config_lib, dataset_info
from tw_keras.model import folding, models, resize, warp
from tw_keras.model import nkfc as nkfc_lib
from tw_keras.model import per_frame as per_frame_lib
from tw_keras.video import codec, compensation


def weights_by_path(model) -> Dict[str, object]:
  """{variable path: variable} of every weight of `model`; paths must be unique."""
  out = {}
  for v in model.weights:
    if v.path in out and out[v.path] is not v:
      raise ValueError(f"{model.name}: two weights share the path {v.path!r}; checkpoints name weights by path")
    out[v.path] = v
  return out


def pad_to_input(x):
  """Edge-pads [B, H, W, C] on the bottom and right to multiples of `models.INPUT_MULTIPLE`."""
  return warp.pad_to_multiple(x, models.INPUT_MULTIPLE)


class _Shared:
  """What TWNets built on one per-frame CNN share: the model and its compiled forward."""

  def __init__(self, per_frame):
    self.per_frame = per_frame
    self.forward = None


class TWNet:
  """The model (module doc). Make it with `build` or `model_dir.load`, not directly.

  Attributes:
    config: the `ModelConfig` both networks were built from.
    variant: its `config.Variant` (`config.VARIANTS["per_frame"]` for the per-frame CNN alone).
    per_frame: the per-frame (key-frame) CNN.
    nkfc: the non-key-frame model, None for the per-frame variant.
    dataset: the `dataset_info.DatasetInfo` of its classes (config.num_classes of them).
  """

  def __init__(self, config: config_lib.ModelConfig, variant: config_lib.Variant, per_frame, nkfc=None,
               dataset: Optional[dataset_info.DatasetInfo] = None, _shared: Optional[_Shared] = None):
    if (nkfc is None) != variant.is_per_frame:
      raise ValueError(f"TWNet {variant.name}: a non-key-frame model goes with a non-per-frame variant")
    dataset = dataset or dataset_info.default_for(config.num_classes)
    if dataset.num_classes != config.num_classes:
      raise ValueError(f"TWNet: the dataset {dataset.describe()} does not fit a model of "
                       f"{config.num_classes} classes")
    self.config, self.variant, self.nkfc, self.dataset = config, variant, nkfc, dataset
    self._shared = _shared if _shared is not None else _Shared(per_frame)
    if self._shared.per_frame is not per_frame:
      raise ValueError("TWNet: _shared belongs to another per-frame CNN")
    self._compiled = {}

  @property
  def per_frame(self):
    return self._shared.per_frame

  @property
  def name(self) -> str:
    return self.variant.name

  @property
  def has_non_key_frames(self) -> bool:
    return self.nkfc is not None

  def with_variant(self, variant) -> "TWNet":
    """A TWNet of `variant` (a Variant or its name) on this one's per-frame CNN (shared, not
    copied), with a new non-key-frame model whose tail starts from the per-frame weights."""
    variant = config_lib.VARIANTS[variant] if isinstance(variant, str) else variant
    if variant == self.variant:
      return self
    nkfc = None if variant.is_per_frame else nkfc_lib.build_non_key_frame(self.per_frame, self.config, variant)
    return TWNet(self.config, variant, self.per_frame, nkfc, self.dataset, self._shared)

  def checkpoint_items(self, networks: Sequence[str] = ("per_frame", "nkfc")) -> Dict[str, Dict[str, object]]:
    """What a training checkpoint holds of this model, THE keys every stage saves under:
    {"per_frame" | "nkfc": {weight path: variable}} for each of `networks` it has (stage 1
    saves the per-frame CNN, stage 2 the non-key-frame model; the frozen CNN is not repeated).
    Weights are named by their unique paths: Keras 3 layers held in Python containers are
    invisible to tf.train.Checkpoint's object graph."""
    nets = {"per_frame": self.per_frame, "nkfc": self.nkfc}
    return {name: weights_by_path(nets[name]) for name in networks if nets[name] is not None}

  def folded(self) -> "TWNet":
    """An inference copy with every batch norm folded into its convolution (`model.folding`):
    the same outputs to float32 rounding, two passes fewer over each activation.
    Fold after loading weights; not for training."""
    fold = folding.fold_batch_norms
    return TWNet(self.config, self.variant, fold(self.per_frame), fold(self.nkfc) if self.nkfc is not None else None,
                 self.dataset)

  def context_of(self, per_frame_outputs: Dict[str, tf.Tensor]) -> Optional[tf.Tensor]:
    """The per-frame CNN output that this variant carries to the next frame."""
    return per_frame_outputs[self.variant.context_output] if self.nkfc is not None else None

  def key_frame(self, image, training: bool = False) -> Dict[str, tf.Tensor]:
    out = self.per_frame(image, training=training)
    return {models.PRED_LOGITS: out[models.PRED_LOGITS], models.PRED_SCORES: out[models.PRED_SCORES], models.PRED_CONTEXT: self.context_of(out)}

  def non_key_frame(self, image, context, motion, residual, training: bool = False) -> Dict[str, tf.Tensor]:
    out = self.nkfc([image, context, motion, residual], training=training)
    return {models.PRED_LOGITS: out[models.PRED_LOGITS], models.PRED_SCORES: out[models.PRED_SCORES], models.PRED_CONTEXT: out[models.PRED_CONTEXT]}

  def codec_inputs(self, image, reference, motion_grid, cell: int = codec.MV_CELL):
    """(motion [B, H, W, 2] px, residual [B, H, W, 3]) from the compact inputs, in the graph
    (`compensation.dense_inputs`; a zero residual for variants without RGA, which ignore it)."""
    return compensation.dense_inputs(image, reference, motion_grid, cell, with_residual=self.variant.rga)

  def non_key_frame_from_codec(self, image, reference, context, motion_grid, cell: int = codec.MV_CELL,
                               training: bool = False) -> Dict[str, tf.Tensor]:
    """THE non-key-frame step on the codec's compact inputs, as training and evaluation run it.

    image [B, H, W, 3] uint8 (H, W multiples of `models.INPUT_MULTIPLE`), reference [B, H, W, 3]
    uint8 (the previous decoded frame; the I-frame for "accumulate" records), context,
    motion_grid [B, h', w', 2] int16 of `cell`-pixel cells -> the outputs of `non_key_frame`.
    """
    motion, residual = self.codec_inputs(image, reference, motion_grid, cell)
    return self.non_key_frame(tf.cast(image, tf.float32), context, motion, residual, training=training)

  @staticmethod
  def _cropped(image, out, with_logits):
    h, w = tf.shape(image)[1], tf.shape(image)[2]
    if not with_logits:  # the full-resolution logits are never built (the upsample is pruned)
      labels = resize.bilinear_argmax(out[models.PRED_SCORES], models.SCORES_STRIDE)
      return {models.PRED_LABELS: labels[:, :h, :w], models.PRED_CONTEXT: out[models.PRED_CONTEXT]}
    logits = out[models.PRED_LOGITS][:, :h, :w]
    return {models.PRED_LOGITS: logits, models.PRED_LABELS: tf.argmax(logits, -1, output_type=tf.int32), models.PRED_CONTEXT: out[models.PRED_CONTEXT]}

  def segment_key_frame(self, image, with_logits: bool = True) -> Dict[str, tf.Tensor]:
    return self._cropped(image, self.key_frame(pad_to_input(tf.cast(image, tf.float32))), with_logits)

  def segment_non_key_frame(self, image, previous, context, motion_grid, with_logits: bool = True,
                            cell: int = codec.MV_CELL) -> Dict[str, tf.Tensor]:
    """`motion_grid` [B, h', w', 2] int16 of `cell`-pixel cells (the codec's 8x8 blocks, or 1:
    per-pixel motion such as optical flow). The dense motion and the residual are computed here,
    from `previous` (`codec_inputs`): the one route on every device."""
    motion, residual = self.codec_inputs(image, previous, motion_grid, cell)
    out = self.non_key_frame(pad_to_input(tf.cast(image, tf.float32)), context, pad_to_input(motion),
                             pad_to_input(residual))
    return self._cropped(image, out, with_logits)

  def _memo(self, key, make):
    if key not in self._compiled:
      self._compiled[key] = make()
    return self._compiled[key]

  def compiled_streaming(self, xla: bool = False, with_logits: bool = False, cell: int = codec.MV_CELL):
    """(segment_key_frame, segment_non_key_frame) as `tf.function`s (the second None without
    an nkfc, its motion grid of `cell`-pixel cells); any frame size, traced once per size. By
    default labels and context only."""
    def make():
      key = _compile(functools.partial(self.segment_key_frame, with_logits=with_logits), xla)
      non_key = None
      if self.nkfc is not None:
        non_key = _compile(functools.partial(_segment_non_key_frame, self, with_logits=with_logits, cell=cell), xla)
      return key, non_key
    return self._memo(("streaming", xla, with_logits, cell), make)

  def compiled_per_frame(self):
    """The per-frame CNN's forward (every output) as a `tf.function`, one per per-frame CNN:
    TWNets that share it share this too."""
    if self._shared.forward is None:
      self._shared.forward = _compile(functools.partial(self.per_frame, training=False))
    return self._shared.forward

  def compiled(self, xla: bool = False):
    """(key_frame, non_key_frame_from_codec) as `tf.function`s for inference (the second None
    without an nkfc); shapes may vary from call to call."""
    def make():
      key = _compile(self.key_frame, xla)
      non_key = _compile(self.non_key_frame_from_codec, xla) if self.nkfc is not None else None
      return key, non_key
    return self._memo(("inference", xla), make)


def _segment_non_key_frame(net, image, previous, context, grid, with_logits=True, cell=codec.MV_CELL):
  return net.segment_non_key_frame(image, previous, context, grid, with_logits, cell)


def _compile(fn, xla: bool = False):
  """`tf.function(fn)` with its own call statistics. TensorFlow counts the traces of every
  function with the same code object together (to catch `tf.function` re-created in a loop),
  so the one trace of each TWNet's step would add up to a false "retracing" warning; wrapped
  in a `functools.partial`, which has no code object of its own, it is counted alone."""
  return tf.function(functools.partial(fn), jit_compile=xla, reduce_retracing=True)


def build(config: config_lib.ModelConfig, variant="per_frame", per_frame=None,
          dataset: Optional[dataset_info.DatasetInfo] = None) -> TWNet:
  """THE way from configuration to model: a TWNet of `variant` (a `Variant` or its name),
  its per-frame CNN built from `config` (loading `config.imagenet_weights` if set) unless
  `per_frame` is given, and its non-key-frame model built on that per-frame CNN.

  `dataset` (a `DatasetInfo`) sets the class count (config.num_classes follows it); without
  one, the descriptor is `dataset_info.default_for(config.num_classes)`."""
  variant = config_lib.VARIANTS[variant] if isinstance(variant, str) else variant
  if dataset is not None and dataset.num_classes != config.num_classes:
    config = dataclasses.replace(config, num_classes=dataset.num_classes)
  per_frame = per_frame if per_frame is not None else per_frame_lib.build_per_frame(config)
  nkfc = None if variant.is_per_frame else nkfc_lib.build_non_key_frame(per_frame, config, variant)
  return TWNet(config, variant, per_frame, nkfc, dataset)


def build_all(config: config_lib.ModelConfig, variants: Sequence, per_frame=None,
              dataset: Optional[dataset_info.DatasetInfo] = None) -> Dict[str, TWNet]:
  """{name: TWNet} of several variants on one shared per-frame CNN (`build`)."""
  names = [v if isinstance(v, str) else v.name for v in variants]
  base = build(config, "per_frame", per_frame, dataset)
  return {name: base.with_variant(name) for name in names}

"""TWNet's inference step, in one place: the key-frame step, the non-key-frame step, and
which per-frame output is the context that one hands to the other.

Training (stage 2's unrolled chain), evaluation (`protocol.chain_predictions`), the
streaming runner and the SavedModel export all call these two steps, so a change to
either (compact inputs, a cheaper upsample) lands once.

Shapes (batch B, padded size H x W, a multiple of `models.INPUT_MULTIPLE`; stride s of the
variant's context, C its channels, K classes):

  key_frame(image [B, H, W, 3] float32 0..255)
      -> {"logits": [B, H, W, K] float32, "scores": [B, H/4, W/4, K], "context": [B, H/s, W/s, C]}
  non_key_frame(image [B, H, W, 3], context [B, H/s, W/s, C], motion [B, H, W, 2] px,
                residual [B, H, W, 3])
      -> the same

The state between frames is the context alone; callers hold it (a training clip).

Streaming and serving take the codec's compact inputs instead, at any frame size, and return
labels as well (padding, residual, crop and argmax all in the graph, on the network's device):

  segment_key_frame(image [B, H, W, 3] uint8)
      -> {"logits": [B, H, W, K], "labels": [B, H, W] int32, "context": [B, h, w, C]}
         (with_logits=False: no logits, and the labels come from the stride-4 scores by
         `resize.bilinear_argmax`, the same labels without the full-resolution scores)
  segment_non_key_frame(image [B, H, W, 3] uint8, previous [B, H, W, 3] uint8,
                        context [B, h, w, C], motion_grid [B, ceil(Hc/8), ceil(Wc/8), 2] int16)
      -> the same

`motion_grid` is the codec's block grid as decoded (`codec.CompressedFrame.motion_grid`,
quarter pixels, dst - src, Hc x Wc the 16-padded coded size); `previous` is the previous
decoded frame. The dense motion and the residual (REFERENCE.md) are computed from them in the
graph (`video.compensation`), so the state between frames is (context, previous frame).
"""

from typing import Dict, Optional

import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.model import folding, models, resize, warp
from tw_keras.video import codec, compensation


def pad_to_input(x):
  """Edge-pads [B, H, W, C] on the bottom and right to multiples of `models.INPUT_MULTIPLE`."""
  return warp.pad_to_multiple(x, models.INPUT_MULTIPLE)


class TWNet:
  """The per-frame CNN and (optionally) one non-key-frame model of `variant`.

  Without an nkfc (variant None or per_frame) only `key_frame` is available and its context
  is None.
  """

  def __init__(self, per_frame, nkfc=None, variant: Optional[config_lib.Variant] = None):
    if (nkfc is None) != (variant is None or variant.kind == "per_frame"):
      raise ValueError("TWNet: give a non-key-frame model together with its (non per-frame) variant")
    self.per_frame, self.nkfc, self.variant = per_frame, nkfc, variant

  def folded(self) -> "TWNet":
    """An inference copy with every batch norm folded into its convolution (`model.folding`):
    the same outputs to float32 rounding, two passes fewer over each activation.
    Fold after loading weights; not for training."""
    fold = folding.fold_batch_norms
    return TWNet(fold(self.per_frame), fold(self.nkfc) if self.nkfc is not None else None, self.variant)

  @property
  def has_non_key_frames(self) -> bool:
    return self.nkfc is not None

  def context_of(self, per_frame_outputs: Dict[str, tf.Tensor]) -> Optional[tf.Tensor]:
    """The per-frame CNN output that this variant carries to the next frame."""
    return per_frame_outputs[self.variant.context_output] if self.nkfc is not None else None

  def key_frame(self, image, training: bool = False) -> Dict[str, tf.Tensor]:
    out = self.per_frame(image, training=training)
    return {"logits": out["logits"], "scores": out["scores"], "context": self.context_of(out)}

  def non_key_frame(self, image, context, motion, residual, training: bool = False) -> Dict[str, tf.Tensor]:
    out = self.nkfc([image, context, motion, residual], training=training)
    return {"logits": out["logits"], "scores": out["scores"], "context": out["context"]}

  def codec_inputs(self, image, previous, motion_grid):
    """(motion [B, H, W, 2] px, residual [B, H, W, 3]) from the compact inputs, in the graph."""
    shape = tf.shape(image)
    motion = compensation.expand_motion(motion_grid, codec.MV_CELL, shape[1], shape[2])
    return motion, compensation.residual(image, previous, motion_grid, codec.MV_CELL)

  @staticmethod
  def _cropped(image, out, with_logits):
    h, w = tf.shape(image)[1], tf.shape(image)[2]
    if not with_logits:  # the full-resolution logits are never built (the upsample is pruned)
      labels = resize.bilinear_argmax(out["scores"], models.SCORES_STRIDE)
      return {"labels": labels[:, :h, :w], "context": out["context"]}
    logits = out["logits"][:, :h, :w]
    return {"logits": logits, "labels": tf.argmax(logits, -1, output_type=tf.int32), "context": out["context"]}

  def segment_key_frame(self, image, with_logits: bool = True) -> Dict[str, tf.Tensor]:
    return self._cropped(image, self.key_frame(pad_to_input(tf.cast(image, tf.float32))), with_logits)

  def segment_non_key_frame(self, image, previous, context, motion_grid, with_logits: bool = True,
                            residual=None) -> Dict[str, tf.Tensor]:
    """`residual` [B, H, W, 3]: the frame's residual when the caller already has it (computed on
    the host by the decoder); by default it is computed here from `previous`."""
    if residual is None:
      motion, residual = self.codec_inputs(image, previous, motion_grid)
    else:
      motion = compensation.expand_motion(motion_grid, codec.MV_CELL, tf.shape(image)[1], tf.shape(image)[2])
    out = self.non_key_frame(pad_to_input(tf.cast(image, tf.float32)), context, pad_to_input(motion),
                             pad_to_input(residual))
    return self._cropped(image, out, with_logits)

  def compiled_streaming(self, xla: bool = False, with_logits: bool = False):
    """(segment_key_frame, segment_non_key_frame) as `tf.function`s (the second None without
    an nkfc); any frame size, traced once per size. By default labels and context only."""
    key = tf.function(lambda image: self.segment_key_frame(image, with_logits), jit_compile=xla,
                      reduce_retracing=True)
    non_key = None
    if self.nkfc is not None:
      non_key = tf.function(lambda image, previous, context, grid, residual=None: self.segment_non_key_frame(
          image, previous, context, grid, with_logits, residual), jit_compile=xla, reduce_retracing=True)
    return key, non_key

  def compiled(self, xla: bool = False):
    """(key_frame, non_key_frame) as `tf.function`s for inference (non_key_frame None
    without an nkfc); shapes may vary from call to call."""
    key = tf.function(lambda image: self.key_frame(image), jit_compile=xla, reduce_retracing=True)
    non_key = None
    if self.nkfc is not None:
      non_key = tf.function(lambda image, context, motion, residual: self.non_key_frame(
          image, context, motion, residual), jit_compile=xla, reduce_retracing=True)
    return key, non_key

"""The warp op: bilinear backward warping of feature maps by a flow field, in plain TF.

    warp(features [B, h, w, C], flow [B, h, w, 2]) -> [B, h, w, C]
    output(p) = features(p - flow(p))

`flow` is (dx, dy) in feature-map pixels: the displacement of content from the previous
frame to the current one (docs/CONVENTIONS.md: mv = dst - src). Bilinear sampling.

Border rule: sample positions are clamped to the map, [0, w-1] x [0, h-1], before
interpolation, so out-of-frame samples take the nearest edge value (edge replication).
This is how MPEG-4 extends its reference frames and what `codec.MotionCompensator`
(OpenCV BORDER_REPLICATE) does, so image-space residuals and feature-space warping agree.

Gradients flow to `features` (through the gathers) and to `flow` (through the bilinear
weights; zero where a position is clamped). The op is built from gather, floor and
arithmetic only, so it compiles under XLA (`warp_xla`, `jit_compile=True`) and places on
GPU like any TF op. `flow_to_stride` turns a full-resolution motion field into a flow at
a feature map's resolution.
"""

import keras
import tensorflow as tf


def warp(features, flow):
  """Backward-warps `features` by `flow`: out(p) = features(p - flow(p)).

  Args:
    features: [B, h, w, C] float tensor.
    flow: [B, h, w, 2] float tensor, (dx, dy) in feature pixels.
  Returns:
    [B, h, w, C] tensor, dtype of `features`.
  """
  features = tf.convert_to_tensor(features)
  dtype = features.dtype
  # Sampling positions and blending in float32 (float64 kept), also under mixed precision.
  ct = tf.float64 if dtype == tf.float64 else tf.float32
  shape = tf.shape(features)
  b, h, w, c = shape[0], shape[1], shape[2], shape[3]
  flow = tf.cast(flow, ct)
  # Sampling grid: [B, h, w] positions p - flow(p), clamped to the map.
  ys, xs = tf.meshgrid(tf.range(h, dtype=ct), tf.range(w, dtype=ct), indexing="ij")
  x = tf.clip_by_value(xs[None] - flow[..., 0], 0.0, tf.cast(w - 1, ct))
  y = tf.clip_by_value(ys[None] - flow[..., 1], 0.0, tf.cast(h - 1, ct))
  x0f, y0f = tf.floor(x), tf.floor(y)
  fx, fy = (x - x0f)[..., None], (y - y0f)[..., None]
  x0, y0 = tf.cast(x0f, tf.int32), tf.cast(y0f, tf.int32)
  x1, y1 = tf.minimum(x0 + 1, w - 1), tf.minimum(y0 + 1, h - 1)
  flat = tf.reshape(tf.cast(features, ct), [b, h * w, c])

  def tap(yi, xi):
    return tf.reshape(tf.gather(flat, tf.reshape(yi * w + xi, [b, h * w]), batch_dims=1), [b, h, w, c])

  out = ((1 - fy) * ((1 - fx) * tap(y0, x0) + fx * tap(y0, x1)) +
         fy * ((1 - fx) * tap(y1, x0) + fx * tap(y1, x1)))
  return tf.cast(out, dtype)


warp_xla = tf.function(warp, jit_compile=True)
warp_xla.__doc__ = "`warp` compiled with XLA (`jit_compile=True`)."


def pad_to_multiple(x, multiple: int):
  """Edge-replicates [B, H, W, C] on the bottom and right up to multiples of `multiple`
  (no copy when H and W already are)."""
  x = tf.convert_to_tensor(x)
  if x.shape[1] is not None and x.shape[2] is not None and not (x.shape[1] % multiple or x.shape[2] % multiple):
    return x
  shape = tf.shape(x)
  h = (shape[1] + multiple - 1) // multiple * multiple
  w = (shape[2] + multiple - 1) // multiple * multiple

  def pad():
    y = tf.gather(x, tf.minimum(tf.range(h), shape[1] - 1), axis=1)
    return tf.gather(y, tf.minimum(tf.range(w), shape[2] - 1), axis=2)
  return tf.cond((h == shape[1]) & (w == shape[2]), lambda: x, pad)


def pool_to_stride(x, stride: int):
  """[B, H, W, C] -> [B, ceil(H/s), ceil(W/s), C]: the mean of each stride x stride cell, after
  edge-padding to a multiple of the stride (matching 'same'-padded stride-2 convolutions)."""
  if stride == 1:
    return x
  return tf.nn.avg_pool2d(pad_to_multiple(x, stride), stride, stride, "VALID")


def flow_to_stride(motion, stride: int):
  """Full-resolution motion [B, H, W, 2] (pixels) -> flow [B, ceil(H/s), ceil(W/s), 2] (feature pixels).

  Averages the field over each stride x stride cell (area resampling; the codec's field is
  constant per 8x8 block, so for strides <= 8 this is exact) and divides by the stride.
  Sizes that are not multiples of the stride are edge-padded first, matching 'same'-padded
  stride-2 convolutions (ceil(H/s) rows).
  """
  if stride == 1:
    return motion
  return pool_to_stride(motion, stride) / float(stride)


@keras.saving.register_keras_serializable(package="tw_keras")
class Warp(keras.layers.Layer):
  """Keras layer around `warp`: inputs (features [B,h,w,C], flow [B,h,w,2]) -> [B,h,w,C]."""

  def call(self, inputs):
    features, flow = inputs
    return warp(features, flow)

  def compute_output_shape(self, input_shape):
    return input_shape[0]


@keras.saving.register_keras_serializable(package="tw_keras")
class FlowToStride(keras.layers.Layer):
  """Keras layer around `flow_to_stride`: motion [B,H,W,2] -> flow [B,H/s,W/s,2].

  Args:
    stride: feature stride (4, 8, 16, ...).
  """

  def __init__(self, stride, **kwargs):
    super().__init__(**kwargs)
    self.stride = stride

  def call(self, motion):
    return flow_to_stride(motion, self.stride)

  def compute_output_shape(self, input_shape):
    ceil = lambda n: None if n is None else -(-n // self.stride)
    return (input_shape[0], ceil(input_shape[1]), ceil(input_shape[2]), input_shape[3])

  def get_config(self):
    return {**super().get_config(), "stride": self.stride}

"""The codec's motion compensation and residual, in the graph (TensorFlow).

The compact inputs of the compressed domain -- the decoded frame, the previous decoded frame
and the int16 quarter-pel motion grid -- expand here, on whatever device runs the network,
into the dense motion and residual that the non-key-frame CNN takes. It is the same rule as
`codec.MotionCompensator` and `codec._compressed_frames` (docs/CONVENTIONS.md), to the integer:

  motion:     mv(p) = grid[p // cell] / 4                      (dx, dy) = dst - src, pixels
  prediction: pred(p) = round(ref(clamp(p - mv(p))))           bilinear, edge replication
  residual:   res(p) = I(p) - pred(p)                          in [-255, 255]

Quarter-pel positions make the bilinear weights multiples of 1/16, so the prediction is
computed in integers, `(sum w16 * ref + 8) // 16`, which is what OpenCV's fixed-point remap
computes on the host. The reference must be uint8 (a decoded frame).

Shapes (batch B, frame H x W, grid of `cell`-pixel cells covering at least the frame):

  expand_motion(grid int16 [B, h', w', 2], cell, height, width) -> [B, H, W, 2] float32
  compensate(reference [B, H, W, C] uint8, grid, cell) -> [B, H, W, C] int32
  residual(image [B, H, W, C], reference [B, H, W, C], grid, cell) -> [B, H, W, C] float32
  dense_inputs(image, reference, grid, cell) -> (motion [B, H, W, 2], residual [B, H, W, 3])

`dense_inputs` is THE expansion of the compact inputs into the network's dense ones, for
training, evaluation and serving alike (`twnet.TWNet.codec_inputs`).
"""

import tensorflow as tf

from tw_keras.video.codec import MV_UNITS_PER_PIXEL  # quarter pixels


def _expand(grid, cell, height, width):
  """[B, h', w', ...] cells -> [B, height, width, ...] per pixel (nearest), cropped."""
  shape = tf.shape(grid)
  b, gh, gw, rest = shape[0], shape[1], shape[2], shape[3:]
  full = tf.broadcast_to(grid[:, :, None, :, None], tf.concat([[b, gh, cell, gw, cell], rest], 0))
  return tf.reshape(full, tf.concat([[b, gh * cell, gw * cell], rest], 0))[:, :height, :width]


def expand_motion(grid, cell, height, width):
  """int16 quarter-pel grid [B, h', w', 2] -> dense motion [B, height, width, 2] float32 pixels."""
  return tf.cast(_expand(grid, cell, height, width), tf.float32) / MV_UNITS_PER_PIXEL


def compensate(reference, grid, cell):
  """Motion-compensated prediction of the current frame from `reference`: int32 [B, H, W, C].

  Work is done per cell, where the vector is constant: the sample coordinates (clamped to
  [-1, size-1] in a frame edge-padded by one pixel, which reproduces clamping both taps) and
  the four bilinear weights are cell-level tensors; one gather fetches each pixel's 2x2
  neighbourhood from a uint8 "quad" image, and the weighting runs in int16 (at most 16 * 255).
  """
  reference = tf.convert_to_tensor(reference)
  shape = tf.shape(reference)
  b, h, w = shape[0], shape[1], shape[2]
  c = reference.shape[-1]
  gshape = tf.shape(grid)
  gh, gw = gshape[1], gshape[2]
  units = MV_UNITS_PER_PIXEL
  q = -tf.cast(grid, tf.int32)  # sample offset p - mv, quarter pixels
  whole, frac = tf.math.floordiv(q, units), tf.math.floormod(q, units)  # [B, gh, gw, 2]
  cols = tf.range(gw)[:, None] * cell + tf.range(cell)[None]  # [gw, cell] pixel columns of each cell
  rows = tf.range(gh)[:, None] * cell + tf.range(cell)[None]
  x0 = tf.clip_by_value(cols[None, None] + whole[..., 0:1], -1, w - 1) + 1  # [B, gh, gw, cell]
  y0 = tf.clip_by_value(rows[None, :, None] + whole[..., 1:2], -1, h - 1) + 1
  index = tf.transpose(y0, [0, 1, 3, 2])[..., None] * (w + 1) + x0[:, :, None]  # [B, gh, cell, gw, cell]
  padded = tf.concat([reference[:, :1], reference, reference[:, -1:]], 1)
  padded = tf.concat([padded[:, :, :1], padded, padded[:, :, -1:]], 2)  # [B, h+2, w+2, C]
  quad = tf.concat([padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]], -1)
  taps = tf.gather(tf.reshape(quad, [b, (h + 1) * (w + 1), 4 * c]), tf.reshape(index, [b, -1]), batch_dims=1)
  taps = tf.cast(tf.reshape(taps, [b * gh, cell, gw, cell, 4 * c]), tf.int16)
  fx, fy = frac[..., 0], frac[..., 1]
  weights = tf.stack([(units - fx) * (units - fy), fx * (units - fy), (units - fx) * fy, fx * fy], -1)
  weights = tf.cast(tf.reshape(tf.repeat(weights, c, axis=-1), [b * gh, 1, gw, 1, 4 * c]), tf.int16)
  total = tf.reduce_sum(tf.reshape(taps * weights, [b * gh, cell, gw, cell, 4, c]), 4)
  out = (tf.cast(total, tf.int32) + units * units // 2) // (units * units)
  return tf.reshape(out, [b, gh * cell, gw * cell, c])[:, :h, :w]


def residual(image, reference, grid, cell):
  """`image` minus its motion-compensated prediction from `reference`: float32 [B, H, W, C]."""
  return tf.cast(tf.cast(image, tf.int32) - compensate(reference, grid, cell), tf.float32)


def dense_inputs(image, reference, grid, cell, with_residual: bool = True):
  """The codec's compact inputs -> the non-key-frame CNN's dense ones.

  Args:
    image: [B, H, W, 3] the current frame (uint8, or float holding integers).
    reference: [B, H, W, 3] uint8, the residual's reference: the previous decoded frame
      ("step" records, streaming, serving) or the GOP's I-frame ("accumulate" records).
    grid: [B, h', w', 2] int16 quarter-pel motion, one vector per `cell` x `cell` pixels.
    cell: 8 (the codec's block grid) or 1 (per pixel); a Python int.
    with_residual: False gives a zero residual (for variants without RGA, which ignore it).
  Returns:
    (motion [B, H, W, 2] float32 pixels, residual [B, H, W, 3] float32 in [-255, 255]).
  """
  shape = tf.shape(image)
  motion = expand_motion(grid, cell, shape[1], shape[2])
  if not with_residual:
    return motion, tf.zeros(tf.concat([shape[:3], [3]], 0), tf.float32)
  return motion, residual(image, reference, grid, cell)


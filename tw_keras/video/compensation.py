"""The codec's motion compensation and residual, in the graph (TensorFlow).

The compact inputs of the compressed domain -- the decoded frame, the previous decoded frame
and the int16 quarter-pel motion grid -- expand here, on whatever device runs the network,
into the dense motion and residual that the non-key-frame CNN takes. It is the same rule as
`codec.MotionCompensator` and `codec._compressed_frames` (REFERENCE.md), to the integer:

  motion:     mv(p) = grid[p // cell] / 4                      (dx, dy) = dst - src, pixels
  prediction: pred(p) = round(ref(clamp(p - mv(p))))           bilinear, edge replication
  residual:   res(p) = I(p) - pred(p)                          in [-255, 255]

Quarter-pel positions make the bilinear weights multiples of 1/16, so the prediction is
computed in integers, `(sum w16 * ref + 8) // 16`, which is what OpenCV's fixed-point remap
computes on the host.

Shapes (batch B, frame H x W, grid of `cell`-pixel cells covering at least the frame):

  expand_motion(grid int16 [B, h', w', 2], cell, height, width) -> [B, H, W, 2] float32
  compensate(reference [B, H, W, C] uint8 (or integer-valued), grid, cell) -> [B, H, W, C] int32
  residual(image [B, H, W, C], reference [B, H, W, C], grid, cell) -> [B, H, W, C] float32
"""

import tensorflow as tf

from tw_keras.video.codec import MV_UNITS_PER_PIXEL  # quarter pixels


def _expand(grid, cell, height, width):
  """[B, h', w', ...] cells -> [B, height, width, ...] per pixel (nearest), cropped."""
  grid = tf.repeat(tf.repeat(grid, cell, axis=1), cell, axis=2)
  return grid[:, :height, :width]


def expand_motion(grid, cell, height, width):
  """int16 quarter-pel grid [B, h', w', 2] -> dense motion [B, height, width, 2] float32 pixels."""
  return tf.cast(_expand(grid, cell, height, width), tf.float32) / MV_UNITS_PER_PIXEL


def compensate(reference, grid, cell):
  """Motion-compensated prediction of the current frame from `reference`: int32 [B, H, W, C]."""
  reference = tf.convert_to_tensor(reference)
  shape = tf.shape(reference)
  b, h, w, c = shape[0], shape[1], shape[2], shape[3]
  q = -tf.cast(grid, tf.int32)  # sample offset p - mv, quarter pixels, at cell level
  whole = _expand(tf.math.floordiv(q, MV_UNITS_PER_PIXEL), cell, h, w)
  frac = _expand(tf.math.floormod(q, MV_UNITS_PER_PIXEL), cell, h, w)
  ys, xs = tf.meshgrid(tf.range(h), tf.range(w), indexing="ij")
  x0, y0 = xs[None] + whole[..., 0], ys[None] + whole[..., 1]
  x0c, x1c = tf.clip_by_value(x0, 0, w - 1), tf.clip_by_value(x0 + 1, 0, w - 1)
  y0c, y1c = tf.clip_by_value(y0, 0, h - 1), tf.clip_by_value(y0 + 1, 0, h - 1)
  fx, fy = frac[..., 0:1], frac[..., 1:2]
  flat = tf.reshape(tf.cast(reference, tf.int32), [b, h * w, c])

  def tap(yi, xi):
    return tf.reshape(tf.gather(flat, tf.reshape(yi * w + xi, [b, h * w]), batch_dims=1), [b, h, w, c])

  units = MV_UNITS_PER_PIXEL
  total = ((units - fy) * ((units - fx) * tap(y0c, x0c) + fx * tap(y0c, x1c)) +
           fy * ((units - fx) * tap(y1c, x0c) + fx * tap(y1c, x1c)))
  return (total + units * units // 2) // (units * units)


def residual(image, reference, grid, cell):
  """`image` minus its motion-compensated prediction from `reference`: float32 [B, H, W, C]."""
  return tf.cast(tf.cast(image, tf.int32) - compensate(reference, grid, cell), tf.float32)

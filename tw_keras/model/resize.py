"""Resizing ops that are differentiable, XLA-compilable and keep the input dtype.

`tf.image.resize` returns float32 for bfloat16 inputs (breaking mixed precision), its
`area` method has no gradient, and its antialiased path (ScaleAndTranslate) does not
compile under XLA. These two ops cover what the models need.
"""

import tensorflow as tf


def bilinear(x, size):
  """Bilinear resize of [B, h, w, C] to `size` (h', w'), returned in x's dtype."""
  return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)


def adaptive_average_pool(x, size):
  """Adaptive average pooling (PyTorch `AdaptiveAvgPool2d` semantics), any input size.

  Output cell (i, j) of an (oh, ow) grid averages rows [floor(i*H/oh), ceil((i+1)*H/oh))
  and the same for columns; computed from an integral image with gathers, so sizes may be
  dynamic and the op is differentiable and XLA-friendly.

  Args:
    x: [B, H, W, C].
    size: (oh, ow), ints or scalar tensors.
  Returns:
    [B, oh, ow, C] in x's dtype.
  """
  dtype = x.dtype
  x = tf.cast(x, tf.float32)
  shape = tf.shape(x)
  h, w = shape[1], shape[2]

  def bounds(n, out):
    i = tf.range(out)
    start = (i * n) // out
    end = ((i + 1) * n + out - 1) // out
    return start, end

  hs, he = bounds(h, size[0])
  ws, we = bounds(w, size[1])
  integral = tf.pad(tf.cumsum(tf.cumsum(x, axis=1), axis=2), [[0, 0], [1, 0], [1, 0], [0, 0]])

  def corner(rows, cols):
    return tf.gather(tf.gather(integral, rows, axis=1), cols, axis=2)

  total = corner(he, we) - corner(hs, we) - corner(he, ws) + corner(hs, ws)
  area = tf.cast((he - hs)[:, None] * (we - ws)[None, :], tf.float32)[None, :, :, None]
  return tf.cast(total / area, dtype)


BOUNDARY_FALLBACK = 0.25  # above this fraction of boundary blocks, upsampling everything is cheaper


def bilinear_argmax(scores, factor: int):
  """argmax over classes of `bilinear(scores, factor x size)`, without the full-resolution scores.

  [B, h, w, K] -> [B, h * factor, w * factor] int32; `factor` even. The same labels as the
  argmax of the upsampled scores (ties aside): every output pixel interpolates the 2x2 block
  of input pixels around it (edge-replicated), and where those four agree on their argmax,
  so does any convex combination of them. Only the blocks on a label boundary are
  interpolated (with `tf.image.resize`'s half-pixel weights and arithmetic); inside uniform
  regions the label is copied. When more than `BOUNDARY_FALLBACK` of the blocks are on a
  boundary (noise-like scores, e.g. an untrained model), the full upsample is used instead.
  """
  if factor % 2:
    raise ValueError(f"bilinear_argmax: factor must be even, got {factor}")
  s = tf.cast(scores, tf.float32)
  s = tf.concat([s[:, :1], s, s[:, -1:]], 1)
  s = tf.concat([s[:, :, :1], s, s[:, :, -1:]], 2)  # [B, h+2, w+2, K], edge-replicated
  lab = tf.argmax(s, -1, output_type=tf.int32)
  top = lab[:, :-1, :-1]  # block (r, c) spans padded rows r, r+1 and columns c, c+1
  agree = ((top == lab[:, :-1, 1:]) & (top == lab[:, 1:, :-1]) & (top == lab[:, 1:, 1:]))
  full_size = tf.shape(scores)[1:3] * factor
  return tf.cond(tf.reduce_mean(tf.cast(~agree, tf.float32)) > BOUNDARY_FALLBACK,
                 lambda: tf.argmax(bilinear(tf.cast(scores, tf.float32), full_size), -1, output_type=tf.int32),
                 lambda: _copy_or_interpolate(s, top, agree, factor))


def _copy_or_interpolate(s, top, agree, factor):
  """`bilinear_argmax`'s block path: s [B, h+2, w+2, K] edge-padded scores, top [B, h+1, w+1]
  the argmax at each block's top-left corner, agree [B, h+1, w+1] whether its 4 corners agree."""
  shape = tf.shape(top)
  b, h1, w1 = shape[0], shape[1], shape[2]
  canvas = tf.broadcast_to(top[..., None, None], [b, h1, w1, factor, factor])
  where = tf.where(~agree)  # [N, 3] boundary blocks (batch, row, column)
  corner = lambda dy, dx: tf.gather_nd(s, where + tf.constant([0, dy, dx], tf.int64))[:, None, None, :]
  lerp = (tf.range(factor, dtype=tf.float32) + 0.5) / factor  # output pixel i of a block: frac (i + 0.5) / f
  wx, wy = lerp[None, None, :, None], lerp[None, :, None, None]
  upper = corner(0, 0) + (corner(0, 1) - corner(0, 0)) * wx
  lower = corner(1, 0) + (corner(1, 1) - corner(1, 0)) * wx
  fixed = tf.argmax(upper + (lower - upper) * wy, -1, output_type=tf.int32)  # [N, f, f]
  canvas = tf.tensor_scatter_nd_update(canvas, where, fixed)
  full = tf.reshape(tf.transpose(canvas, [0, 1, 3, 2, 4]), [b, h1 * factor, w1 * factor])
  half = factor // 2
  return full[:, half:half + (h1 - 1) * factor, half:half + (w1 - 1) * factor]

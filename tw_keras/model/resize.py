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

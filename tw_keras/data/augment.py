"""Stage-1 augmentation: random scaling, horizontal flip and random crop (paper 5.1), and
optional photometric jitter (brightness, contrast, saturation, hue; what mmsegmentation's
`PhotoMetricDistortion` and deeplab2's colour augmentation do for small datasets such as CamVid).

Mean subtraction happens inside the models (`models.preprocess`). All randomness is
stateless, keyed by a [2] int seed, so a run with the same seed sees the same crops.
"""

import tensorflow as tf

from tw_keras import dataset_info

# Image padding value: mid-grey, i.e. 0 after the models' [-1, 1] preprocessing.
_PAD_VALUE = 127.5


# Photometric jitter (`photometric=True`), each applied with probability 1, in this order:
# brightness +-32 of 255 and contrast, saturation in [0.75, 1.25] (mmsegmentation's
# PhotoMetricDistortion uses the same brightness and [0.5, 1.5]: halved for a short schedule),
# hue +-0.04 of the colour circle (mmsegmentation: +-18 degrees = 0.05).
BRIGHTNESS = 32.0
CONTRAST = (0.75, 1.25)
SATURATION = (0.75, 1.25)
HUE = 0.04


def photometric_jitter(image, seed):
  """[H, W, 3] float32 in 0..255 -> the same, colours jittered (stateless, keyed by `seed` [2])."""
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
  image = tf.image.stateless_random_brightness(image, BRIGHTNESS, seeds[0])
  image = tf.image.stateless_random_contrast(image, *CONTRAST, seeds[1])
  unit = tf.clip_by_value(image / 255.0, 0.0, 1.0)
  unit = tf.image.stateless_random_saturation(unit, *SATURATION, seeds[2])
  unit = tf.image.stateless_random_hue(unit, HUE, seeds[3])
  return tf.clip_by_value(unit, 0.0, 1.0) * 255.0


def scale_flip_crop(image, label, seed, crop, scale_range=(0.5, 2.0), flip=True, photometric=False):
  """Randomly scales, flips and crops one example (and jitters its colours, `photometric`).

  Args:
    image: [H, W, 3] uint8. label: [H, W] int (255 = ignore).
    seed: [2] int stateless seed.
    crop: (h, w) output size; smaller images are padded (label 255).
  Returns:
    ([h, w, 3] float32 in 0..255, [h, w] int32).
  """
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = tf.random.stateless_uniform([], seeds[0], scale_range[0], scale_range[1])
  size = tf.cast(tf.round(shape * scale), tf.int32)
  image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear")
  if photometric:
    image = photometric_jitter(image, seeds[3])
  label = tf.image.resize(tf.cast(label, tf.int32)[..., None], size, method="nearest")
  ch, cw = crop
  ph, pw = tf.maximum(ch - size[0], 0), tf.maximum(cw - size[1], 0)
  image = tf.pad(image - _PAD_VALUE, [[0, ph], [0, pw], [0, 0]]) + _PAD_VALUE
  label = tf.pad(label - dataset_info.IGNORE_LABEL, [[0, ph], [0, pw], [0, 0]]) + dataset_info.IGNORE_LABEL
  both = tf.concat([image, tf.cast(label, tf.float32)], axis=-1)
  both = tf.image.stateless_random_crop(both, [ch, cw, 4], seeds[1])
  if flip:
    both = tf.image.stateless_random_flip_left_right(both, seeds[2])
  return both[..., :3], tf.cast(both[..., 3], tf.int32)

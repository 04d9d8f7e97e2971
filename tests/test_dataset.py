"""data/dataset: clip resizing rescales motion to the new pixels."""
import numpy as np
import tensorflow as tf

from tw_keras.data import dataset, features

RNG = np.random.default_rng(0)


def test_resize_clip_rescales_motion_to_the_new_pixels():
  t, h, w = 2, 32, 64
  clip = {features.CLIP_IMAGES: tf.zeros([t, h, w, 3], tf.uint8),
          features.CLIP_LABELS: tf.constant(np.tile(np.arange(w) // 16, (t, h, 1)), tf.int32),
          features.CLIP_MOTION: tf.constant(np.broadcast_to([4.0, 2.0], (t, h, w, 2)), tf.float32),
          features.CLIP_RESIDUALS: tf.fill([t, h, w, 3], 6.0)}
  out = dataset.resize_clip(clip, (16, 32))
  np.testing.assert_allclose(out[features.CLIP_MOTION].numpy(), np.broadcast_to([2.0, 1.0], (t, 16, 32, 2)))
  np.testing.assert_allclose(out[features.CLIP_RESIDUALS].numpy(), 6.0)
  np.testing.assert_array_equal(out[features.CLIP_LABELS].numpy()[0, 0], np.arange(32) // 8)
  assert out[features.CLIP_IMAGES].shape == (t, 16, 32, 3) and out[features.CLIP_IMAGES].dtype == tf.uint8

"""model/resize: the labels-only bilinear argmax equals the argmax of the upsampled scores."""
import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.parametrize("height,width,smooth", [(5, 7, False), (16, 24, True), (33, 20, True)])
def test_bilinear_argmax_equals_the_argmax_of_the_upsampled_scores(height, width, smooth):
  """The labels-only shortcut: same labels as argmax(bilinear x4), on noise (every block a
  boundary) and on smooth scores (large uniform regions, where labels are copied)."""
  from tw_keras.model import resize
  rng = np.random.default_rng(height)
  s = rng.normal(size=(2, height, width, 19))
  if smooth:
    s = np.cumsum(np.cumsum(s, 1), 2)
  s = tf.constant(s, tf.float32)
  expected = tf.argmax(resize.bilinear(s, [height * 4, width * 4]), -1, output_type=tf.int32).numpy()
  got = resize.bilinear_argmax(s, 4).numpy()
  assert got.shape == expected.shape
  np.testing.assert_array_equal(got, expected)
  if smooth:  # the test covers both branches: copied blocks and interpolated ones
    lab = np.argmax(s.numpy(), -1)
    assert 0 < np.mean(lab[:, 1:, 1:] != lab[:, :-1, :-1]) < 0.5
  with pytest.raises(ValueError, match="even"):
    resize.bilinear_argmax(s, 3)


def test_bilinear_argmax_block_path_on_noise_equals_the_full_upsample():
  """Noise makes every block a boundary, so bilinear_argmax falls back to the full upsample;
  the block path itself must still be exact there (it is the worst case of its arithmetic)."""
  from tw_keras.model import resize
  s = tf.constant(np.random.default_rng(7).normal(size=(1, 12, 20, 19)), tf.float32)
  expected = tf.argmax(resize.bilinear(s, [48, 80]), -1, output_type=tf.int32).numpy()
  padded = tf.pad(s, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # edge replication by one
  lab = tf.argmax(padded, -1, output_type=tf.int32)
  top = lab[:, :-1, :-1]
  agree = (top == lab[:, :-1, 1:]) & (top == lab[:, 1:, :-1]) & (top == lab[:, 1:, 1:])
  assert np.mean(~agree.numpy()) > resize.BOUNDARY_FALLBACK
  np.testing.assert_array_equal(resize._copy_or_interpolate(padded, top, agree, 4).numpy(), expected)
  np.testing.assert_array_equal(resize.bilinear_argmax(s, 4).numpy(), expected)

"""data/augment: stage-1 scale, flip and crop keep images and labels aligned."""
import numpy as np
import tensorflow as tf

from tw_keras import dataset_info
from tw_keras.data import augment

CS = dataset_info.CITYSCAPES

RNG = np.random.default_rng(0)


def _column_example(h=16, w=24):
  cols = np.tile(np.arange(w, dtype=np.uint8), (h, 1))
  image = np.stack([cols, cols, np.full_like(cols, 7)], -1)
  return tf.constant(image), tf.constant(cols % 19)


def test_augment_identity_flip_and_label_alignment():
  image, label = _column_example()
  img, lab = augment.scale_flip_crop(image, label, tf.constant([1, 2]), (16, 24), (1.0, 1.0), flip=False)
  np.testing.assert_array_equal(img.numpy(), image.numpy().astype(np.float32))
  np.testing.assert_array_equal(lab.numpy(), label.numpy())
  flipped = set()
  for s in range(12):
    img, lab = augment.scale_flip_crop(image, label, tf.constant([s, 0]), (8, 12), (1.0, 1.0), flip=True)
    cols = img.numpy()[..., 0]
    np.testing.assert_array_equal(lab.numpy(), cols.astype(np.int32) % 19)  # the label moved with the image
    flipped.add(bool(cols[0, 0] > cols[0, -1]))
  assert flipped == {True, False}


def test_augment_pads_with_ignore_and_grey():
  image, label = _column_example(8, 12)
  img, lab = augment.scale_flip_crop(image, label, tf.constant([3, 4]), (16, 20), (1.0, 1.0), flip=False)
  lab, img = lab.numpy(), img.numpy()
  assert (lab == dataset_info.IGNORE_LABEL).sum() == 16 * 20 - 8 * 12
  assert np.all(img[lab == dataset_info.IGNORE_LABEL] == 127.5)


def test_photometric_jitter_changes_colours_only_and_keeps_the_geometry():
  image, label = _column_example()
  seed = tf.constant([5, 6])
  plain, plain_lab = augment.scale_flip_crop(image, label, seed, (16, 24), (1.0, 1.0), flip=True)
  jittered, lab = augment.scale_flip_crop(image, label, seed, (16, 24), (1.0, 1.0), flip=True, photometric=True)
  np.testing.assert_array_equal(lab.numpy(), plain_lab.numpy())  # the same crop and flip: only colours moved
  j = jittered.numpy()
  assert j.min() >= 0 and j.max() <= 255 and np.abs(j - plain.numpy()).max() > 1
  # Pixels equal before stay equal after (a colour map applied to every pixel alike).
  p = plain.numpy().reshape(-1, 3)
  _, first = np.unique(p, axis=0, return_index=True)
  for k in first[:5]:
    same = np.all(p == p[k], axis=1)
    assert np.ptp(j.reshape(-1, 3)[same], axis=0).max() < 1e-3
  again, _ = augment.scale_flip_crop(image, label, seed, (16, 24), (1.0, 1.0), flip=True, photometric=True)
  np.testing.assert_array_equal(again.numpy(), j)  # stateless: one seed, one jitter

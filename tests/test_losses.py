"""train/losses against NumPy: masked cross-entropy, the consistency L2, weight decay."""
import numpy as np
import pytest
import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.model import twnet
from tw_keras.train import losses

RNG = np.random.default_rng(0)
TINY = config_lib.PRESETS["tiny"]


def test_masked_cross_entropy_against_numpy():
  logits = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
  gt = RNG.integers(0, 5, (2, 3, 4))
  gt[0, 0] = 255
  gt[1, :, 2] = 255
  log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  valid = gt != 255
  expected = -np.take_along_axis(log_softmax, np.where(valid, gt, 0)[..., None], -1)[..., 0][valid].mean()
  assert float(losses.masked_cross_entropy(tf.constant(gt), tf.constant(logits))) == pytest.approx(expected, rel=1e-5)
  assert float(losses.masked_cross_entropy(tf.fill([1, 2, 2], 255), tf.zeros([1, 2, 2, 5]))) == 0.0


def test_consistency_loss_is_mse_and_stops_the_target_gradient():
  a, b = tf.Variable(RNG.normal(size=(2, 3, 3, 4)), dtype=tf.float32), tf.Variable(RNG.normal(size=(2, 3, 3, 4)),
                                                                                     dtype=tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    loss = losses.consistency_loss(a, b)
  assert float(loss) == pytest.approx(np.mean((a.numpy() - b.numpy()) ** 2), rel=1e-5)
  assert tape.gradient(loss, b) is None
  np.testing.assert_allclose(tape.gradient(loss, a).numpy(), 2 * (a.numpy() - b.numpy()) / a.numpy().size, rtol=1e-5)


def test_weight_decay_covers_exactly_the_conv_and_dense_kernels():
  net = twnet.build(TINY, "layer1_cfr_rga")
  for model in (net.per_frame, net.nkfc):
    kernels = losses.decayed_kernels(model)
    assert {v.path for v in kernels} == {v.path for v in model.weights if v.path.endswith("kernel")}
    expected = 1e-3 * sum(float(np.sum(v.numpy() ** 2)) for v in kernels)
    assert float(losses.weight_decay_loss(kernels, 1e-3)) == pytest.approx(expected, rel=1e-4)
  assert float(losses.weight_decay_loss(kernels, 0.0)) == 0.0


def test_class_weighted_cross_entropy_against_numpy():
  logits = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
  gt = RNG.integers(0, 5, (2, 3, 4))
  gt[0, 0] = 255
  weights = np.array([0.5, 1.0, 2.0, 4.0, 0.25], np.float32)
  log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  valid = gt != 255
  ce = -np.take_along_axis(log_softmax, np.where(valid, gt, 0)[..., None], -1)[..., 0]
  w = np.where(valid, weights[np.where(valid, gt, 0)], 0)
  expected = (ce * w).sum() / w.sum()  # PyTorch's CrossEntropyLoss(weight=...) mean
  got = float(losses.masked_cross_entropy(tf.constant(gt), tf.constant(logits), weights))
  assert got == pytest.approx(expected, rel=1e-5)


def test_median_frequency_weights_as_segnet_defines_them():
  # freq(c) = pixels of c / pixels of the images where c appears; weight = median(freq) / freq(c).
  pixels = np.array([600, 100, 10, 0])
  image_pixels = np.array([1000, 400, 100, 0])  # class 3 never appears
  freq = np.array([0.6, 0.25, 0.1])
  expected = np.append(np.median(freq) / freq, 0.0)
  np.testing.assert_allclose(losses.median_frequency_weights(pixels, image_pixels), expected, rtol=1e-6)

"""Batch-norm folding: the folded inference copy computes what the original computes."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.model import folding, twnet

H, W = 64, 96
RNG = np.random.default_rng(0)


def _randomise_batch_norms(model):
  """Moving statistics and affine parameters far from their initial values, so folding is not trivial."""
  for layer in folding._all_layers(model):
    if isinstance(layer, keras.layers.BatchNormalization):
      c = layer.moving_mean.shape[0]
      layer.moving_mean.assign(RNG.normal(0, 0.5, c))
      layer.moving_variance.assign(RNG.uniform(0.2, 3.0, c))
      if layer.scale:
        layer.gamma.assign(RNG.uniform(0.5, 1.5, c))
      if layer.center:
        layer.beta.assign(RNG.normal(0, 0.3, c))


def _count(model, cls):
  return sum(isinstance(l, cls) for l in folding._all_layers(model))


def _numpy_conv_bn(x, kernel, gamma, beta, mean, var, eps, depthwise):
  """bn(conv(x)) for a 1x1 kernel, in NumPy: [H, W, C_in] -> [H, W, C_out]."""
  if depthwise:  # kernel [1, 1, C, M]: output channel c * M + m
    y = (x[..., :, None] * kernel[0, 0]).reshape(x.shape[0], x.shape[1], -1)
  else:
    y = x @ kernel[0, 0]
  return gamma * (y - mean) / np.sqrt(var + eps) + beta


@pytest.mark.parametrize("depthwise", [False, True])
def test_folded_weights_match_numpy(depthwise):
  inputs = keras.Input((5, 7, 4))
  conv = keras.layers.DepthwiseConv2D(1, depth_multiplier=2, use_bias=False) if depthwise else \
      keras.layers.Conv2D(6, 1, use_bias=False)
  bn = keras.layers.BatchNormalization(epsilon=1e-3)
  model = keras.Model(inputs, bn(conv(inputs)))
  _randomise_batch_norms(model)
  x = RNG.normal(size=(1, 5, 7, 4)).astype(np.float32)
  expected = _numpy_conv_bn(x[0], conv.kernel.numpy(), bn.gamma.numpy(), bn.beta.numpy(), bn.moving_mean.numpy(),
                            bn.moving_variance.numpy(), bn.epsilon, depthwise)
  folded = folding.fold_batch_norms(model)
  assert _count(folded, keras.layers.BatchNormalization) == 0
  np.testing.assert_allclose(folded(x).numpy()[0], expected, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(model(x, training=False).numpy()[0], expected, rtol=1e-4, atol=1e-4)


def test_a_convolution_with_two_consumers_is_not_folded():
  inputs = keras.Input((5, 7, 4))
  y = keras.layers.Conv2D(6, 1, use_bias=False)(inputs)
  model = keras.Model(inputs, [keras.layers.BatchNormalization()(y), keras.layers.ReLU()(y)])
  _randomise_batch_norms(model)
  folded = folding.fold_batch_norms(model)
  assert _count(folded, keras.layers.BatchNormalization) == 1
  x = RNG.normal(size=(1, 5, 7, 4)).astype(np.float32)
  for a, b in zip(model(x, training=False), folded(x)):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backbone", ["mobilenet_v1", "mobilenet_v2", "resnet18"])
def test_folded_models_match_the_originals(backbone):
  cfg = config_lib.ModelConfig(backbone=backbone, width=0.25, decoder_width=0.125)
  variant = config_lib.VARIANTS["layer1_cfr_rga"]
  net = twnet.build(cfg, variant)
  per_frame, nkfc = net.per_frame, net.nkfc
  _randomise_batch_norms(per_frame)
  _randomise_batch_norms(nkfc)
  before = [w.numpy().copy() for w in per_frame.weights]
  image = tf.constant(RNG.uniform(0, 255, (2, H, W, 3)), tf.float32)
  out = per_frame(image, training=False)
  ctx = out[variant.context_output]
  nk_in = [image, ctx, tf.constant(RNG.uniform(-6, 6, (2, H, W, 2)), tf.float32),
           tf.constant(RNG.normal(0, 20, (2, H, W, 3)), tf.float32)]
  for model, args in ((per_frame, image), (nkfc, nk_in)):
    folded = folding.fold_batch_norms(model)
    assert _count(folded, keras.layers.BatchNormalization) < _count(model, keras.layers.BatchNormalization)
    a, b = model(args, training=False), folded(args, training=False)
    assert set(a) == set(b)
    for key in a:
      scale = float(tf.reduce_max(tf.abs(a[key]))) + 1e-6
      np.testing.assert_allclose(b[key].numpy() / scale, a[key].numpy() / scale, atol=2e-4, err_msg=key)
  for w, v in zip(per_frame.weights, before):  # the original is untouched
    np.testing.assert_array_equal(w.numpy(), v)
  assert _count(per_frame, keras.layers.BatchNormalization) > 0

"""Batch-norm folding: an inference copy of a model with every convolution's BatchNormalization
merged into the convolution's kernel and bias.

At inference a BatchNormalization after a convolution is a per-channel affine map,

    y = gamma * (conv(x, w) + b - mean) / sqrt(var + eps) + beta
      = conv(x, w * s) + (b - mean) * s + beta,      s = gamma / sqrt(var + eps),

so it can be folded into the convolution. The folded model computes the same function (to
float32 rounding) with one pass over each activation instead of three (convolution, multiply,
add): on a CPU the full-resolution layers of the encoder head are bound by memory traffic, and
the shared head and decoder tail are what limit the non-key-frame CNN's speed-up over the
per-frame CNN (docs/speed_cpu.md).

A pair is folded when a `Conv2D` or `DepthwiseConv2D` is called once, and its output goes to
exactly one `BatchNormalization` over the channel axis and nowhere else. Every other layer is
shared with the original model (no copy), so fold *after* loading the weights, and fold again
after changing them. The folded model is for inference only: its BatchNormalization layers are
gone, so `training=True` would not use batch statistics.
"""

from typing import Dict

import keras
import numpy as np

_CONVS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def _conv_bn_pairs(model: keras.Model) -> Dict[int, tuple]:
  """{id(layer): (conv, bn)} for both layers of every foldable pair in `model` and its sub-models."""
  pairs = {}
  for layer in _all_layers(model):
    if (not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1
        or layer.axis not in (-1, 3)):
      continue
    producer = layer._inbound_nodes[0].input_tensors[0]._keras_history.operation
    if (isinstance(producer, _CONVS) and producer.data_format == "channels_last"
        and len(producer._inbound_nodes) == 1 and len(producer._outbound_nodes) == 1):
      pairs[id(layer)] = pairs[id(producer)] = (producer, layer)
  return pairs


def _all_layers(model):
  for layer in model.layers:
    yield layer
    if isinstance(layer, keras.Model):
      yield from _all_layers(layer)


def folded_weights(conv, bn):
  """(kernel, bias) of the convolution that computes bn(conv(x)) in inference mode."""
  gamma = bn.gamma.numpy() if bn.scale else 1.0
  beta = bn.beta.numpy() if bn.center else 0.0
  mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
  scale = (gamma / np.sqrt(var + bn.epsilon)).astype(np.float32)
  kernel = conv.kernel.numpy().astype(np.float32)
  bias = conv.bias.numpy().astype(np.float32) if conv.use_bias else np.zeros_like(mean, np.float32)
  if isinstance(conv, keras.layers.DepthwiseConv2D):  # output channel c * multiplier + m
    kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
  else:
    kernel = kernel * scale
  return kernel, ((bias - mean) * scale + beta).astype(np.float32)


def fold_batch_norms(model: keras.Model) -> keras.Model:
  """An inference copy of `model` with each foldable Conv+BatchNormalization pair merged.

  The copy has the same inputs and outputs (structure, names, shapes); layers that are not
  folded are the original layer objects, shared.
  """
  pairs = _conv_bn_pairs(model)
  folded_away = {id(bn) for _, bn in pairs.values()}

  def clone(layer):
    if id(layer) not in pairs or id(layer) in folded_away:
      return layer
    conv, bn = pairs[id(layer)]
    folded = conv.__class__.from_config({**conv.get_config(), "use_bias": True})
    folded.build(conv._inbound_nodes[0].input_tensors[0].shape)
    kernel, bias = folded_weights(conv, bn)
    folded.kernel.assign(kernel)
    folded.bias.assign(bias)
    return folded

  def call(layer, *args, **kwargs):
    return args[0] if id(layer) in folded_away else layer(*args, **kwargs)

  return keras.models.clone_model(model, clone_function=clone, call_function=call, recursive=True)

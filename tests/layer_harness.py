"""One uniform test for every custom Keras layer (after keras-hub's `run_layer_test`).

`run_layer_test` checks, for one layer class and its constructor arguments:
  1. config: `get_config` -> `from_config` -> the same config, also through Keras
     serialization (registered class);
  2. eager call: the output shape, float32 dtype, finite values, `compute_output_shape`;
  3. symbolic call: a functional model on `keras.Input`s gives the same shape and, with the
     same weights, the same values as the eager layer;
  4. one training step (when the layer has trainable weights): SGD on a squared-error loss
     changes at least one trainable weight, and the loss stays finite;
  5. mixed precision: a copy built under the `mixed_bfloat16` policy, with the float32
     weights, keeps float32 variables, returns `mixed_output_dtype` (bfloat16, or float32 for
     layers that promise float32 scores) and agrees with float32 within bfloat16 precision.
"""
import keras
import numpy as np
import tensorflow as tf


def _as_list(x):
  return list(x) if isinstance(x, (list, tuple)) else [x]


def _call(layer, inputs, training=None):
  args = inputs if len(inputs) > 1 else inputs[0]
  try:
    return layer(args, training=training)
  except TypeError:  # layers whose call takes no `training`
    return layer(args)


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape, expect_trainable=True,
                   mixed_output_dtype="bfloat16", bf16_tolerance=0.1):
  inputs = [tf.constant(x) for x in _as_list(input_data)]

  # 1. config round trip
  layer = layer_cls(**init_kwargs)
  config = layer.get_config()
  assert layer_cls.from_config(config).get_config() == config
  blob = keras.saving.serialize_keras_object(layer)
  assert keras.saving.deserialize_keras_object(blob).get_config() == config

  # 2. eager call
  out = _call(layer, inputs, training=False)
  assert tuple(out.shape) == tuple(expected_output_shape), (out.shape, expected_output_shape)
  assert out.dtype == tf.float32
  assert np.isfinite(out.numpy()).all()
  assert tuple(layer.compute_output_shape([tuple(x.shape) for x in inputs] if len(inputs) > 1
                                          else tuple(inputs[0].shape))) == tuple(expected_output_shape)

  # 3. symbolic call, same weights
  symbolic_inputs = [keras.Input(batch_shape=tuple(x.shape), dtype=x.dtype) for x in inputs]
  twin = layer_cls.from_config(config)
  model = keras.Model(symbolic_inputs, _call(twin, symbolic_inputs))
  twin.set_weights(layer.get_weights())
  sym = model(inputs if len(inputs) > 1 else inputs[0], training=False)
  assert tuple(sym.shape) == tuple(expected_output_shape)
  np.testing.assert_allclose(sym.numpy(), out.numpy(), rtol=1e-5, atol=1e-5)

  # 4. one training step
  assert bool(layer.trainable_weights) == expect_trainable, [w.path for w in layer.trainable_weights]
  if expect_trainable:
    before = [w.numpy().copy() for w in layer.trainable_weights]
    target = tf.random.stateless_normal(out.shape, seed=[1, 2])
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(_call(layer, inputs, training=True) - target))
    grads = tape.gradient(loss, layer.trainable_weights)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, layer.trainable_weights))
    assert np.isfinite(float(loss))
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, layer.trainable_weights))

  # 5. mixed precision (bfloat16 compute, float32 variables), against float32 with the same
  # weights. The global policy is set, as training sets it: sublayers follow it too.
  reference = layer_cls.from_config(config)
  _call(reference, inputs, training=False)
  keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
  try:
    mixed = layer_cls.from_config({k: v for k, v in config.items() if k != "dtype"})
    _call(mixed, inputs, training=False)
  finally:
    keras.mixed_precision.set_dtype_policy("float32")
  mixed.set_weights(reference.get_weights())
  assert all(w.dtype == "float32" for w in mixed.weights)
  low = _call(mixed, inputs, training=False)
  assert low.dtype == mixed_output_dtype, low.dtype
  high = _call(reference, inputs, training=False).numpy()
  scale = max(1.0, float(np.abs(high).max()))
  np.testing.assert_allclose(tf.cast(low, tf.float32).numpy(), high, atol=bf16_tolerance * scale)

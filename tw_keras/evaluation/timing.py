"""Timing of network forward passes: what is timed, exactly.

`forward_seconds` times one model call, batch as given, on tensors already on the device:
the model is wrapped in a `tf.function` (optionally XLA-compiled), called `warmup` times
(tracing, autotuning), then `repeats` times; each timed call ends by copying the logits to
the host (`.numpy()`), which waits for the device (the sync). The median is returned.
Decoding, preprocessing outside the model and writing results are not included.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

from tw_keras.model import models
from tw_keras.model import nkfc as nkfc_lib


def forward_fn(model, xla: bool = False):
  return tf.function(lambda xs: model(xs if len(xs) > 1 else xs[0], training=False)[models.PRED_LOGITS],
                     jit_compile=xla)


def forward_seconds(model, inputs, repeats: int = 10, warmup: int = 2, xla: bool = False) -> float:
  fn = forward_fn(model, xla)
  for _ in range(warmup):
    fn(inputs).numpy()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn(inputs).numpy()
    times.append(time.perf_counter() - t)
  return statistics.median(times)


def random_inputs(config, variant, height, width, batch=1, seed=0):
  """Inputs of the right shapes: [image] for the per-frame CNN (variant None or per_frame),
  [image, context, motion, residual] for a non-key-frame model."""
  rng = np.random.default_rng(seed)
  img = tf.constant(rng.uniform(0, 255, (batch, height, width, 3)), tf.float32)
  if variant is None or variant.is_per_frame:
    return [img]
  s = variant.stride
  ctx = tf.constant(rng.normal(size=(batch, height // s, width // s, nkfc_lib.context_channels(config, variant))),
                    tf.float32)
  return [img, ctx, tf.constant(rng.uniform(-8, 8, (batch, height, width, 2)), tf.float32),
          tf.constant(rng.normal(0, 10, (batch, height, width, 3)), tf.float32)]


def count_flops(model, input_shapes) -> float:
  """Floating-point operations of one forward pass at fixed `input_shapes` (TF profiler).

  Counts 2 per multiply-add. The paper's "GFLOPs" are multiply-adds: divide by 2.
  """
  from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # pylint: disable=g-import-not-at-top
  specs = [tf.TensorSpec(s, tf.float32) for s in input_shapes]
  fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
  graph = convert_variables_to_constants_v2(fn.get_concrete_function(*specs)).graph
  opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  opts["output"] = "none"
  info = tf.compat.v1.profiler.profile(graph=graph, options=opts)
  return float(info.total_float_ops)

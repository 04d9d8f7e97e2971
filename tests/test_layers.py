"""Every custom layer through the one harness (tests/layer_harness.py)."""
import numpy as np
import pytest

from layer_harness import run_layer_test
from tw_keras.model import correction, decoder, warp

R = np.random.default_rng(0)


def x(*shape, scale=1.0):
  return (R.normal(size=shape) * scale).astype(np.float32)


CASES = [
    # (class, constructor arguments, inputs, output shape, has trainable weights[, harness options])
    (decoder.ConvBNReLU, dict(filters=8, kernel_size=3), x(2, 8, 8, 4), (2, 8, 8, 8), True),
    (decoder.PyramidPooling, dict(filters=8, bins=(1, 2), bin_filters=4, out_filters=6), x(2, 8, 8, 5),
     (2, 8, 8, 6), True),
    (decoder.UpsampleAddConv, dict(filters=8), [x(2, 4, 4, 6), x(2, 8, 8, 6)], (2, 8, 8, 8), True),
    (decoder.Classifier, dict(num_classes=5), x(2, 8, 8, 6), (2, 8, 8, 5), True,
     dict(mixed_output_dtype="float32")),  # class scores stay float32 for the loss
    (decoder.BilinearUpsample, dict(factor=4), x(2, 4, 4, 3), (2, 16, 16, 3), False),
    (correction.ContextFeatureRectification, dict(kernel_size=3), [x(2, 4, 4, 6), x(2, 4, 4, 3)], (2, 4, 4, 6),
     True),
    (correction.ContextFeatureRectification, dict(kernel_size=3),
     [x(2, 4, 4, 6), x(2, 4, 4, 3), np.abs(x(2, 4, 4, 1))], (2, 4, 4, 6), True),
    (correction.ResidualGuidedAttention, dict(stride=4), [x(2, 16, 16, 3, scale=40), x(2, 4, 4, 6)],
     (2, 4, 4, 1), True),
    (warp.Warp, {}, [x(2, 6, 6, 5), x(2, 6, 6, 2)], (2, 6, 6, 5), False),
    (warp.FlowToStride, dict(stride=4), x(2, 16, 16, 2, scale=3), (2, 4, 4, 2), False),
]


def _case_id(case):
  """e.g. `ContextFeatureRectification(kernel_size=3)[warped,spatial,attention]`: the layer, its
  arguments and, for several inputs, how many it gets (CFR with attention has three)."""
  cls, kwargs, inputs = case[:3]
  args = ",".join(f"{k}={v}" for k, v in kwargs.items())
  names = {3: "[warped,spatial,attention]"} if cls is correction.ContextFeatureRectification else {}
  n = len(inputs) if isinstance(inputs, list) else 1
  return f"{cls.__name__}({args})" + names.get(n, f"[{n}_inputs]" if n > 1 else "")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_layer(case):
  cls, kwargs, inputs, shape, trainable, *options = case
  run_layer_test(cls, kwargs, inputs, shape, expect_trainable=trainable, **(options[0] if options else {}))

"""The warp op against a NumPy reference, its gradient, and XLA compilation."""
import numpy as np
import pytest
import tensorflow as tf

from tw_keras.model import warp


def numpy_warp(features, flow):
  """out[b, y, x] = bilinear(features[b], (x - fx, y - fy)), positions clamped to the map."""
  b, h, w, c = features.shape
  out = np.zeros_like(features, dtype=np.float64)
  for n in range(b):
    for y in range(h):
      for x in range(w):
        sx = min(max(x - flow[n, y, x, 0], 0), w - 1)
        sy = min(max(y - flow[n, y, x, 1], 0), h - 1)
        x0, y0 = int(np.floor(sx)), int(np.floor(sy))
        x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
        ax, ay = sx - x0, sy - y0
        out[n, y, x] = ((1 - ay) * ((1 - ax) * features[n, y0, x0] + ax * features[n, y0, x1]) +
                        ay * ((1 - ax) * features[n, y1, x0] + ax * features[n, y1, x1]))
  return out


RNG = np.random.default_rng(0)


@pytest.mark.parametrize("kind", ["integer", "fractional", "out_of_frame"])
@pytest.mark.parametrize("batch", [1, 3])
def test_matches_numpy_reference(kind, batch):
  features = RNG.normal(size=(batch, 7, 9, 5)).astype(np.float32)
  if kind == "integer":
    flow = RNG.integers(-3, 4, size=(batch, 7, 9, 2)).astype(np.float32)
  elif kind == "fractional":
    flow = RNG.uniform(-2.5, 2.5, size=(batch, 7, 9, 2)).astype(np.float32)
  else:
    flow = RNG.uniform(-15, 15, size=(batch, 7, 9, 2)).astype(np.float32)  # most samples leave the map
  out = warp.warp(tf.constant(features), tf.constant(flow)).numpy()
  np.testing.assert_allclose(out, numpy_warp(features, flow), atol=1e-5)


def test_integer_shift_moves_content():
  features = RNG.normal(size=(1, 6, 8, 2)).astype(np.float32)
  flow = np.zeros((1, 6, 8, 2), np.float32)
  flow[..., 0], flow[..., 1] = 2, 1  # content moved right 2, down 1
  out = warp.warp(features, flow).numpy()
  np.testing.assert_allclose(out[0, 1:, 2:], features[0, :-1, :-2], atol=1e-6)
  np.testing.assert_allclose(out[0, 0, 2:], features[0, 0, :-2], atol=1e-6)  # clamped row


def test_gradient_wrt_features_matches_numerical():
  features = tf.constant(RNG.normal(size=(2, 5, 6, 3)), tf.float64)
  flow = tf.constant(RNG.uniform(-3, 3, size=(2, 5, 6, 2)), tf.float64)
  theoretical, numerical = tf.test.compute_gradient(lambda f: warp.warp(f, flow), [features])
  np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)


def test_gradient_wrt_flow_is_finite_and_nonzero():
  features = tf.constant(RNG.normal(size=(1, 6, 6, 2)), tf.float32)
  flow = tf.Variable(RNG.uniform(-0.4, 0.4, size=(1, 6, 6, 2)).astype(np.float32))
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(warp.warp(features, flow) ** 2)
  g = tape.gradient(loss, flow).numpy()
  assert np.isfinite(g).all() and np.abs(g).sum() > 0


def test_xla_compiled_matches_eager():
  features = RNG.normal(size=(2, 8, 10, 4)).astype(np.float32)
  flow = RNG.uniform(-4, 4, size=(2, 8, 10, 2)).astype(np.float32)
  np.testing.assert_allclose(warp.warp_xla(features, flow).numpy(), warp.warp(features, flow).numpy(), atol=1e-5)


def test_flow_to_stride_averages_and_scales():
  motion = np.zeros((1, 32, 32, 2), np.float32)
  motion[:, :16, :16] = [8.0, -4.0]  # one 16x16 block moved
  motion[:, 16:, :8] = [2.0, 2.0]  # one 8x8-wide column
  flow = warp.flow_to_stride(motion, 16).numpy()
  assert flow.shape == (1, 2, 2, 2)
  np.testing.assert_allclose(flow[0, 0, 0], [0.5, -0.25])
  np.testing.assert_allclose(flow[0, 1, 0], [0.0625, 0.0625])  # half the cell at 2 px, / 16
  np.testing.assert_allclose(flow[0, 0, 1], [0, 0])


def test_flow_to_stride_pads_sizes_that_are_not_multiples():
  flow = warp.flow_to_stride(np.ones((2, 30, 20, 2), np.float32) * 8, 8).numpy()
  assert flow.shape == (2, 4, 3, 2)
  np.testing.assert_allclose(flow, 1.0)

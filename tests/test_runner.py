"""inference/runner: the streaming segmenter against the dense chain by hand."""

import numpy as np
import pytest
import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.inference import runner
from serving_helpers import _dense_inputs, _grid

TINY = config_lib.PRESETS["tiny"]


def test_stream_segmenter_counts_and_matches_direct_calls(tiny_models):
  """Compact inputs (frame + block grid) in, labels out == the dense chain by hand, with motion
  and residual from the host's codec functions (the residual's one route, the graph, equals
  them to the integer) and edge-padding in NumPy."""
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  rng = np.random.default_rng(0)
  frames = [rng.integers(0, 255, (50, 70, 3)).astype(np.uint8) for _ in range(3)]
  grids = [np.zeros((8, 10, 2), np.int16)] + [_grid(rng) for _ in range(2)]
  seg = runner.StreamSegmenter(net, "gop")
  preds = [seg(f, g, t, i)[0] for i, (f, g, t) in enumerate(zip(frames, grids, "IPP"))]
  assert (seg.key_frames, seg.non_key_frames) == (1, 2)
  assert preds[0].shape == (50, 70)
  pad = lambda a: np.pad(a, ((0, 14), (0, 26), (0, 0)), mode="edge")  # 50x70 -> 64x96
  out = per_frame(tf.constant(pad(frames[0])[None], tf.float32))
  ctx = out["layer1"]
  for prev, f, g in zip(frames, frames[1:], grids[1:]):
    motion, residual = _dense_inputs(f, prev, g)
    assert np.abs(residual).mean() > 10  # the residual is not zero: it must be computed right
    o = nkfc([tf.constant(pad(f)[None], tf.float32), ctx, tf.constant(pad(motion)[None]),
              tf.constant(pad(residual)[None])])
    ctx = o["context"]
  expected = tf.argmax(o["logits"][0, :50, :70], -1).numpy()
  np.testing.assert_array_equal(preds[-1], expected)

"""Temporal consistency against a NumPy loop reference: labels warped nearest-neighbour,
only pixels visible in both frames counted."""
import numpy as np
import pytest

from tw_keras.evaluation import metrics


def _reference(prev, cur, motion, k, valid):
  h, w = cur.shape
  inter, union = np.zeros(k, np.int64), np.zeros(k, np.int64)
  for y in range(h):
    for x in range(w):
      sx, sy = int(np.floor(x - motion[y, x, 0] + 0.5)), int(np.floor(y - motion[y, x, 1] + 0.5))
      if not (0 <= sx < w and 0 <= sy < h) or (valid is not None and not valid[y, x]):
        continue
      a, b = prev[sy, sx], cur[y, x]
      inter[a] += a == b
      union[a] += 1
      union[b] += a != b
  return inter, union


def test_counts_match_a_loop_reference():
  rng = np.random.default_rng(0)
  prev, cur = rng.integers(0, 4, (9, 11)), rng.integers(0, 4, (9, 11))
  motion = rng.uniform(-3, 3, (9, 11, 2)).astype(np.float32)
  valid = rng.random((9, 11)) > 0.3
  for v in (None, valid):
    got = metrics.temporal_consistency_counts(prev, cur, motion, 4, v)
    ref = _reference(prev, cur, motion, 4, v)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


def test_a_moving_object_followed_by_its_motion_is_perfectly_consistent():
  prev = np.zeros((20, 30), np.int64)
  prev[5:10, 5:10] = 1
  cur = np.zeros_like(prev)
  cur[5:10, 8:13] = 1  # moved 3 px right
  motion = np.zeros((20, 30, 2), np.float32)
  motion[5:10, 8:13, 0] = 3
  np.testing.assert_array_equal(metrics.warp_labels(prev, motion)[5:10, 8:13], 1)
  tc = lambda m, valid=None: metrics.temporal_consistency(*metrics.temporal_consistency_counts(prev, cur, m, 2, valid))
  # Unmasked, the uncovered strip (the object's old place, now background) counts as flicker:
  # background 560 / 575, object 25 / 40.
  assert tc(motion) == pytest.approx(100 * np.mean([560 / 575, 25 / 40]), abs=0.01)
  valid = np.ones((20, 30), bool)
  valid[5:10, 5:8] = False  # disoccluded: not visible in the previous frame
  assert tc(motion, valid) == 100.0
  # Zero motion: the object overlaps itself by 10 of 40 pixels.
  assert tc(0 * motion) == pytest.approx(100 * np.mean([560 / 590, 10 / 40]), abs=0.01)


def test_the_accumulator_sums_pairs_as_the_loop_reference_does():
  """`ConsistencyCounts` (what evaluation, the scheduler study and the segmenter share): the
  class-wise sums of three frame pairs, and TC of those sums, not the mean of three TCs."""
  rng = np.random.default_rng(1)
  frames = [rng.integers(0, 3, (7, 8)) for _ in range(4)]
  motions = [rng.uniform(-2, 2, (7, 8, 2)).astype(np.float32) for _ in range(3)]
  acc = metrics.ConsistencyCounts(3)
  assert acc.value is None
  inter, union = np.zeros(3, np.int64), np.zeros(3, np.int64)
  for t in range(1, 4):
    acc.add(frames[t - 1], frames[t], motions[t - 1], None if t == 2 else motions[t - 1][..., 0] > 0)
    ref = _reference(frames[t - 1], frames[t], motions[t - 1], 3, None if t == 2 else motions[t - 1][..., 0] > 0)
    inter += ref[0]
    union += ref[1]
  np.testing.assert_array_equal(acc.counts[0], inter)
  np.testing.assert_array_equal(acc.counts[1], union)
  assert acc.value == pytest.approx(100 * np.mean(inter[union > 0] / union[union > 0]), abs=0.005)

"""The tables' differences with paired bootstrap intervals, against a NumPy loop."""
import numpy as np
import pytest

from tw_keras import dataset_info
from tw_keras.evaluation import comparisons, metrics

FOUR = dataset_info.DatasetInfo("four", tuple(dataset_info.ClassInfo(n, (i, i, i), cat) for i, (n, cat) in enumerate(
    [("road", "flat"), ("car", "vehicle"), ("person", "human"), ("rider", "human")])))


def _gops(seed, n=9, d=3, k=4):
  return np.random.default_rng(seed).integers(0, 40, (n, d, k, k))


def test_difference_resamples_both_variants_on_the_same_gops():
  a, b = _gops(1), _gops(2)
  draws = np.random.default_rng(metrics.BOOTSTRAP_SEED)
  stats = []
  for _ in range(metrics.BOOTSTRAP_SAMPLES):
    pick = draws.integers(0, len(a), len(a))  # one draw of GOPs for both
    stats.append(metrics.mean_miou_over_d(a[pick].sum(0)) - metrics.mean_miou_over_d(b[pick].sum(0)))
  got = comparisons.difference(a, b)
  point = metrics.mean_miou_over_d(a.sum(0)) - metrics.mean_miou_over_d(b.sum(0))
  assert got["difference"] == pytest.approx(100 * point, abs=0.006)
  np.testing.assert_allclose(got["ci95"], 100 * np.percentile(stats, [2.5, 97.5]), atol=0.006)
  # a variant against itself: exactly zero, with no spread
  assert comparisons.difference(a, a) == {"difference": 0.0, "ci95": [0.0, 0.0]}


def test_share_won_back_and_category_gains():
  pf, warp = _gops(3), _gops(4)
  half = pf + warp  # not a mixture of mIoUs: check the formula on the pooled point
  got = comparisons.share_won_back(pf, warp, half)
  m = lambda x: metrics.mean_miou_over_d(x.sum(0))
  assert got["share"] == pytest.approx(100 * (m(half) - m(warp)) / (m(pf) - m(warp)), abs=0.006)
  assert comparisons.share_won_back(pf, warp, pf)["share"] == 100.0  # all of it
  assert comparisons.share_won_back(pf, warp, warp)["share"] == 0.0
  cats = comparisons.category_differences(pf, warp, FOUR)
  assert list(cats) == ["flat", "vehicle", "human"]
  iou = lambda x: metrics.iou_per_class(metrics.category_confusion(x.sum((0, 1)), FOUR))
  assert cats["human"]["difference"] == pytest.approx(100 * (iou(pf)[2] - iou(warp)[2]), abs=0.006)
  low, high = cats["human"]["ci95"]
  assert low <= cats["human"]["difference"] <= high


def test_compare_draws_only_the_rows_whose_variants_were_scored():
  names = ["per_frame", "layer1_warp", "layer1_ft", "layer1_cfr_rga", "layer2_cfr_rga"]
  rows = comparisons.table_rows(names)
  assert [r[0] for r in rows] == ["per_frame - layer1_warp", "layer1_ft - layer1_warp",
                                  "layer1_cfr_rga - layer1_warp", "layer1_cfr_rga - layer2_cfr_rga"]
  per_gop = {n: _gops(i) for i, n in enumerate(names)}
  out = comparisons.compare(per_gop, FOUR)
  assert list(out["differences"]) == [r[0] for r in rows]
  assert list(out["share_won_back"]) == ["layer1_cfr_rga"]  # layer 2 has no warp row here
  assert "| per_frame - layer1_warp |" in comparisons.markdown(out)

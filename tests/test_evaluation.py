"""Metrics against NumPy and the official evaluator; the per-distance harness."""
import glob
import json
import os

import numpy as np
import pytest

from tw_keras import dataset_info
from tw_keras.evaluation import metrics

CS = dataset_info.CITYSCAPES


def test_confusion_and_iou_by_hand():
  gt = np.array([[0, 0, 1, 255], [1, 1, 2, 2]])
  pred = np.array([[0, 1, 1, 0], [1, 1, 2, 0]])
  conf = metrics.confusion_matrix(gt, pred, num_classes=3)
  np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 3, 0], [1, 0, 1]])
  iou = metrics.iou_per_class(conf)
  np.testing.assert_allclose(iou, [1 / 3, 3 / 4, 1 / 2])
  assert metrics.mean_iou(conf) == pytest.approx(np.mean([1 / 3, 3 / 4, 1 / 2]))


def test_absent_classes_are_nan_but_false_positives_count():
  gt = np.zeros((4, 4), int)
  pred = np.zeros((4, 4), int)
  pred[0, 0] = 5  # class 5 never in the ground truth but predicted: IoU 0, counted
  iou = metrics.iou_per_class(metrics.confusion_matrix(gt, pred, 19))
  assert iou[0] == pytest.approx(15 / 16) and iou[5] == 0 and np.isnan(iou[3])
  assert metrics.mean_iou(metrics.confusion_matrix(gt, pred, 19)) == pytest.approx((15 / 16) / 2)


def test_category_confusion_merges_classes():
  gt = np.array([CS.train_id["road"], CS.train_id["sidewalk"], CS.train_id["car"]])
  pred = np.array([CS.train_id["sidewalk"], CS.train_id["road"], CS.train_id["bus"]])
  cat = metrics.category_confusion(metrics.confusion_matrix(gt, pred, 19), CS)
  iou = metrics.iou_per_class(cat)
  assert iou[CS.categories.index("flat")] == 1 and iou[CS.categories.index("vehicle")] == 1
  assert metrics.mean_iou(metrics.confusion_matrix(gt, pred, 19)) == 0


def test_values_outside_the_class_table_are_errors_not_dropped():
  gt = np.array([0, 1, 255])
  with pytest.raises(ValueError, match="prediction value 19 is outside the 19 classes"):
    metrics.confusion_matrix(gt, np.array([0, 19, 0]), 19)
  with pytest.raises(ValueError, match="ground truth value 11 is outside the 11 classes"):
    metrics.confusion_matrix(np.array([11, 0, 255]), np.array([0, 0, 0]), 11)
  assert metrics.confusion_matrix(gt, np.array([0, 1, 18]), 19).sum() == 2  # ignore dropped


@pytest.fixture(scope="module")
def evaluated(tiny_records, tmp_path_factory):
  """Random (untrained) tiny models, saved as a model dir, evaluated on the val split."""
  from tw_keras.evaluation import job
  from tw_keras import config as config_lib
  from tw_keras.model import per_frame as per_frame_lib
  from tw_keras.model import model_dir as model_dir_lib
  model_dir = str(tmp_path_factory.mktemp("model"))
  cfg = config_lib.PRESETS["tiny"]
  model_dir_lib.save_model_config(model_dir, cfg)
  per_frame = per_frame_lib.build_per_frame(cfg)
  os.makedirs(os.path.join(model_dir, "stage1"))
  per_frame.save_weights(os.path.join(model_dir, "stage1", model_dir_lib.STAGE1_WEIGHTS))
  out = os.path.join(model_dir, "eval")
  rep = job.evaluate_model_dir(tiny_records, model_dir, out, variants=["per_frame", "layer1_warp", "warp_scores"],
                                quiet=True)
  return rep, out


def test_harness_outputs_and_protocol(evaluated):
  rep, out = evaluated
  assert rep["sequences"] == 2 and rep["distances"] == list(range(12))
  for name in ("per_frame", "layer1_warp", "warp_scores"):
    v = rep["variants"][name]
    assert len(v["miou_per_distance"]) == 12
    assert v["mean_miou_over_d"] == pytest.approx(np.mean(v["miou_per_distance"]), abs=0.01)
  pf = rep["variants"]["per_frame"]["miou_per_distance"]
  assert len(set(pf)) == 1  # the per-frame model always scores frame 19 from frame 19
  # d = 0 is the per-frame prediction for every variant.
  assert rep["variants"]["layer1_warp"]["miou_per_distance"][0] == pf[0]
  for f in ("results.json", "results.md", "miou_vs_distance.png"):
    assert os.path.getsize(os.path.join(out, f)) > 0
  assert json.load(open(os.path.join(out, "results.json")))["variants"].keys() == rep["variants"].keys()


def test_bootstrap_interval_against_a_numpy_reference():
  """Percentile bootstrap over samples (GOPs): each resample draws N whole samples with
  replacement, sums their confusions and takes the statistic; the same seed, the same draws."""
  rng = np.random.default_rng(3)
  per_sample = rng.integers(0, 50, (7, 2, 3, 3))  # 7 GOPs, 2 distances, 3 classes
  draws = np.random.default_rng(11)
  stats = []
  for _ in range(200):
    summed = per_sample[draws.integers(0, 7, 7)].sum(0)
    stats.append(np.mean([metrics.mean_iou(c) for c in summed]))
  expected = np.percentile(stats, [2.5, 97.5])
  got = metrics.bootstrap_interval(per_sample, samples=200, seed=11)
  np.testing.assert_allclose(got, expected, rtol=1e-12)
  point = metrics.mean_miou_over_d(per_sample.sum(0))
  assert got[0] <= point <= got[1]
  same = np.repeat(per_sample[:1], 5, axis=0)  # identical samples: no spread
  low, high = metrics.bootstrap_interval(same, samples=50)
  assert low == pytest.approx(high)
  assert np.isnan(metrics.bootstrap_interval(per_sample[:0])[0])


def test_every_variant_carries_its_interval_in_the_results_and_the_table(evaluated):
  rep, out = evaluated
  for name, v in rep["variants"].items():
    low, high = v["mean_miou_over_d_ci95"]
    assert low - 0.01 <= v["mean_miou_over_d"] <= high + 0.01, name
  assert "95% CI" in open(os.path.join(out, "results.md")).read()


@pytest.mark.parametrize("variant", ["per_frame", "layer1_warp"])
def test_our_miou_equals_the_official_cityscapes_evaluator(evaluated, variant):
  from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev
  rep, out = evaluated
  preds = sorted(glob.glob(os.path.join(out, "labelids", variant, "*_leftImg8bit.png")))
  gts = sorted(glob.glob(os.path.join(out, "labelids", "gt", "*_gtFine_labelIds.png")))
  assert len(preds) == len(gts) == 2
  ev.args.quiet = True
  ev.args.JSONOutput = False
  ev.args.evalInstLevelScore = False  # no instance PNGs: semantic scores only
  result = ev.evaluateImgLists(preds, gts, ev.args)
  ours = rep["variants"][variant]["taplab_uniform_draw"]
  assert ours["miou"] == pytest.approx(100 * result["averageScoreClasses"], abs=0.01)
  assert ours["category_miou"] == pytest.approx(100 * result["averageScoreCategories"], abs=0.01)
  for name, iou in ours["class_iou"].items():
    official = result["classScores"][name]
    if iou is None:
      assert np.isnan(official)
    else:
      assert iou == pytest.approx(100 * official, abs=0.01)


def test_frames_of_any_size_are_scored_as_the_segmenter_outputs_them(tiny_records, tiny_models):
  """CamVid's 480x360 is no multiple of 32: the protocol pads and crops as the streaming
  segmenter does, and its chain gives the segmenter's labels frame for frame."""
  from tw_keras.data import dataset, features
  from tw_keras.evaluation import distance_protocol
  from tw_keras.inference import runner
  gop = dict(next(iter(dataset.gop_dataset(dataset.shard_files(tiny_records, "val")))))
  for key in (features.CLIP_IMAGES, features.CLIP_REFERENCES, features.CLIP_LABELS):
    gop[key] = gop[key][:, :56]  # 128x56: the same 16-padded coded size (64 rows), so the same grid
  preds = distance_protocol.chain_predictions(tiny_models, gop, 0, 5, every_frame=True)
  assert [tuple(p.shape) for p in preds] == [(56, 128)] * 6
  segmenter = runner.StreamSegmenter(tiny_models, "gop", fold_batch_norms=False)
  for t in range(6):
    labels, is_key = segmenter(gop[features.CLIP_IMAGES][t].numpy(), gop[features.CLIP_MOTION_GRID][t].numpy(),
                               "I" if t == 0 else "P", index=t)
    assert is_key == (t == 0)
    np.testing.assert_array_equal(labels, preds[t].numpy())
  per_frame = distance_protocol.chain_predictions(tiny_models.with_variant("per_frame"), gop, 3, 3)
  assert per_frame.shape == (56, 128)

"""inference/schedulers and inference/scheduler_study: the key-frame schedulers on their own, in the
streaming segmenter, tuned on a video, and compared by mIoU against cost."""
import os

import numpy as np
import pytest

from tw_keras import config as config_lib
from tw_keras.data import dataset, features
from tw_keras.evaluation import report
from tw_keras.inference import runner, scheduler_study, schedulers, tuning
from tw_keras.model import twnet
from tw_keras.video import codec

TINY = config_lib.PRESETS["tiny"]


def test_parse_schedulers():
  assert schedulers.parse("gop").kind == "gop"
  assert schedulers.parse("fixed:5").interval == 5
  a = schedulers.parse("adaptive:score=0.4,residual=12")
  assert (a.score_threshold, a.residual_threshold) == (0.4, 12.0)
  assert schedulers.parse("adaptive").score_threshold == 0.3
  for spec in ("adaptive:score=0.4", "fixed:3", "every", "gop"):
    assert schedulers.parse(spec).spec() == spec
  for bad in ("fixed", "fixed:0", "sometimes", "adaptive:foo=1"):
    with pytest.raises(ValueError):
      schedulers.parse(bad)


def _keys(s, types, residuals=None, predictions=None):
  out = []
  for i, t in enumerate(types):
    r = None if residuals is None else float(np.mean(np.abs(residuals[i])))
    key = s.before(i, t, r)
    if not key and predictions is not None and s.after(predictions[i]):
      key = True
    if key:
      s.key_done(np.zeros((2, 2)) if predictions is None else predictions[i])
    else:
      s.non_key_done()
    out.append(key)
  return out


def test_gop_fixed_every_schedules():
  types = (["I"] + ["P"] * 11) * 2
  assert [i for i, k in enumerate(_keys(schedulers.parse("gop"), types)) if k] == [0, 12]
  # An I-frame is always a key frame (it has no motion): the fixed clock restarts there.
  assert [i for i, k in enumerate(_keys(schedulers.parse("fixed:5"), types)) if k] == [0, 5, 10, 12, 17, 22]
  assert all(_keys(schedulers.parse("every"), types))
  # A stream's own long GOP (one I-frame in 30): gop keys at most 12 frames apart, and at the I-frame.
  own = ["I"] + ["P"] * 29 + ["I"] + ["P"] * 5
  assert [i for i, k in enumerate(_keys(schedulers.parse("gop"), own)) if k] == [0, 12, 24, 30]
  assert [i for i, k in enumerate(_keys(schedulers.parse("adaptive:score=0.9"), own,
                                        predictions=[np.zeros((2, 2), int)] * 36)) if k] == [0, 30]


def test_adaptive_fires_on_label_change_or_residual_energy():
  preds = [np.zeros((4, 4), int)] * 3 + [np.ones((4, 4), int)] * 2 + [np.zeros((4, 4), int)]
  keys = _keys(schedulers.parse("adaptive:score=0.5"), ["P"] * 6, predictions=preds)
  assert keys == [True, False, False, True, False, True]
  res = [np.zeros((2, 2, 3))] * 2 + [np.full((2, 2, 3), 40.0)] + [np.zeros((2, 2, 3))]
  keys = _keys(schedulers.parse("adaptive:residual=20"), ["P"] * 4, residuals=res)
  assert keys == [True, False, True, False]


def test_tune_threshold_hits_target_rate():
  stats = np.linspace(0, 1, 101)
  th = schedulers.tune_threshold(stats, 0.2)
  assert np.mean(stats > th) == pytest.approx(0.2, abs=0.011)
  with pytest.raises(ValueError):
    schedulers.tune_threshold(stats, 1.5)


def test_adaptive_recomputes_a_key_frame_when_the_prediction_drifts(tiny_models):
  net = tiny_models
  rng = np.random.default_rng(1)
  frames = [rng.integers(0, 255, (50, 70, 3)).astype(np.uint8) for _ in range(5)]
  grid = np.zeros((8, 10, 2), np.int16)
  every = runner.StreamSegmenter(net.with_variant("per_frame"), scheduler="every")
  reference = [every(f, grid, "P", i)[0] for i, f in enumerate(frames)]
  # score=-1: any drift (even none) exceeds it, so every NKFC frame is recomputed as a key frame.
  always = runner.StreamSegmenter(net, "adaptive:score=-1")
  out = [always(f, grid, "P", i) for i, f in enumerate(frames)]
  assert [key for _, key in out] == [True] * 5
  assert (always.key_frames, always.non_key_frames) == (5, 4)  # the NKFC ran, then the per-frame CNN
  for (pred, _), ref in zip(out, reference):
    np.testing.assert_array_equal(pred, ref)
  # score=1: no fraction exceeds it; only the first frame is a key frame.
  never = runner.StreamSegmenter(net, "adaptive:score=1")
  assert [never(f, grid, "P", i)[1] for i, f in enumerate(frames)] == [True] + [False] * 4


def test_a_scheduler_without_a_non_key_frame_model_is_refused(tiny_models):
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  with pytest.raises(ValueError, match="needs a non-key-frame model"):
    runner.StreamSegmenter(net.with_variant("per_frame"), scheduler="gop")
  with pytest.raises(ValueError, match="needs a non-key-frame model"):
    runner.StreamSegmenter(net.with_variant("per_frame"), scheduler="every").with_scheduler("adaptive")
  with pytest.raises(ValueError, match="goes with a non-per-frame variant"):  # one object, checked once
    twnet.TWNet(net.config, config_lib.VARIANTS["per_frame"], per_frame, nkfc)


def test_tune_adaptive_hits_its_target_rate_and_leaves_the_segmenter_alone(tiny_models, tmp):
  from helpers import translated_clip
  net = tiny_models
  video = os.path.join(tmp, "v.mp4")
  codec.encode_frames(translated_clip(64, 96, 24, 3, 1), video)
  seg = runner.StreamSegmenter(net, "adaptive:score=0.3")
  th = tuning.tune_adaptive(video, seg, 0.25)
  assert seg.scheduler.spec() == "adaptive:score=0.3"
  # The statistic it tunes on, recomputed: the changed fraction of every non-key frame under GOP.
  gop = seg.with_scheduler("gop")
  changed = []
  frames = codec.decode_compressed(video)
  for f in frames:
    pred, key = gop(f.rgb, f.motion_grid, f.pict_type, f.index)
    if not key:
      changed.append(gop.scheduler.changed_fraction(pred))
  frames.close()
  assert len(changed) == 22 and len(set(changed)) > 5  # the tiny model's drift varies frame to frame
  assert th == pytest.approx(np.quantile(changed, 0.75))
  assert 5 <= sum(c > th for c in changed) <= 6  # 25% of 22 non-key frames


def test_residual_energy_scheduler_uses_the_residual_computed_in_the_graph(tiny_models):
  """adaptive:residual=R compares the mean |residual| (computed on the device from the previous
  frame and the block grid) with R: a repeated frame (residual 0) stays non-key, a new scene
  (large residual) becomes a key frame."""
  net = tiny_models
  rng = np.random.default_rng(4)
  a, b = (rng.integers(0, 255, (50, 70, 3)).astype(np.uint8) for _ in range(2))
  grid = np.zeros((8, 10, 2), np.int16)
  seg = runner.StreamSegmenter(net, "adaptive:residual=5")
  assert [seg(f, grid, "P", i)[1] for i, f in enumerate([a, a, b, b])] == [True, False, True, False]
  with pytest.raises(ValueError, match="block grid"):
    seg(a, np.zeros((50, 70, 2), np.int16), "P", 4)  # a per-pixel (accumulate) field is refused


def test_scheduler_evaluation_counts_and_costs(tiny_records):
  variant = config_lib.VARIANTS["layer1_cfr_rga"]
  net = twnet.build(TINY, variant)
  gops = list(dataset.gop_dataset(dataset.shard_files(tiny_records, "val")))
  frames = sum(int(g[features.CLIP_IMAGES].shape[0]) for g in gops)
  i_frames = sum(int((g[features.CLIP_PICT_TYPES].numpy() == b"I").sum()) for g in gops)
  res = scheduler_study.evaluate_schedulers(net, gops, ["every", "gop", "fixed:3"],
                                     key_cost=10.0, non_key_cost=4.0)
  assert res["every"]["key_frame_rate"] == 1.0 and res["every"]["cost_per_frame"] == 10.0
  assert res["gop"]["key_frame_rate"] == round(i_frames / frames, 3)
  assert res["gop"]["cost_per_frame"] == pytest.approx((i_frames * 10 + (frames - i_frames) * 4) / frames, abs=1e-4)
  keys = sum(len(range(0, int(g[features.CLIP_IMAGES].shape[0]), 3)) for g in gops)
  assert res["fixed:3"]["key_frame_rate"] == round(keys / frames, 3)
  assert all(r["frames"] == frames for r in res.values())
  table = report.scheduler_table(res, "GMACs").splitlines()
  assert len(table) == 5 and table[3].startswith(f"| gop | {res['gop']['miou']} |")


def test_scheduler_temporal_consistency_agrees_with_the_per_distance_harness(tiny_records):
  """The 'every' scheduler streams the per-frame CNN (batch norms folded) over every frame;
  its TC is the per-distance harness's TC of the per-frame variant, to the rare argmax that
  folding flips."""
  from tw_keras.evaluation import distance_protocol  # pylint: disable=g-import-not-at-top
  net = twnet.build(TINY, "layer1_cfr_rga")
  gops = list(dataset.gop_dataset(dataset.shard_files(tiny_records, "val")))
  res = scheduler_study.evaluate_schedulers(net, gops, ["every", "gop"], tc_motion=distance_protocol.codec_motion)
  harness = distance_protocol.evaluate({"per_frame": net.with_variant("per_frame")}, gops, [0], tc_motion=distance_protocol.codec_motion)
  tc = distance_protocol.metrics.temporal_consistency(*harness["tc_counts"]["per_frame"])
  assert res["every"]["temporal_consistency"] == pytest.approx(tc, abs=0.5)
  assert 0 <= res["gop"]["temporal_consistency"] <= 100
  assert f"| {res['gop']['temporal_consistency']} |" in report.scheduler_table(res, "GMACs")
  assert scheduler_study.evaluate_schedulers(net, gops[:1], ["gop"])["gop"]["temporal_consistency"] is None


def test_the_study_adds_its_table_to_the_evaluation_jobs_results(tiny_records, tiny_model_dir, tmp):
  """Entry points run the study after the evaluation job, into the same results; it needs the
  codec's motion (the streaming segmenter's)."""
  import json
  from tw_keras.evaluation import job
  job.evaluate_model_dir(tiny_records, tiny_model_dir, tmp, variants=["per_frame", "layer1_cfr_rga"],
                         max_sequences=1, write_pngs=False, quiet=True)
  rep = scheduler_study.add_to_results(tiny_records, tiny_model_dir, tmp, ["gop", "every"], "layer1_cfr_rga",
                                       max_sequences=1)
  on_disk = json.load(open(f"{tmp}/results.json"))
  assert set(on_disk["schedulers"]["results"]) == {"gop", "every"} == set(rep["schedulers"]["results"])
  assert on_disk["schedulers"]["cost_unit"] == "GMACs at 128x64"
  md = open(f"{tmp}/results.md").read()
  assert "Key-frame schedulers (layer1_cfr_rga on non-key frames)" in md and "| per_frame |" in md
  assert not scheduler_study.applies("dis")
  with pytest.raises(ValueError, match="the schedulers run the streaming segmenter on the codec's motion"):
    scheduler_study.add_to_results(tiny_records, tiny_model_dir, tmp, ["gop"], "layer1_cfr_rga", flow="dis")

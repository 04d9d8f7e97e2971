"""Flow sources: DIS in our motion convention, the exact flow in the network's input contract,
and the evaluation under each source with temporal consistency on visible pixels."""
import os

import numpy as np
import pytest

from helpers import translated_clip
from tw_keras.data import features, flow_sources


def test_dis_motion_is_dst_minus_src_in_pixels():
  prev, cur = translated_clip(64, 96, 2, 2.5, -1.5)
  motion = flow_sources.dis_motion(prev, cur)
  inner = motion[12:-12, 12:-12].reshape(-1, 2)
  np.testing.assert_allclose(np.median(inner, 0), [2.5, -1.5], atol=0.2)


@pytest.fixture(scope="module")
def flow_records(tmp_path_factory):
  from tw_keras.data import build  # pylint: disable=g-import-not-at-top
  out = str(tmp_path_factory.mktemp("flow_data"))
  build.build(build.BuildConfig(dataset="synthetic", output_dir=out, splits=("val",), synthetic_val=2,
                                synthetic_height=64, synthetic_width=128, synthetic_flow=True, workers=1),
              log=lambda line: None)
  return out


def test_with_motion_gives_a_per_pixel_quarter_pel_grid(flow_records):
  from tw_keras.data import dataset, synthetic  # pylint: disable=g-import-not-at-top
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(flow_records, "val"))))
  root = os.path.join(flow_records, "synthetic_cityscapes")
  exact = flow_sources.with_motion(gop, "gt", root)
  assert int(exact[features.CLIP_MOTION_CELL]) == 1 and exact[features.CLIP_MOTION_GRID].shape == (12, 64, 128, 2)
  frame = int(gop[features.CLIP_FRAME_INDEX][5])
  flow, _ = synthetic.read_flow(synthetic.flow_path(root, "val", "frankfurt", 0, frame))
  np.testing.assert_array_equal(exact[features.CLIP_MOTION_GRID][5].numpy(), np.round(flow * 4).astype(np.int16))
  assert not exact[features.CLIP_MOTION_GRID][0].numpy().any()  # the I-frame: a chain starts there
  np.testing.assert_array_equal(exact[features.CLIP_REFERENCES][5], gop[features.CLIP_IMAGES][4])
  dis = flow_sources.with_motion(gop, "dis")
  epe = np.linalg.norm(dis[features.CLIP_MOTION_GRID][5].numpy() / 4 - flow, axis=-1)
  assert np.median(epe) < 1.0
  assert flow_sources.with_motion(gop, "codec") is gop
  with pytest.raises(FileNotFoundError, match="no exact flow"):
    flow_sources.with_motion(gop, "gt", str(os.path.dirname(root)))


def test_evaluation_under_each_flow_source_reports_temporal_consistency(flow_records, tiny_model_dir, tmp):
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  root = os.path.join(flow_records, "synthetic_cityscapes")
  reps = {flow: job.evaluate_model_dir(flow_records, tiny_model_dir, os.path.join(tmp, flow),
                                       variants=["per_frame", "layer1_cfr_rga"], distances=[0, 5, 11],
                                       write_pngs=False, quiet=True, flow=flow, flow_root=root)
          for flow in ("codec", "dis", "gt")}
  for flow, rep in reps.items():
    assert rep["flow"] == flow and rep["tc_motion"] == "exact flow, visible pixels"
    for v in rep["variants"].values():
      assert 0 <= v["temporal_consistency"] <= 100
    with open(os.path.join(tmp, flow, "results.md")) as f:
      assert f"motion: {flow}" in f.read()
  per_frame = {f: r["variants"]["per_frame"] for f, r in reps.items()}
  diff = {k for k in per_frame["codec"] if not per_frame["codec"][k] == per_frame["dis"][k] == per_frame["gt"][k]}
  assert not diff, (diff, [per_frame[f][k] for f in per_frame for k in diff])  # no motion in the per-frame CNN
  codec_tc = job.evaluate_model_dir(flow_records, tiny_model_dir, os.path.join(tmp, "plain"), variants=["per_frame"],
                                    distances=[0], write_pngs=False, quiet=True)
  assert codec_tc["tc_motion"] == job.TC_DIS


def test_dis_forward_backward_mask_drops_the_disoccluded_strip():
  """A textured square moving 8 px right over a background moving 1 px: DIS follows both,
  and only the strip the square uncovered fails the forward-backward test."""
  from helpers import textured
  prev, cur = (f.copy() for f in translated_clip(96, 128, 2, 1.0, 0.0))
  patch = textured(40, 40, 5)
  prev[28:68, 30:70] = patch
  cur[28:68, 38:78] = patch
  motion, valid = flow_sources.dis_with_mask(prev, cur)
  np.testing.assert_array_equal(motion, flow_sources.dis_motion(prev, cur))  # the same motion
  np.testing.assert_allclose(np.median(motion[32:64, 44:74].reshape(-1, 2), 0), [8, 0], atol=0.3)
  assert valid[32:64, 44:74].mean() > 0.9  # the square
  assert valid[:, 100:120].mean() > 0.9  # the background
  assert valid[32:64, 31:37].mean() < 0.3  # uncovered: not in the previous frame


def test_the_segmenter_under_dis_matches_the_graph_fed_the_dis_grid(tiny_models):
  """flow="dis": the non-key frame is the same graph fed DIS's per-pixel grid (cell 1), with
  the residual of that motion computed in the graph; the codec's grid is ignored."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import runner  # pylint: disable=g-import-not-at-top
  net = tiny_models.with_variant("layer1_cfr_rga")
  frames = translated_clip(48, 80, 3, 1.5, 0.5)
  seg = runner.StreamSegmenter(net, "gop", flow="dis", fold_batch_norms=False)
  zero = np.zeros((6, 10, 2), np.int16)
  preds = [seg(f, zero, "IPP"[i], i)[0] for i, f in enumerate(frames)]
  assert (seg.key_frames, seg.non_key_frames) == (1, 2)
  ctx = net.segment_key_frame(tf.constant(frames[0][None]))["context"]
  for prev, f in zip(frames, frames[1:]):
    grid = flow_sources.to_grid(flow_sources.dis_motion(prev, f))
    assert np.abs(grid).max() > 2  # real motion, not the zero codec grid
    out = net.segment_non_key_frame(tf.constant(f[None]), tf.constant(prev[None]), ctx, tf.constant(grid[None]),
                                    cell=1)
    ctx = out["context"]
  np.testing.assert_array_equal(preds[-1], out["labels"][0].numpy())
  with pytest.raises(ValueError, match="flow must be one of codec, dis"):
    runner.StreamSegmenter(net, flow="gt")


def test_motion_map_in_tf_data_equals_the_eager_copy(flow_records):
  from tw_keras.data import dataset  # pylint: disable=g-import-not-at-top
  root = os.path.join(flow_records, "synthetic_cityscapes")
  gops = dataset.gop_dataset(dataset.shard_files(flow_records, "val"))
  eager = flow_sources.with_motion(next(iter(gops)), "gt", root)
  mapped = next(iter(gops.map(flow_sources.motion_map("gt", root))))
  assert mapped[features.CLIP_MOTION_GRID].shape == (12, 64, 128, 2)
  for k in (features.CLIP_MOTION_GRID, features.CLIP_REFERENCES, features.CLIP_MOTION_CELL):
    np.testing.assert_array_equal(mapped[k].numpy(), eager[k].numpy())
  with pytest.raises(ValueError, match="--flow_root"):
    flow_sources.motion_map("gt")


def test_stage2_trains_on_another_flow_and_records_it(flow_records, tiny_model_dir, tmp):
  import shutil  # pylint: disable=g-import-not-at-top
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top
  tiny = config_lib.TRAIN_PRESETS["tiny"]
  preset = config_lib.Preset(tiny.model, tiny.stage1, tiny.stage2, eval_every=2, checkpoint_every=10**9)
  model = os.path.join(tmp, "model")
  shutil.copytree(tiny_model_dir, model)
  root = os.path.join(flow_records, "synthetic_cityscapes")
  history, net = stages.train_stage2("layer1_cfr", preset, flow_records, model, steps=2, progress=False,
                                     split="val", eval_split="val", flow="gt", flow_root=root)
  assert history["final_step"] == 2 and all(np.isfinite(history["losses"]))
  assert 0 <= history["eval"][-1]["miou_d"] <= 100  # the quick evaluation ran on the exact flow too
  assert np.abs(net.nkfc.get_layer("cfr").conv.kernel.numpy()).sum() > 0
  assert model_dir_lib.stage2_flow(model, "layer1_cfr") == "gt"
  assert model_dir_lib.stage2_flow(model, "layer1_cfr_rga") == "codec"  # not recorded: the codec's
  with pytest.raises(ValueError, match="layer1_cfr is trained on gt motion here, not dis"):
    stages.train_stage2("layer1_cfr", preset, flow_records, model, steps=3, progress=False, split="val",
                        eval_split=None, flow="dis")
  rep = job.evaluate_model_dir(flow_records, model, os.path.join(tmp, "eval"), variants=["layer1_cfr"],
                               distances=[3], write_pngs=False, quiet=True, flow="gt", flow_root=root)
  assert rep["trained_flow"] == {"layer1_cfr": "gt"}

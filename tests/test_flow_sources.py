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
  assert codec_tc["tc_motion"] == "codec motion, every pixel"

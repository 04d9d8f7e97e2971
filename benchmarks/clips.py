"""Test clips for the benchmark scripts: a textured frame drifting and zooming slowly
(content everywhere, motion everywhere, like driving footage at a smaller scale); and the
timing helpers they share."""

import time

import av
import cv2
import numpy as np

from tw_keras.video import codec


def make_clip(path, h, w, n):
  rng = np.random.default_rng(0)
  base = cv2.resize((rng.random((h // 8 + 40, w // 8 + 40, 3)) * 255).astype(np.uint8),
                    None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC)
  def frames():
    for t in range(n):
      m = np.float32([[1 + 0.002 * t, 0, -3 * t], [0, 1 + 0.002 * t, -t]])
      yield cv2.warpAffine(base, m, (w, h), borderMode=cv2.BORDER_REFLECT)
  codec.encode_frames(frames(), path)


def plain_decode(path, export_mvs=False, frame_threads=False):
  """Decodes `path` to RGB with PyAV and nothing else (optionally exporting the motion
  vectors; `frame_threads`: FFmpeg's frame and slice threads, as the library decodes);
  returns the frame count."""
  with av.open(path) as c:
    s = c.streams.video[0]
    if frame_threads:
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


def best_fps(repeats, fn, *args):
  """The best frames/s of `repeats` timed calls of fn(*args) (which returns its frame count)."""
  best = 0.0
  for _ in range(repeats):
    t = time.perf_counter()
    n = fn(*args)
    best = max(best, n / (time.perf_counter() - t))
  return best

"""Motion statistics of a set of clips: the distribution of the codec's block motion, the
measure that compares the built-in benchmark with real driving footage
(`benchmarks/benchmark_properties.py`)."""

import os
import tempfile
from typing import Dict, Iterable, Sequence

import numpy as np

from tw_keras.video import codec

# Measured on a real Cityscapes val snippet (2048x1024 and resized to 512x256, frames 8..19):
# the ranges of |motion| per mille of width, and the share of zero-or-intra blocks.
REAL_FOOTAGE = {"p50": (0.7, 1.0), "p90": (10.6, 13.1), "p99": (21.5, 21.5), "zero": (0.41, 0.45)}


def motion_statistics(snippets: Iterable[Sequence]) -> Dict[str, float]:
  """{p50, p90, p99, zero, blocks, snippets}: |motion| per 8x8 block of P-frames, per mille of
  the frame width, over `snippets` (each a list of [H, W, 3] RGB frames or of image paths),
  each encoded as the canonical stream. `zero` is the share of blocks without motion (static
  or intra)."""
  mags = []
  n = 0
  with tempfile.TemporaryDirectory() as tmp:
    for frames in snippets:
      path = os.path.join(tmp, "clip.mp4")
      if isinstance(frames[0], str):
        codec.transcode(frames, path)
      else:
        codec.encode_frames(frames, path)
      for frame in codec.decode_compressed(path):
        if frame.pict_type != "P":
          continue
        width = frame.rgb.shape[1]
        grid = frame.motion_grid.astype(np.float32) / codec.MV_UNITS_PER_PIXEL
        mags.append(np.hypot(grid[..., 0], grid[..., 1]).ravel() * 1000.0 / width)
      n += 1
  m = np.concatenate(mags)
  p50, p90, p99 = np.percentile(m, [50, 90, 99])
  return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "zero": float((m == 0).mean()),
          "blocks": int(m.size), "snippets": n}

"""Test clips for the benchmark scripts: a textured frame drifting and zooming slowly
(content everywhere, motion everywhere, like driving footage at a smaller scale)."""

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

"""Test helpers (plain functions, imported by tests): tiny synthetic clips with known motion."""
import os

import cv2
import numpy as np


def textured(h, w, seed=0, blur=1.2):
  """[h, w, 3] uint8 texture: fine luminance detail on smooth colour (like real video, whose
  chroma is low-detail; 4:2:0 chroma cannot carry per-pixel colour noise)."""
  rng = np.random.default_rng(seed)
  def smooth(cells, channels):
    small = rng.random((h // cells + 2, w // cells + 2, channels)).astype(np.float32)
    return cv2.resize(small, (w + 2 * cells, h + 2 * cells), interpolation=cv2.INTER_CUBIC)[:h, :w]
  luma = cv2.GaussianBlur(smooth(3, 1), (0, 0), blur)[..., None]
  colour = smooth(32, 3).reshape(h, w, 3)
  return np.clip(40 + 140 * luma + 60 * colour, 0, 255).astype(np.uint8)


def translated_clip(h, w, n, dx, dy, seed=0):
  """n frames of a texture whose content moves by (dx, dy) pixels per frame (may be fractional)."""
  pad = int(np.ceil(max(abs(dx), abs(dy)) * n)) + 8
  base = textured(h + 2 * pad, w + 2 * pad, seed)
  frames = []
  for t in range(n):
    # Content at p in frame t-1 appears at p + (dx, dy) in frame t.
    m = np.float32([[1, 0, dx * t - pad], [0, 1, dy * t - pad]])
    frames.append(cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_LINEAR))
  return frames


def write_labelled_root(root, split, frames):
  """frames: [(rgb [H, W, 3], trainIds [H, W])] -> one snippet in Cityscapes layout."""
  from tw_keras.data import synthetic
  for i, (rgb, lab) in enumerate(frames):
    image_path, label_path, _ = synthetic.snippet_paths(root, split, "city", 0, i)
    for path, image in ((image_path, rgb[..., ::-1]), (label_path, lab)):
      os.makedirs(os.path.dirname(path), exist_ok=True)
      synthetic.write_png(path, image)


def damage_packets(path, out, packets):
  """`path` with 40 bytes flipped in the middle of each listed packet (decode order): FFmpeg's
  decoders conceal such damage and flag the frame built on it, without an error."""
  import av  # pylint: disable=g-import-not-at-top
  c = av.open(path)
  spans = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
  c.close()
  data = bytearray(open(path, "rb").read())
  for i in packets:
    pos, size = spans[i]
    for j in range(pos + size // 2, pos + size // 2 + 40):
      data[j] ^= 0x5A
  with open(out, "wb") as f:
    f.write(bytes(data))


def release_manifest(release):
  """A released model directory's manifest.json (pytest skips, saying why, where there is none)."""
  import json  # pylint: disable=g-import-not-at-top
  import pytest  # pylint: disable=g-import-not-at-top
  if not os.path.exists(os.path.join(release, "manifest.json")):
    pytest.skip(f"{release}: no released weights in this checkout")
  with open(os.path.join(release, "manifest.json")) as f:
    return json.load(f)


def assert_release_files_match(release, manifest):
  """Every file the manifest lists has its sha256; returns their total size in bytes."""
  import hashlib  # pylint: disable=g-import-not-at-top
  for rel, digest in manifest["files"].items():
    with open(os.path.join(release, rel), "rb") as f:
      assert hashlib.sha256(f.read()).hexdigest() == digest, rel
  return sum(os.path.getsize(os.path.join(release, rel)) for rel in manifest["files"])


def write_h264(path, frames, fmt=None, params=None, options=None):
  """x264 of RGB `frames` at 17 fps: `params` as x264-params (bframes, ref, keyint...), or
  `options` as FFmpeg's encoder options (bf, refs, g)."""
  import av  # pylint: disable=g-import-not-at-top
  c = av.open(str(path), "w", format=fmt)
  s = c.add_stream("libx264", rate=17)
  s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
  if params:
    s.codec_context.options = {"x264-params": params}
  if options:
    s.options = options
  for f in frames:
    for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
      c.mux(p)
  for p in s.encode():
    c.mux(p)
  c.close()

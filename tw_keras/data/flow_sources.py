"""Where a non-key frame's motion comes from: the codec's vectors, optical flow, or the truth.

* `codec` (the default): the records' own block motion grid (8x8 cells, quarter pixels).
* `dis`: OpenCV's DIS optical flow from the previous decoded frame to the current one, at
  `DIS_PRESET`, in our convention (dst - src, pixels, on the current frame's pixels: OpenCV's
  `calc(current, previous)` returns f with current(p) ~ previous(p + f), so motion = -f).
* `gt`: the exact flow of the built-in benchmark, written by the renderer
  (`build_tfrecords --dataset=synthetic --synthetic_flow`, `synthetic.flow_path`).

`dis_with_mask(previous, current)` adds a forward-backward consistency mask (the pixels whose
DIS motion is trusted), which temporal consistency uses on any video without an exact flow.

`with_motion(gop, source, flow_root)` gives a GOP record the chosen motion in the network's
one input contract: a per-pixel grid (cell 1) of int16 quarter pixels, so the model expands,
warps and computes the residual exactly as for the codec's grid, against the previous frame.
Frame 0 of a record (its I-frame, where a chain starts) gets zero motion.
"""

import os
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from tw_keras.data import features
from tw_keras.video import codec

SOURCES = ("codec", "dis", "gt")
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# The forward-backward test of Sundaram, Brox and Keutzer (ECCV 2010): a pixel's motion is
# trusted when following it back and then forward returns within
# |b + f|^2 < FB_RELATIVE * (|b|^2 + |f|^2) + FB_ABSOLUTE (pixels squared).
FB_RELATIVE = 0.01
FB_ABSOLUTE = 0.5


def dis_motion(previous: np.ndarray, current: np.ndarray, preset: int = DIS_PRESET) -> np.ndarray:
  """[H, W, 3] uint8 RGB previous, current -> [H, W, 2] float32 motion (dst - src, pixels)."""
  return -cv2.DISOpticalFlow_create(preset).calc(_gray(current), _gray(previous), None)


def _gray(rgb: np.ndarray) -> np.ndarray:
  """DIS's input: [H, W] uint8 luma of [H, W, 3] RGB."""
  return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def dis_with_mask(previous: np.ndarray, current: np.ndarray, preset: int = DIS_PRESET
                  ) -> Tuple[np.ndarray, np.ndarray]:
  """[H, W, 3] uint8 RGB previous, current -> (motion [H, W, 2] float32 as `dis_motion`,
  valid [H, W] bool): the pixels of `current` whose motion passes the forward-backward test
  (`FB_RELATIVE`, `FB_ABSOLUTE`) and whose source lies inside `previous`. Two DIS runs."""
  dis = cv2.DISOpticalFlow_create(preset)
  g0, g1 = _gray(previous), _gray(current)
  back = dis.calc(g1, g0, None)  # on current's pixels: current(q) ~ previous(q + back(q))
  forward = dis.calc(g0, g1, None)  # on previous's pixels: previous(p) ~ current(p + forward(p))
  h, w = g1.shape
  yy, xx = np.mgrid[:h, :w].astype(np.float32)
  sx, sy = xx + back[..., 0], yy + back[..., 1]
  there = cv2.remap(forward, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
  loop = np.sum((back + there) ** 2, -1)
  valid = loop < FB_RELATIVE * (np.sum(back ** 2, -1) + np.sum(there ** 2, -1)) + FB_ABSOLUTE
  valid &= (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
  return -back, valid


def exact_flow(flow_root: str, sequence_id: str, frame_index: int) -> Tuple[np.ndarray, np.ndarray]:
  """The renderer's exact flow into frame `frame_index` of a Cityscapes-layout sequence id
  ("val/frankfurt_000003"): ([H, W, 2] float32, [H, W] bool visible in both frames)."""
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  split, stem = sequence_id.split("/", 1)
  city, seq = stem.rsplit("_", 1)
  path = synthetic.flow_path(flow_root, split, city, int(seq), frame_index)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no exact flow (render the benchmark with --synthetic_flow)")
  return synthetic.read_flow(path)


def to_grid(motion: np.ndarray) -> np.ndarray:
  """[..., 2] float32 pixels -> int16 quarter pixels (the grid's units), rounded."""
  return np.clip(np.round(motion * codec.MV_UNITS_PER_PIXEL), -32768, 32767).astype(np.int16)


def motion_of(images: np.ndarray, sequence_id: str, frames: np.ndarray, source: str,
              flow_root: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
  """A GOP's motion from `source` (not "codec"): [T, H, W, 3] uint8 frames, the sequence id
  and the frames' indices -> (grid [T, H, W, 2] int16 quarter pixels, each frame's motion from
  the previous one, zero for frame 0; references [T, H, W, 3] uint8, the previous frames)."""
  if source not in SOURCES[1:]:
    raise ValueError(f"unknown flow source {source!r}: use one of {', '.join(SOURCES)}")
  if source == "gt" and not flow_root:
    raise ValueError("flow source gt needs the benchmark's root (its flow/ folder): --flow_root")
  t, h, w = images.shape[:3]
  grid = np.zeros((t, h, w, 2), np.int16)
  for i in range(1, t):
    motion = (dis_motion(images[i - 1], images[i]) if source == "dis"
              else exact_flow(flow_root, sequence_id, int(frames[i]))[0])
    grid[i] = to_grid(motion)
  return grid, np.concatenate([images[:1], images[:-1]])  # motion is previous -> current: "step" references


def with_motion(gop: Dict[str, object], source: str, flow_root: Optional[str] = None) -> Dict[str, object]:
  """A copy of a parsed GOP record (`dataset.gop_dataset`, eager) whose motion is `source`'s."""
  if source == "codec":
    return gop
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  grid, references = motion_of(gop[features.CLIP_IMAGES].numpy(), gop[features.CLIP_SEQUENCE_ID].numpy().decode(),
                               gop[features.CLIP_FRAME_INDEX].numpy(), source, flow_root)
  return {**gop, features.CLIP_MOTION_GRID: tf.constant(grid), features.CLIP_MOTION_CELL: tf.constant(1, tf.int32),
          features.CLIP_REFERENCES: tf.constant(references)}


class WithMotion:
  """GOP records (an iterable of parsed GOPs) with `source`'s motion, computed lazily."""

  def __init__(self, gops, source: str, flow_root: Optional[str] = None):
    self.gops, self.source, self.flow_root = gops, source, flow_root

  def __iter__(self):
    return (with_motion(g, self.source, self.flow_root) for g in self.gops)


def motion_map(source: str, flow_root: Optional[str] = None):
  """A `tf.data` map over parsed GOP records giving them `source`'s motion (`motion_of`, on
  the host through `tf.numpy_function`); the identity for "codec"."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if source == "codec":
    return lambda gop: gop
  if source == "gt" and not flow_root:
    raise ValueError("flow source gt needs the benchmark's root (its flow/ folder): --flow_root")

  def host(images, sequence_id, frames):
    return motion_of(images, sequence_id.decode(), frames, source, flow_root)

  def fn(gop):
    images = gop[features.CLIP_IMAGES]
    grid, references = tf.numpy_function(host, [images, gop[features.CLIP_SEQUENCE_ID],
                                                 gop[features.CLIP_FRAME_INDEX]], (tf.int16, tf.uint8))
    grid.set_shape(images.shape[:-1].concatenate([2]))
    references.set_shape(images.shape)
    return {**gop, features.CLIP_MOTION_GRID: grid, features.CLIP_MOTION_CELL: tf.constant(1, tf.int32),
            features.CLIP_REFERENCES: references}
  return fn

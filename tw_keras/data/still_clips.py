"""Clips synthesised from labelled stills: a camera-like path of homographies over one photo.

Stage 2 trains on clips (a key frame and the P-frames after it), and a dataset of labelled
stills (SegNet's CamVid train split: 1 Hz frames, none near another) has none. A clip made
from one still by a smooth path of homographies -- a forward zoom about a focus of expansion
near the horizon, a pan, a small roll and shake -- gives the non-key-frame CNN real
photographs moving as a camera moves them, and labels that move with them (warped
nearest-neighbour with the same homography; pixels the still does not cover are ignore).
Written as a `labelled_video` tree (each clip a folder of numbered frames, every frame
labelled), it goes through the canonical codec like any video (`build_tfrecords
--dataset=labelled_video`), so the motion vectors and residuals are the codec's own.

What it cannot give: parallax (a homography moves a plane; near objects do not move faster
than far ones), occlusion and disocclusion, and objects that move on their own. The motion's
size is drawn from `CameraMotion`, whose defaults are fitted to the block-motion statistics
of real street video at 15 Hz (docs/camvid_stage2.md, `benchmarks/still_clip_motion.py`).

Shapes: a still [H, W, 3] uint8 RGB and its label [H, W] uint8 train ids; a path's
homographies [T, 3, 3] float64, still pixel -> clip pixel; a clip [T, h, w, 3] uint8 and its
labels [T, h, w] uint8 (255 = ignore), (h, w) = `size`.
"""

import dataclasses
import glob
import os
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np

from tw_keras import dataset_info
from tw_keras.data import label_files, synthetic
from tw_keras.errors import InputError, VideoError


@dataclasses.dataclass(frozen=True)
class CameraMotion:
  """The ranges a clip's camera path is drawn from (once per clip; per frame: constant rates
  plus shake).

  Attributes:
    zoom: the forward zoom per frame is uniform in [0, zoom] (relative scale growth; 0.05
      moves a point 200 pixels from the focus of expansion by 10 pixels a frame).
    stopped: the share of clips without forward motion (a car at a light).
    pan: the standard deviation of the horizontal pan per frame, as a share of the width.
    tilt: the same, vertical.
    roll: the standard deviation of the roll per frame, degrees.
    shake: the standard deviation of each frame's jitter about the path, share of the width.
    first_zoom: the first frame's magnification of the still (room for the pan to stay inside).
  """
  zoom: float = 0.05
  stopped: float = 0.25
  pan: float = 0.008
  tilt: float = 0.001
  roll: float = 0.1
  shake: float = 0.001
  first_zoom: float = 1.1


@dataclasses.dataclass(frozen=True)
class CameraPath:
  """One clip's path (drawn by `draw_path`): per-frame zoom, pan (x, y, pixels of the clip),
  roll (radians), the focus of expansion (x, y, still pixels) and each frame's shake [T, 2]."""
  zoom: float
  pan: Tuple[float, float]
  roll: float
  focus: Tuple[float, float]
  shake: np.ndarray


def draw_path(rng: np.random.Generator, motion: CameraMotion, length: int, still_hw: Tuple[int, int],
              size: Tuple[int, int]) -> CameraPath:
  """A random path of `length` frames from `motion`'s ranges, shrunk (pan, roll, shake, then
  zoom, by 0.7 at a time) until every frame lies inside the still."""
  h, w = still_hw
  width = size[1]
  zoom = 0.0 if rng.random() < motion.stopped else rng.uniform(0.0, motion.zoom)
  pan = (rng.normal(0.0, motion.pan) * width, rng.normal(0.0, motion.tilt) * width)
  roll = np.deg2rad(rng.normal(0.0, motion.roll))
  focus = (rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.55) * h)
  shake = rng.normal(0.0, motion.shake * width, size=(length, 2))
  shake[0] = 0.0
  path = CameraPath(zoom, pan, roll, focus, shake)
  for attempt in range(40):
    if _inside(homographies(path, length, still_hw, size, motion.first_zoom), still_hw, size):
      return path
    path = CameraPath(path.zoom * 0.7 if attempt >= 20 else path.zoom, (path.pan[0] * 0.7, path.pan[1] * 0.7),
                      path.roll * 0.7, path.focus, path.shake * 0.7)
  return CameraPath(0.0, (0.0, 0.0), 0.0, focus, np.zeros((length, 2)))


def homographies(path: CameraPath, length: int, still_hw: Tuple[int, int], size: Tuple[int, int],
                 first_zoom: float) -> np.ndarray:
  """[T, 3, 3]: still pixel -> clip pixel of each frame. Frame t magnifies the still by
  first_zoom * (1 + zoom)^t about the focus, rolls it by roll * t, and moves it by pan * t plus
  its shake; frame 0 is the still's centre at `first_zoom`."""
  h, w = still_hw
  centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
  out_centre = np.array([(size[1] - 1) / 2.0, (size[0] - 1) / 2.0])
  focus = np.asarray(path.focus, np.float64)
  anchor = first_zoom * (focus - centre) + out_centre  # where the focus sits in every frame
  out = np.zeros((length, 3, 3))
  for t in range(length):
    s, a = first_zoom * (1.0 + path.zoom) ** t, path.roll * t
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shift = anchor + np.asarray(path.pan) * t + path.shake[t] - rot @ focus
    out[t, :2, :2], out[t, :2, 2], out[t, 2, 2] = rot, shift, 1.0
  return out


def _inside(homs: np.ndarray, still_hw, size) -> bool:
  h, w = still_hw
  corners = np.array([[0, 0, 1], [size[1] - 1, 0, 1], [0, size[0] - 1, 1], [size[1] - 1, size[0] - 1, 1]], float)
  for hom in homs:
    back = corners @ np.linalg.inv(hom).T
    xy = back[:, :2] / back[:, 2:]
    if (xy < -0.5).any() or (xy[:, 0] > w - 0.5).any() or (xy[:, 1] > h - 0.5).any():
      return False
  return True


def render_clip(image: np.ndarray, label: np.ndarray, homs: np.ndarray, size: Tuple[int, int]
                ) -> Tuple[np.ndarray, np.ndarray]:
  """The clip of `homs` over one still: frames [T, h, w, 3] uint8 (bilinear, edge pixels
  replicated) and labels [T, h, w] uint8 (nearest; 255 where the still does not reach)."""
  dsize = (size[1], size[0])
  frames = np.stack([cv2.warpPerspective(image, hom, dsize, flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REPLICATE) for hom in homs])
  labels = np.stack([cv2.warpPerspective(label, hom, dsize, flags=cv2.INTER_NEAREST,
                                         borderMode=cv2.BORDER_CONSTANT,
                                         borderValue=dataset_info.IGNORE_LABEL) for hom in homs])
  return frames, labels


def camvid_stills(root: str, split: str) -> Iterator[Tuple[str, np.ndarray, np.ndarray]]:
  """(name, [H, W, 3] RGB, [H, W] train ids) of each labelled frame of SegNet's CamVid
  `ROOT/{split}/` and `ROOT/{split}annot/`, in name order."""
  label_dir = os.path.join(root, f"{split}annot")
  paths = sorted(glob.glob(os.path.join(label_dir, "*.png")))
  if not paths:
    raise InputError(label_dir, "no label PNGs found (expected SegNet's CamVid layout: {split}/, {split}annot/)")
  for label_path in paths:
    name = os.path.splitext(os.path.basename(label_path))[0]
    image_path = os.path.join(root, split, os.path.basename(label_path))
    bgr = cv2.imread(image_path, cv2.IMREAD_COLOR)
    if bgr is None:
      raise VideoError(image_path, "missing or unreadable: the frame of label " + label_path)
    yield name, bgr[..., ::-1], label_files.read_label(label_path, bgr.shape[:2], dataset_info.CAMVID)


def write_clips(stills, out_root: str, split: str, info: dataset_info.DatasetInfo, size: Tuple[int, int],
                length: int = 12, clips_per_still: int = 1, motion: CameraMotion = CameraMotion(),
                seed: int = 0, limit: Optional[int] = None) -> int:
  """Writes a clip of `length` frames per still and draw into a `labelled_video` tree::

    OUT/dataset.json                                 `info` (train ids, 255 = ignore)
    OUT/{split}/videos/{name}_c{k}/{t:03d}.png       the frames (a folder of numbered frames)
    OUT/{split}/labels/{name}_c{k}_{t:06d}.png       every frame's label

  Each draw is seeded by (seed, still index, k), so a rerun writes the same bytes and an
  interrupted run resumes: a clip whose last label exists is skipped. Every file is written
  atomically. Returns the number of clips in the tree.
  """
  if info.label_encoding != "train_ids" or dataset_info.IGNORE_LABEL not in info.ignore_ids:
    raise ValueError(f"write_clips: {info.name} must take train ids with {dataset_info.IGNORE_LABEL} as ignore")
  dataset_info.write_to_directory(out_root, info, "clip tree")
  clips = 0
  for index, (name, image, label) in enumerate(stills):
    if limit is not None and index >= limit:
      break
    for k in range(clips_per_still):
      clip = f"{name}_c{k}"
      video_dir = os.path.join(out_root, split, "videos", clip)
      label_path = lambda t: os.path.join(out_root, split, "labels", f"{clip}_{t:06d}.png")
      clips += 1
      if os.path.exists(label_path(length - 1)):
        continue
      rng = np.random.default_rng([seed, index, k])
      path = draw_path(rng, motion, length, image.shape[:2], size)
      frames, labels = render_clip(image, label, homographies(path, length, image.shape[:2], size,
                                                              motion.first_zoom), size)
      os.makedirs(video_dir, exist_ok=True)
      os.makedirs(os.path.dirname(label_path(0)), exist_ok=True)
      for t in range(length):
        synthetic.write_png(os.path.join(video_dir, f"{t:03d}.png"), frames[t][..., ::-1])
      for t in range(length):  # labels last: the last label marks a whole clip
        synthetic.write_png(label_path(t), labels[t])
  return clips

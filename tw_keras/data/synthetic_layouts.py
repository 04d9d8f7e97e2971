"""The built-in benchmark written in the other labelled layouts: CamVid's and `labelled_video`.

They let the CamVid and own-data paths run end to end on a machine without CamVid (tests,
a first try of `--dataset=camvid` / `--dataset=labelled_video`). The scenes are the
benchmark's (`synthetic.render_snippet`); their Cityscapes classes are mapped to the layout's
class table by name (`TO_CAMVID`, `TO_FIVE`), and each snippet becomes one video.

* `write_camvid(root, ...)`: `videos/{seq}.mp4`, `{split}annot/{seq}_{n}.png` index labels at
  half the video's size (as SegNet's copy: 11 = void), and the half-size stills
  `{split}/{seq}_{n}.png`; CamVid's class table (`dataset_info.CAMVID`).
* `write_labelled_video(root, ...)`: `dataset.json` (`FIVE`, colour labels),
  `{split}/videos/{name}.mp4` and `{split}/labels/{name}_{frame:06d}.png` (RGB).

Labels are written for `labelled` frames of each video; frames before `num_frames - 1` have
too short a history and exercise the preparation's skip count.
"""

import os
from typing import Dict, Sequence

import cv2
import numpy as np

from tw_keras import dataset_info
from tw_keras.data import synthetic
from tw_keras.video.writer import VideoWriter

# Cityscapes class -> CamVid class (names of `dataset_info.CAMVID`); absent: void.
TO_CAMVID = {"road": "road", "sidewalk": "pavement", "building": "building", "wall": "building",
             "fence": "fence", "pole": "pole", "traffic light": "sign symbol", "traffic sign": "sign symbol",
             "vegetation": "tree", "sky": "sky", "person": "pedestrian", "rider": "bicyclist",
             "car": "car", "truck": "car", "bus": "car", "train": "car", "motorcycle": "bicyclist",
             "bicycle": "bicyclist"}
# A small custom class table with colour labels: what a user's own `dataset.json` looks like.
FIVE = dataset_info.DatasetInfo("street5", tuple(dataset_info.ClassInfo(n, c, cat) for n, c, cat in [
    ("ground", (128, 64, 128), "flat"), ("structure", (70, 70, 70), "structure"),
    ("vegetation", (107, 142, 35), "nature"), ("sky", (70, 130, 180), "sky"),
    ("agent", (220, 20, 60), "agent")]), "colour", ignore_colors=((0, 0, 0),))
TO_FIVE = {"road": "ground", "sidewalk": "ground", "terrain": "ground", "building": "structure",
           "wall": "structure", "fence": "structure", "pole": "structure", "traffic light": "structure",
           "traffic sign": "structure", "vegetation": "vegetation", "sky": "sky", "person": "agent",
           "rider": "agent", "car": "agent", "truck": "agent", "bus": "agent", "train": "agent",
           "motorcycle": "agent", "bicycle": "agent"}


def class_map(mapping: Dict[str, str], target: dataset_info.DatasetInfo) -> np.ndarray:
  """[256] uint8: a benchmark train id -> `target`'s train id (IGNORE_LABEL where unmapped)."""
  table = np.full(256, dataset_info.IGNORE_LABEL, np.uint8)
  ids = target.train_id
  for i, name in enumerate(dataset_info.SYNTHETIC.class_names):
    if name in mapping:
      table[i] = ids[mapping[name]]
  return table


def _write_png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  synthetic.write_png(path, array)


def _render(config, split, sequence, labelled, video_path, write_label):
  """Renders one snippet into `video_path` and calls write_label(frame, rgb, train_ids) for
  each of the `labelled` frames."""
  os.makedirs(os.path.dirname(video_path), exist_ok=True)
  writer = VideoWriter(video_path, 17, config.width, config.height, codec="mpeg4")
  ok = False
  try:
    for n, (rgb, lab) in enumerate(synthetic.render_snippet(config, split, sequence)):
      writer.write(rgb)
      if n in labelled:
        write_label(n, rgb, lab)
    ok = True
  finally:
    writer.close(ok)


def write_camvid(root: str, height: int = 128, width: int = 192, num_frames: int = 24,
                 sequences: Sequence = (("train", 2), ("val", 1)), labelled: Sequence[int] = (5, 11, 23),
                 seed: int = 0):
  """The benchmark in SegNet's CamVid layout (module doc), videos at height x width."""
  table = class_map(TO_CAMVID, dataset_info.CAMVID)
  void = dataset_info.CAMVID.ignore_ids[0]
  for split, count in sequences:
    config = synthetic.SyntheticConfig(height=height, width=width, num_frames=num_frames, seed=seed)
    for s in range(count):
      seq = f"{split[:2]}{s:02d}TP"
      half = (width // 2, height // 2)

      def write_label(n, rgb, lab, seq=seq):
        ids = table[lab]
        ids[ids == dataset_info.IGNORE_LABEL] = void
        _write_png(os.path.join(root, f"{split}annot", f"{seq}_f{n:05d}.png"),
                   cv2.resize(ids, half, interpolation=cv2.INTER_NEAREST))
        _write_png(os.path.join(root, split, f"{seq}_f{n:05d}.png"),
                   cv2.resize(np.ascontiguousarray(rgb[..., ::-1]), half, interpolation=cv2.INTER_AREA))
      _render(config, split, s, set(labelled), os.path.join(root, "videos", f"{seq}.mp4"), write_label)


def write_labelled_video(root: str, height: int = 64, width: int = 128, num_frames: int = 24,
                         sequences: Sequence = (("train", 2), ("val", 1)), labelled: Sequence[int] = (5, 11, 23),
                         seed: int = 0, info: dataset_info.DatasetInfo = FIVE):
  """The benchmark in the `labelled_video` layout with `info`'s classes (module doc)."""
  table = class_map(TO_FIVE, info)
  os.makedirs(root, exist_ok=True)
  dataset_info.save(os.path.join(root, dataset_info.DESCRIPTOR), info)
  for split, count in sequences:
    config = synthetic.SyntheticConfig(height=height, width=width, num_frames=num_frames, seed=seed)
    for s in range(count):
      name = f"clip{s:02d}"

      def write_label(n, rgb, lab, name=name, split=split):
        ids = table[lab]
        colour = info.colorize(ids)  # ignore -> black, the descriptor's ignore colour
        _write_png(os.path.join(root, split, "labels", f"{name}_{n:06d}.png"), colour[..., ::-1])
      _render(config, split, s, set(labelled), os.path.join(root, split, "videos", f"{name}.mp4"), write_label)

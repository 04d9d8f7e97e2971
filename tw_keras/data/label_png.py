"""Cityscapes labelId PNGs: the file names and the writing, for evaluation and segmentation.

The official evaluator (`cityscapesscripts`) reads labelIds, not trainIds; predictions and
ground truth are written as `{city}_{seq:06d}_{frame:06d}{suffix}`.
"""

import os

import numpy as np

from tw_keras import fileio, labels
from tw_keras.data import features


def label_png_name(gop, frame_position: int) -> str:
  """Cityscapes-style file stem `{city}_{seq:06d}_{frame:06d}` for a frame of a GOP record."""
  seq_id = gop[features.CLIP_SEQUENCE_ID].numpy().decode()
  stem = os.path.basename(seq_id)
  frame = int(gop[features.CLIP_FRAME_INDEX][frame_position])
  return f"{stem}_{frame:06d}"


def write_label_png(directory: str, name: str, train_ids: np.ndarray, suffix: str):
  """Writes [H, W] trainIds as an official labelId PNG `{directory}/{name}{suffix}` (atomic)."""
  import cv2  # pylint: disable=g-import-not-at-top
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, name + suffix)
  with fileio.atomic_path(path) as tmp:
    if not cv2.imwrite(tmp, labels.train_ids_to_label_ids(train_ids)):
      raise OSError(f"{path}: could not write PNG")
  return path

"""Label PNGs: the file names and the writing, for evaluation and segmentation.

Values are the dataset's own (`DatasetInfo.label_png_ids`): Cityscapes' official labelIds,
which its evaluator (`cityscapesscripts`) reads, for a source-id dataset; train ids otherwise.
Predictions and ground truth are written as `{sequence}_{frame:06d}{suffix}`.
"""

import os

import numpy as np

from tw_keras import dataset_info, fileio
from tw_keras.data import features


def label_png_name(gop, frame_position: int) -> str:
  """File stem `{sequence}_{frame:06d}` of a frame of a GOP record (Cityscapes:
  `{city}_{seq:06d}_{frame:06d}`)."""
  seq_id = gop[features.CLIP_SEQUENCE_ID].numpy().decode()
  stem = os.path.basename(seq_id)
  frame = int(gop[features.CLIP_FRAME_INDEX][frame_position])
  return f"{stem}_{frame:06d}"


def write_label_png(directory: str, name: str, train_ids: np.ndarray, suffix: str,
                    info: dataset_info.DatasetInfo):
  """Writes [H, W] train ids as `{directory}/{name}{suffix}` in `info`'s encoding (atomic)."""
  import cv2  # pylint: disable=g-import-not-at-top
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, name + suffix)
  with fileio.atomic_path(path) as tmp:
    if not cv2.imwrite(tmp, info.label_png_ids(train_ids)):
      raise OSError(f"{path}: could not write PNG")
  return path

"""Reading a label file: THE one reader of every layout's labels, validated by the dataset
descriptor (`tw_keras.dataset_info`)."""

import os
from typing import Tuple

import cv2
import numpy as np

from tw_keras import dataset_info
from tw_keras.errors import LabelError


def read_label(path: str, size: Tuple[int, int], info: dataset_info.DatasetInfo = dataset_info.CITYSCAPES,
               resize: bool = False) -> np.ndarray:
  """Label PNG -> [H, W] uint8 train ids (255 = ignore), validated against `info`.

  Cityscapes' `*_labelTrainIds.png` are train ids and `*_labelIds.png` source ids; any other
  file is in `info.label_encoding`. The label must be the frame's `size` (h, w), or, with
  `resize`, have its aspect ratio (then it is resized nearest-neighbour to it).
  Raises LabelError naming the file: missing, unreadable, wrong size, or values (colours)
  outside the class table, with their pixel counts.
  """
  if not os.path.exists(path):
    raise LabelError(path, "missing label file")
  name = os.path.basename(path)
  encoding = ("train_ids" if name.endswith("labelTrainIds.png") else
              "source_ids" if name.endswith("labelIds.png") else info.label_encoding)
  lab = cv2.imread(path, cv2.IMREAD_COLOR if encoding == "colour" else cv2.IMREAD_UNCHANGED)
  if lab is None:
    raise LabelError(path, "not a readable label PNG")
  if encoding == "colour":
    lab = lab[..., ::-1]
  elif lab.ndim != 2:
    raise LabelError(path, f"not a single-channel label PNG (an index PNG of {info.name}'s "
                     f"{info.label_encoding.replace('_', ' ')}; colour labels need label_encoding colour)")
  h, w = lab.shape[:2]
  if (h, w) != tuple(size) and not (resize and h * size[1] == w * size[0]):
    raise LabelError(path, f"label size {w}x{h} does not match frame size {size[1]}x{size[0]}")
  train_ids = info.encode_label(lab, path, encoding)  # validated at the file's own size
  if (h, w) != tuple(size):
    train_ids = cv2.resize(train_ids, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
  return train_ids

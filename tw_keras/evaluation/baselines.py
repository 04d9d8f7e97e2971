"""Baselines that bound what a benchmark asks of a model: how far local colour alone gets."""

import numpy as np

from tw_keras import dataset_info
from tw_keras.data import layouts
from tw_keras.evaluation import metrics

COLOUR_BITS = 5      # the colour baseline's quantisation: 32 levels per channel
COLOUR_FRAME_STEP = 3  # ... and every third labelled frame of every snippet


def _colour_key(rgb):
  q = (rgb >> (8 - COLOUR_BITS)).astype(np.int64)
  return (q[..., 0] << (2 * COLOUR_BITS)) | (q[..., 1] << COLOUR_BITS) | q[..., 2]


def colour_baseline(train_root: str, val_root: str,
                    info: dataset_info.DatasetInfo = dataset_info.SYNTHETIC) -> float:
  """mIoU (percent) of local colour alone: quantised RGB -> the train split's most frequent class.

  The roots are Cityscapes-layout trees (`layouts.labelled_frames`): fitted on `train_root`'s
  train split, scored on `val_root`'s val split, every `COLOUR_FRAME_STEP`-th labelled frame;
  `info` gives the classes of their labels."""
  k = info.num_classes
  counts = np.zeros((1 << (3 * COLOUR_BITS), k), np.int64)
  for rgb, lab in layouts.labelled_frames(train_root, "train", COLOUR_FRAME_STEP, info):
    valid = lab < k
    np.add.at(counts, (_colour_key(rgb)[valid], lab[valid]), 1)
  lookup = counts.argmax(1)
  conf = sum(metrics.confusion_matrix(lab, lookup[_colour_key(rgb)], k)
             for rgb, lab in layouts.labelled_frames(val_root, "val", COLOUR_FRAME_STEP, info))
  return float(metrics.mean_iou(conf) * 100)

"""Segmentation metrics: confusion matrix, per-class IoU, mIoU and category IoU.

IoU follows the official `cityscapesscripts` evaluator: for class c, TP / (TP + FP + FN),
where pixels whose ground truth is ignore (255) are dropped; a class with TP + FP + FN = 0
(absent from the ground truth and never predicted) is NaN and left out of the mean.
Category IoU merges classes into their dataset's categories (`DatasetInfo.categories`; the 7
of Cityscapes) before taking IoU.
"""

from typing import Dict

import numpy as np

from tw_keras import dataset_info


def confusion_matrix(gt, pred, num_classes: int) -> np.ndarray:
  """[K, K] int64 counts, rows = ground truth, columns = prediction; gt IGNORE_LABEL dropped.

  Args:
    gt, pred: integer arrays of the same shape (train ids).
  Raises:
    ValueError: a prediction outside 0..K-1, or ground truth that is neither a class nor
      ignore (a model and data of different class tables), instead of dropping them.
  """
  gt = np.asarray(gt).reshape(-1).astype(np.int64)
  pred = np.asarray(pred).reshape(-1).astype(np.int64)
  if gt.shape != pred.shape:
    raise ValueError(f"shape mismatch: gt {gt.shape} vs pred {pred.shape}")
  keep = gt != dataset_info.IGNORE_LABEL
  for name, values in (("ground truth", gt[keep]), ("prediction", pred)):
    if values.size and (values.min() < 0 or values.max() >= num_classes):
      raise ValueError(f"{name} value {values.min() if values.min() < 0 else values.max()} is outside "
                       f"the {num_classes} classes")
  gt, pred = gt[keep], pred[keep]
  return np.bincount(gt * num_classes + pred, minlength=num_classes ** 2).reshape(
      num_classes, num_classes)


def iou_per_class(conf: np.ndarray) -> np.ndarray:
  """[K] IoU, NaN where the class is neither in the ground truth nor predicted."""
  conf = np.asarray(conf, np.float64)
  tp = np.diag(conf)
  denom = conf.sum(0) + conf.sum(1) - tp
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)


def mean_iou(conf: np.ndarray) -> float:
  ious = iou_per_class(conf)
  return float(np.nanmean(ious)) if np.isfinite(ious).any() else float("nan")


def category_confusion(conf: np.ndarray, info: dataset_info.DatasetInfo) -> np.ndarray:
  """[K, K] class confusion -> [C, C] category confusion (C = len(info.categories))."""
  onehot = np.eye(len(info.categories), dtype=np.int64)[info.category_of_class]  # [K, C]
  return onehot.T @ np.asarray(conf, np.int64) @ onehot


def summarize(conf: np.ndarray, info: dataset_info.DatasetInfo) -> Dict[str, object]:
  """mIoU, per-class IoU and category IoU (in percent; NaN -> None) of a [K, K] confusion
  matrix, named by `info`'s classes and categories."""
  pct = lambda v: None if not np.isfinite(v) else round(100.0 * float(v), 2)
  ious = iou_per_class(conf)
  cat = iou_per_class(category_confusion(conf, info))
  return {
      "miou": pct(mean_iou(conf)),
      "class_iou": {n: pct(v) for n, v in zip(info.class_names, ious)},
      "category_miou": pct(np.nanmean(cat)) if np.isfinite(cat).any() else None,
      "category_iou": {n: pct(v) for n, v in zip(info.categories, cat)},
  }

"""Segmentation metrics: confusion matrix, per-class IoU, mIoU and Cityscapes category IoU.

IoU follows the official `cityscapesscripts` evaluator: for class c, TP / (TP + FP + FN),
where pixels whose ground truth is ignore (255) are dropped; a class with TP + FP + FN = 0
(absent from the ground truth and never predicted) is NaN and left out of the mean.
Category IoU merges classes into the 7 Cityscapes categories before taking IoU.
"""

from typing import Dict

import numpy as np

from tw_keras import labels


def confusion_matrix(gt, pred, num_classes: int = labels.NUM_CLASSES) -> np.ndarray:
  """[K, K] int64 counts, rows = ground truth, columns = prediction; gt 255 ignored.

  Args:
    gt, pred: integer arrays of the same shape (trainIds).
  """
  gt = np.asarray(gt).reshape(-1).astype(np.int64)
  pred = np.asarray(pred).reshape(-1).astype(np.int64)
  if gt.shape != pred.shape:
    raise ValueError(f"shape mismatch: gt {gt.shape} vs pred {pred.shape}")
  keep = (gt >= 0) & (gt < num_classes) & (pred >= 0) & (pred < num_classes)
  return np.bincount(gt[keep] * num_classes + pred[keep], minlength=num_classes ** 2).reshape(
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


def category_confusion(conf: np.ndarray) -> np.ndarray:
  """[19, 19] class confusion -> [7, 7] category confusion."""
  onehot = np.eye(len(labels.CATEGORIES), dtype=np.int64)[labels.CATEGORY_OF_CLASS]  # [19, 7]
  return onehot.T @ np.asarray(conf, np.int64) @ onehot


def summarize(conf: np.ndarray) -> Dict[str, object]:
  """mIoU, per-class IoU and category IoU (in percent; NaN -> None) of a confusion matrix."""
  pct = lambda v: None if not np.isfinite(v) else round(100.0 * float(v), 2)
  ious = iou_per_class(conf)
  cat = iou_per_class(category_confusion(conf))
  return {
      "miou": pct(mean_iou(conf)),
      "class_iou": {n: pct(v) for n, v in zip(labels.CLASS_NAMES, ious)},
      "category_miou": pct(np.nanmean(cat)) if np.isfinite(cat).any() else None,
      "category_iou": {n: pct(v) for n, v in zip(labels.CATEGORIES, cat)},
  }

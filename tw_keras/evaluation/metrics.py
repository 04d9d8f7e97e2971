"""Segmentation metrics: confusion matrix, per-class IoU, mIoU and category IoU.

IoU follows the official `cityscapesscripts` evaluator: for class c, TP / (TP + FP + FN),
where pixels whose ground truth is ignore (255) are dropped; a class with TP + FP + FN = 0
(absent from the ground truth and never predicted) is NaN and left out of the mean.
Category IoU merges classes into their dataset's categories (`DatasetInfo.categories`; the 7
of Cityscapes) before taking IoU.
"""

from typing import Dict, Optional

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
  """mIoU, per-class IoU, category IoU and pixel accuracy (in percent; NaN -> None) of a [K, K]
  confusion matrix, named by `info`'s classes and categories."""
  pct = lambda v: None if not np.isfinite(v) else round(100.0 * float(v), 2)
  ious = iou_per_class(conf)
  cat = iou_per_class(category_confusion(conf, info))
  return {
      "miou": pct(mean_iou(conf)),
      "class_iou": {n: pct(v) for n, v in zip(info.class_names, ious)},
      "category_miou": pct(np.nanmean(cat)) if np.isfinite(cat).any() else None,
      "category_iou": {n: pct(v) for n, v in zip(info.categories, cat)},
      "pixel_accuracy": pct(pixel_accuracy(conf)),
  }


def pixel_accuracy(conf: np.ndarray) -> float:
  """Correct pixels / labelled pixels (NaN when none is labelled)."""
  conf = np.asarray(conf, np.float64)
  return float(np.trace(conf) / conf.sum()) if conf.sum() else float("nan")


def mean_miou_over_d(conf: np.ndarray) -> float:
  """[D, K, K] per-distance confusions -> the mean over d of their mIoU (distances where
  nothing was scored are left out)."""
  mious = [mean_iou(c) for c in conf if np.asarray(c).sum()]
  return float(np.mean(mious)) if mious else float("nan")


BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 2026


def bootstrap_interval(per_sample: np.ndarray, statistic=mean_miou_over_d, level: float = 0.95,
                       samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED):
  """The percentile bootstrap interval of `statistic(sum of the resampled per-sample confusions)`.

  Args:
    per_sample: [N, ...] one confusion (e.g. [D, K, K]) per independent sample (a GOP, a
      snippet, a frame): resampled N at a time with replacement, `samples` times, seeded.
    statistic: summed confusion -> number (default: mIoU averaged over d).
  Returns:
    (low, high) in the statistic's units (percent if it gives percent); (nan, nan) for N = 0.
  """
  per_sample = np.asarray(per_sample)
  n = len(per_sample)
  if n == 0:
    return float("nan"), float("nan")
  rng = np.random.default_rng(seed)
  stats = [statistic(per_sample[rng.integers(0, n, n)].sum(0)) for _ in range(samples)]
  tail = (1 - level) / 2 * 100
  low, high = np.nanpercentile(stats, [tail, 100 - tail])
  return float(low), float(high)


def warp_labels(labels: np.ndarray, motion: np.ndarray) -> np.ndarray:
  """[H, W] labels of frame t-1 carried to frame t by `motion` ([H, W, 2] pixels, dst - src,
  on frame t's pixels): out(p) = labels(round(p - motion(p))), nearest neighbour (labels are
  not blended); IGNORE_LABEL where the source falls outside the frame."""
  h, w = labels.shape
  yy, xx = np.mgrid[:h, :w]
  sx = np.floor(xx - motion[..., 0] + 0.5).astype(np.int64)
  sy = np.floor(yy - motion[..., 1] + 0.5).astype(np.int64)
  inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
  out = np.full((h, w), dataset_info.IGNORE_LABEL, np.asarray(labels).dtype)
  out[inside] = labels[sy[inside], sx[inside]]
  return out


def temporal_consistency_counts(previous: np.ndarray, current: np.ndarray, motion: np.ndarray, num_classes: int,
                                valid=None):
  """Per-class (intersection [K], union [K]) of frame t's prediction and frame t-1's carried
  to it (`warp_labels`), over pixels visible in both frames (`valid`, [H, W] bool: the exact
  flow's mask; None: every pixel whose source is inside the frame)."""
  warped = warp_labels(previous, motion)
  keep = warped != dataset_info.IGNORE_LABEL
  if valid is not None:
    keep &= valid
  a, b = warped[keep].astype(np.int64), np.asarray(current)[keep].astype(np.int64)
  inter = np.bincount(a[a == b], minlength=num_classes)[:num_classes]
  union = (np.bincount(a, minlength=num_classes)[:num_classes] + np.bincount(b, minlength=num_classes)[:num_classes]
           - inter)
  return inter, union


def temporal_consistency(inter: np.ndarray, union: np.ndarray) -> Optional[float]:
  """TC (percent): the mean over classes (union > 0) of summed intersections over summed unions,
  as Liu et al. (ECCV 2020) define it, here with nearest-neighbour label warping and only
  pixels visible in both frames."""
  inter, union = np.asarray(inter, np.float64), np.asarray(union, np.float64)
  seen = union > 0
  return round(100.0 * float(np.mean(inter[seen] / union[seen])), 2) if seen.any() else None


class ConsistencyCounts:
  """THE temporal-consistency accumulator, whatever the motion comes from (the exact flow in
  `distance_protocol.evaluate` and `scheduler_study.evaluate_schedulers`, DIS in `stream_stats.ConsistencyMeter`):
  per-class intersection and union summed over consecutive frame pairs (`add`)."""

  def __init__(self, num_classes: int):
    self.num_classes = num_classes
    self.inter = np.zeros(num_classes, np.int64)
    self.union = np.zeros(num_classes, np.int64)

  def add(self, previous: np.ndarray, current: np.ndarray, motion: np.ndarray, valid=None):
    """[H, W] labels of frames t-1 and t, [H, W, 2] motion t-1 -> t (pixels), [H, W] bool or None
    (`temporal_consistency_counts`)."""
    inter, union = temporal_consistency_counts(previous, current, motion, self.num_classes, valid)
    self.inter += inter
    self.union += union

  @property
  def counts(self) -> tuple:
    """([K] intersections, [K] unions)."""
    return self.inter, self.union

  @property
  def value(self) -> Optional[float]:
    """TC in percent (`temporal_consistency`), None before any pair."""
    return temporal_consistency(self.inter, self.union)

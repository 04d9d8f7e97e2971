"""How far a model looks: its mIoU with the input rescaled, and the reach of its input
gradient (the share beyond a radius, and the receptive field), for the study's question of
how much context a benchmark rewards (`benchmarks/context_use.py`)."""

import cv2
import numpy as np
import tensorflow as tf

from tw_keras.evaluation import metrics
from tw_keras.model import models



def miou_at_scale(model, pairs, scale: float) -> float:
  """mIoU (percent) of a per-frame CNN `model` on `pairs` ([H, W, 3] RGB uint8, [H, W] trainIds)
  with the input resized by `scale` (to multiples of 32) and the logits resized back."""
  logits_of = tf.function(lambda x: model(x, training=False)[models.PRED_LOGITS])
  conf = 0
  for rgb, lab in pairs:
    h, w = lab.shape
    m = models.INPUT_MULTIPLE  # resized inputs are rounded to the encoder's output stride
    size = [max(m, int(round(v * scale / m)) * m) for v in (w, h)]
    x = cv2.resize(rgb, tuple(size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    logits = tf.image.resize(logits_of(tf.constant(x[None], tf.float32)), (h, w), method="bilinear")
    conf = conf + metrics.confusion_matrix(lab, tf.argmax(logits[0], -1).numpy(), logits.shape[-1])
  return float(metrics.mean_iou(conf) * 100)


def gradient_reach(model, pairs, radius: float):
  """(mean share of |d max-score / d input| farther than `radius` px from each probe pixel,
  (height, width) of the largest box of input pixels with a non-zero gradient: the receptive field)."""
  shares, field = [], (0, 0)
  for rgb, _ in pairs:
    h, w = rgb.shape[:2]
    x = tf.constant(rgb[None], tf.float32)
    yy, xx = np.mgrid[:h, :w]
    for fy, fx in ((0.5, 0.5), (0.6, 0.25), (0.4, 0.75)):  # centre, lower left, upper right
      with tf.GradientTape() as tape:
        tape.watch(x)
        scores = model(x, training=False)[models.PRED_SCORES]
        sh, sw = scores.shape[1:3]
        r, c = int(fy * sh), int(fx * sw)
        y = tf.reduce_max(scores[0, r, c])
      g = np.abs(tape.gradient(y, x).numpy()[0]).sum(-1)
      dist = np.hypot(yy - (r + 0.5) * h / sh, xx - (c + 0.5) * w / sw)
      shares.append(float(g[dist > radius].sum() / max(g.sum(), 1e-30)))
      rows, cols = np.nonzero(g.any(1))[0], np.nonzero(g.any(0))[0]
      if rows.size:
        field = max(field, (int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)))
  return float(np.mean(shares)), field

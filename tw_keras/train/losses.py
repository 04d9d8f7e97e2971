"""Training losses: softmax cross-entropy with an ignore label, the CFR consistency loss, and L2
weight decay (on the kernels `decayed_kernels` picks)."""

import keras
import numpy as np
import tensorflow as tf

from tw_keras import dataset_info


def masked_cross_entropy(gt, logits, class_weights=None):
  """Mean softmax cross-entropy over pixels whose label is not 255.

  Args:
    gt: [B, H, W] int trainIds (255 = ignore).
    logits: [B, H, W, K].
    class_weights: optional [K] float: pixel of class c weighs class_weights[c], and the mean
      is over the weights (PyTorch's `CrossEntropyLoss(weight=...)`).
  Returns:
    Scalar float32; 0 when no pixel is labelled.
  """
  gt = tf.cast(gt, tf.int32)
  valid = tf.not_equal(gt, dataset_info.IGNORE_LABEL)
  safe = tf.where(valid, gt, tf.zeros_like(gt))
  ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=tf.cast(logits, tf.float32))
  weight = tf.cast(valid, tf.float32)
  if class_weights is not None:
    weight *= tf.gather(tf.constant(class_weights, tf.float32), safe)
  return tf.math.divide_no_nan(tf.reduce_sum(tf.where(valid, ce, 0.0) * weight), tf.reduce_sum(weight))


def median_frequency_weights(pixels: np.ndarray, image_pixels: np.ndarray) -> np.ndarray:
  """SegNet's median-frequency balancing (Eigen & Fergus 2015): freq(c) = pixels of class c /
  pixels of the images in which c appears; weight(c) = median(freq) / freq(c).

  Args:
    pixels: [K] pixel count of each class over the training labels.
    image_pixels: [K] labelled pixels of the images in which each class appears.
  Returns:
    [K] float32 (a class that never appears gets weight 0).
  """
  pixels, image_pixels = np.asarray(pixels, np.float64), np.asarray(image_pixels, np.float64)
  seen = pixels > 0
  freq = np.where(seen, pixels / np.maximum(image_pixels, 1), 0.0)
  return np.where(seen, np.median(freq[seen]) / np.where(seen, freq, 1.0), 0.0).astype(np.float32)


def consistency_loss(corrected, target):
  """Paper eq. 8's L2 term: mean squared distance between the corrected context features
  and the per-frame CNN's features of the same frame (the target gets no gradient).

  corrected, target: [B, h, w, C].
  """
  diff = tf.cast(corrected, tf.float32) - tf.stop_gradient(tf.cast(target, tf.float32))
  return tf.reduce_mean(tf.square(diff))


def weight_decay_loss(kernels, factor: float):
  """factor * sum of squares of `kernels` (pick them with `losses.decayed_kernels`)."""
  if not factor or not kernels:
    return tf.constant(0.0)
  return factor * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in kernels])


_KERNEL_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def decayed_kernels(model: keras.Model, among=None):
  """The kernels that L2 weight decay applies to: those of every convolution (depthwise too)
  and dense layer inside `model`, nested layers included; biases and BN parameters are not.
  With `among` (variables), only kernels that are also in it (e.g. the trainable ones)."""
  kernels = {id(layer.kernel) for layer in model._flatten_layers(include_self=False, recursive=True)  # pylint: disable=protected-access
             if isinstance(layer, _KERNEL_LAYERS)}
  return [v for v in (model.weights if among is None else among) if id(v) in kernels]  # in weight order

"""Decoder layers of the per-frame CNN (paper section 4; docs/CONVENTIONS.md "light FPN").

Pyramid pooling on the stride-32 map, then three lateral connections producing
Layer1/2/3 (strides 16/8/4), then the classifier. Each lateral connection is split into
its lateral projection (`ConvBNReLU`, 1x1) and its fusion (`UpsampleAddConv`), because the
non-key-frame CNN reuses the projection as CFR's "spatial features".
"""

import keras
import tensorflow as tf

from tw_keras.model import resize


def _resize_to(x, like):
  return resize.bilinear(x, tf.shape(like)[1:3])


@keras.saving.register_keras_serializable(package="tw_keras")
class ConvBNReLU(keras.layers.Layer):
  """Conv2D (no bias) + BatchNorm + ReLU.

  Args:
    filters: output channels.
    kernel_size: square kernel size.

  Weight decay is the training loop's (`losses.decayed_kernels`), not the layer's.
  """

  def __init__(self, filters, kernel_size=1, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.conv = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name="conv")
    self.bn = keras.layers.BatchNormalization(name="bn")

  def build(self, input_shape):
    self.conv.build(input_shape)
    self.bn.build(self.conv.compute_output_shape(input_shape))

  def call(self, x, training=None):
    """x: [B, h, w, C] -> [B, h, w, filters]."""
    return tf.nn.relu(self.bn(self.conv(x), training=training))

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.filters)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="tw_keras")
class PyramidPooling(keras.layers.Layer):
  """PSP-style pyramid pooling: 1x1 to `filters`; bins average-pooled, 1x1 to `bin_filters`,
  upsampled; concat; 1x1 to `out_filters`.

  Args:
    filters: channels of the input projection (512 in the paper).
    bins: pooling grid sizes (1, 2, 4, 8).
    bin_filters: channels per bin branch (128).
    out_filters: output channels (256).
  """

  def __init__(self, filters=512, bins=(1, 2, 4, 8), bin_filters=128, out_filters=256, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.bins, self.bin_filters = filters, tuple(bins), bin_filters
    self.out_filters = out_filters
    self.reduce = ConvBNReLU(filters, 1, name="reduce")
    # One attribute per branch, not a list: tf.train.Checkpoint does not see layers that a
    # Keras 3 layer holds in a Python list (their BatchNorm statistics would not be saved).
    for b in self.bins:
      setattr(self, f"bin{b}", ConvBNReLU(bin_filters, 1, name=f"bin{b}"))
    self.project = ConvBNReLU(out_filters, 1, name="project")

  @property
  def branches(self):
    return [getattr(self, f"bin{b}") for b in self.bins]

  def build(self, input_shape):
    self.reduce.build(input_shape)
    for br in self.branches:
      br.build((*input_shape[:-1], self.filters))
    self.project.build((*input_shape[:-1], self.filters + len(self.bins) * self.bin_filters))

  def call(self, x, training=None):
    """x: [B, h, w, C] (stride 32) -> [B, h, w, out_filters]."""
    x = self.reduce(x, training=training)
    size = tf.shape(x)[1:3]
    parts = [x]
    for b, branch in zip(self.bins, self.branches):
      pooled = resize.adaptive_average_pool(x, (b, b))
      parts.append(resize.bilinear(branch(pooled, training=training), size))
    return self.project(tf.concat(parts, axis=-1), training=training)

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.out_filters)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters, "bins": list(self.bins),
            "bin_filters": self.bin_filters, "out_filters": self.out_filters}


@keras.saving.register_keras_serializable(package="tw_keras")
class UpsampleAddConv(keras.layers.Layer):
  """Fusion half of a lateral connection: bilinear-upsample `main` to `lateral`'s size,
  add the (already projected) lateral features, 3x3 conv-BN-ReLU to `filters`.

  Inputs: (main [B, h, w, C], lateral [B, 2h, 2w, C]) -> [B, 2h, 2w, filters].
  """

  def __init__(self, filters, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.fuse = ConvBNReLU(filters, 3, name="fuse")

  def build(self, input_shape):
    self.fuse.build(input_shape[1])

  def call(self, inputs, training=None):
    main, lateral = inputs
    return self.fuse(_resize_to(main, lateral) + lateral, training=training)

  def compute_output_shape(self, input_shape):
    return (*input_shape[1][:-1], self.filters)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="tw_keras")
class Classifier(keras.layers.Layer):
  """3x3 conv to class scores. [B, h, w, C] -> [B, h, w, num_classes] float32 scores."""

  def __init__(self, num_classes, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.conv = keras.layers.Conv2D(num_classes, 3, padding="same", name="conv")

  def build(self, input_shape):
    self.conv.build(input_shape)

  def call(self, x):
    return tf.cast(self.conv(x), tf.float32)

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], self.num_classes)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="tw_keras")
class BilinearUpsample(keras.layers.Layer):
  """[B, h, w, C] -> [B, h*factor, w*factor, C], bilinear (scores to input resolution)."""

  def __init__(self, factor=4, **kwargs):
    super().__init__(**kwargs)
    self.factor = factor

  def call(self, x):
    return resize.bilinear(x, tf.shape(x)[1:3] * self.factor)

  def compute_output_shape(self, input_shape):
    up = lambda v: None if v is None else v * self.factor
    return (input_shape[0], up(input_shape[1]), up(input_shape[2]), input_shape[3])

  def get_config(self):
    return {**super().get_config(), "factor": self.factor}

"""The correction stage (paper section 4.3): Context Feature Rectification and
Residual-Guided Attention.

CFR (eq. 5): a single conv layer on concat(warped context, spatial features) predicts a
feature-space residual that is added to the warped features.
RGA (eqs. 6-7): the image-space residual map, resized to the feature size, goes through
one conv layer and a sigmoid; the resulting spatial attention multiplies CFR's residual:

    corrected = warped + RGA(residual) * CFR(concat(warped, spatial))

Kernel sizes: CFR is 3x3 (with 128 + 128 input channels at stride 16 this is the paper's
+2.42 GFLOPs at 1024x2048 for Layer1, counting multiply-adds); RGA is 3x3 from 3 channels
to a single attention map (the paper's ~+0.001 GFLOPs).
"""

import keras
import tensorflow as tf

from tw_keras.model import warp


@keras.saving.register_keras_serializable(package="tw_keras")
class ContextFeatureRectification(keras.layers.Layer):
  """CFR. Inputs (warped [B,h,w,C], spatial [B,h,w,S], optional attention [B,h,w,1]) -> [B,h,w,C].

  Args:
    kernel_size: of the single conv layer (3).
  """

  def __init__(self, kernel_size=3, **kwargs):
    super().__init__(**kwargs)
    self.kernel_size = kernel_size

  def build(self, input_shape):
    channels = input_shape[0][-1]
    # Zero-initialised: a fresh CFR is the identity, so stage 2 starts from plain warping.
    self.conv = keras.layers.Conv2D(channels, self.kernel_size, padding="same", name="conv",
                                    kernel_initializer="zeros")
    self.conv.build((*input_shape[0][:-1], channels + input_shape[1][-1]))

  def call(self, inputs):
    warped, spatial = inputs[0], inputs[1]
    residual = self.conv(tf.concat([warped, tf.cast(spatial, warped.dtype)], axis=-1))
    if len(inputs) > 2:
      residual = residual * tf.cast(inputs[2], residual.dtype)
    return warped + residual

  def compute_output_shape(self, input_shape):
    return input_shape[0]

  def get_config(self):
    return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="tw_keras")
class ResidualGuidedAttention(keras.layers.Layer):
  """RGA. Inputs (residual map [B,H,W,3] in [-255, 255], like [B,H/s,W/s,C]) -> attention [B,H/s,W/s,1].

  The residual magnitude |r|/255 is average-pooled over stride x stride cells (edge-padded
  to a multiple of the stride first) to `like`'s size, then one conv and a sigmoid.

  Args:
    stride: ratio of the residual map's size to the features' size (16 for Layer1).
    kernel_size: of the single conv layer (3).
  """

  def __init__(self, stride=16, kernel_size=3, **kwargs):
    super().__init__(**kwargs)
    self.stride = stride
    self.kernel_size = kernel_size
    # Bias +2: a fresh RGA passes ~88% of CFR's residual everywhere.
    self.conv = keras.layers.Conv2D(1, kernel_size, padding="same", name="conv",
                                    bias_initializer=keras.initializers.Constant(2.0))

  def build(self, input_shape):
    self.conv.build((*input_shape[1][:-1], 3))

  def call(self, inputs):
    residual, like = inputs
    # Residual energy: where prediction failed, whatever the sign.
    energy = tf.abs(tf.cast(residual, tf.float32)) / 255.0
    small = warp.pool_to_stride(energy, self.stride)
    small = small[:, :tf.shape(like)[1], :tf.shape(like)[2]]
    return tf.sigmoid(self.conv(tf.cast(small, self.compute_dtype)))

  def compute_output_shape(self, input_shape):
    return (*input_shape[1][:-1], 1)

  def get_config(self):
    return {**super().get_config(), "stride": self.stride, "kernel_size": self.kernel_size}

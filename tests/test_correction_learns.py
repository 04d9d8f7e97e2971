"""CFR and RGA can learn, independently of any benchmark.

Warped features are wrong in a known region; the residual map is large exactly there; the
spatial features are a noisy view of the truth. A short training run must bring the
corrected features closer to the truth in that region, leave the right ones alone, and
teach RGA to attend where the residual is.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from tw_keras.model import correction

B, H, W, C, STRIDE = 8, 8, 8, 4, 4


def batch(rng):
  truth = rng.normal(size=(B, H, W, C)).astype(np.float32)
  wrong = rng.normal(size=(B, H, W, C)).astype(np.float32)
  region = np.zeros((B, H, W, 1), bool)
  for b in range(B):
    y, x = rng.integers(0, H - 3), rng.integers(0, W - 3)
    region[b, y:y + 3, x:x + 3] = True
  warped = np.where(region, wrong, truth)
  spatial = truth + 0.3 * rng.normal(size=truth.shape).astype(np.float32)
  big = np.repeat(np.repeat(region, STRIDE, 1), STRIDE, 2)
  residual = np.where(big, 200.0, 0.0) * rng.choice([-1, 1], size=(B, H * STRIDE, W * STRIDE, 3))
  residual += rng.normal(scale=3.0, size=residual.shape)
  return warped, spatial, residual.astype(np.float32), truth, region[..., 0]


def test_cfr_and_rga_learn_to_correct_the_wrong_region():
  keras.utils.set_random_seed(0)
  rng = np.random.default_rng(0)
  cfr = correction.ContextFeatureRectification(name="cfr")
  rga = correction.ResidualGuidedAttention(STRIDE, name="rga")
  warped_in = keras.Input((H, W, C))
  spatial_in = keras.Input((H, W, C))
  residual_in = keras.Input((H * STRIDE, W * STRIDE, 3))
  attention = rga([residual_in, warped_in])
  corrected = cfr([warped_in, spatial_in, attention])
  model = keras.Model([warped_in, spatial_in, residual_in], [corrected, attention])
  opt = keras.optimizers.Adam(1e-2)

  @tf.function
  def step(warped, spatial, residual, truth):
    with tf.GradientTape() as tape:
      out, _ = model([warped, spatial, residual], training=True)
      loss = tf.reduce_mean(tf.square(out - truth))
    grads = tape.gradient(loss, model.trainable_weights)
    opt.apply_gradients(zip(grads, model.trainable_weights))
    return loss

  def errors(seed):
    warped, spatial, residual, truth, region = batch(np.random.default_rng(seed))
    out, att = model([warped, spatial, residual])
    err = np.square(out.numpy() - truth).mean(-1)
    return err[region].mean(), err[~region].mean(), att.numpy()[..., 0][region].mean(), \
        att.numpy()[..., 0][~region].mean()

  before_in, before_out, _, _ = errors(99)
  assert before_out < 1e-6  # zero-initialised CFR: the identity, right features untouched
  for _ in range(300):
    warped, spatial, residual, truth, _ = batch(rng)
    step(warped, spatial, residual, truth)
  after_in, after_out, att_in, att_out = errors(99)
  # In the wrong region the error (about 2: two unit-variance draws) falls well below half.
  assert after_in < 0.5 * before_in, (before_in, after_in)
  # Outside, the features stay close to the truth (well under the spatial noise, 0.09).
  assert after_out < 0.05, after_out
  # RGA learned to open where the residual is large and close elsewhere.
  assert att_in > att_out + 0.3, (att_in, att_out)

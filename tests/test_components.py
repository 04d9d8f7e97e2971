"""The pieces on their own, against NumPy: losses, augmentation, clip resizing, label
conversion, FLOP counting, timing inputs, and the scheduler evaluation."""
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from tw_keras import config as config_lib, labels
from tw_keras.data import augment, dataset, features, prepare
from tw_keras.evaluation import protocol, timing
from tw_keras.model import models, twnet
from tw_keras.train import losses

RNG = np.random.default_rng(0)
TINY = config_lib.PRESETS["tiny"]


def test_masked_cross_entropy_against_numpy():
  logits = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
  gt = RNG.integers(0, 5, (2, 3, 4))
  gt[0, 0] = 255
  gt[1, :, 2] = 255
  log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  valid = gt != 255
  expected = -np.take_along_axis(log_softmax, np.where(valid, gt, 0)[..., None], -1)[..., 0][valid].mean()
  assert float(losses.masked_cross_entropy(tf.constant(gt), tf.constant(logits))) == pytest.approx(expected, rel=1e-5)
  assert float(losses.masked_cross_entropy(tf.fill([1, 2, 2], 255), tf.zeros([1, 2, 2, 5]))) == 0.0


def test_consistency_loss_is_mse_and_stops_the_target_gradient():
  a, b = tf.Variable(RNG.normal(size=(2, 3, 3, 4)), dtype=tf.float32), tf.Variable(RNG.normal(size=(2, 3, 3, 4)),
                                                                                     dtype=tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    loss = losses.consistency_loss(a, b)
  assert float(loss) == pytest.approx(np.mean((a.numpy() - b.numpy()) ** 2), rel=1e-5)
  assert tape.gradient(loss, b) is None
  np.testing.assert_allclose(tape.gradient(loss, a).numpy(), 2 * (a.numpy() - b.numpy()) / a.numpy().size, rtol=1e-5)


def test_weight_decay_covers_exactly_the_conv_and_dense_kernels():
  net = twnet.build(TINY, "layer1_cfr_rga")
  for model in (net.per_frame, net.nkfc):
    kernels = models.decayed_kernels(model)
    assert {v.path for v in kernels} == {v.path for v in model.weights if v.path.endswith("kernel")}
    expected = 1e-3 * sum(float(np.sum(v.numpy() ** 2)) for v in kernels)
    assert float(losses.weight_decay_loss(kernels, 1e-3)) == pytest.approx(expected, rel=1e-4)
  assert float(losses.weight_decay_loss(kernels, 0.0)) == 0.0


def _column_example(h=16, w=24):
  cols = np.tile(np.arange(w, dtype=np.uint8), (h, 1))
  image = np.stack([cols, cols, np.full_like(cols, 7)], -1)
  return tf.constant(image), tf.constant(cols % 19)


def test_augment_identity_flip_and_label_alignment():
  image, label = _column_example()
  img, lab = augment.scale_flip_crop(image, label, tf.constant([1, 2]), (16, 24), (1.0, 1.0), flip=False)
  np.testing.assert_array_equal(img.numpy(), image.numpy().astype(np.float32))
  np.testing.assert_array_equal(lab.numpy(), label.numpy())
  flipped = set()
  for s in range(12):
    img, lab = augment.scale_flip_crop(image, label, tf.constant([s, 0]), (8, 12), (1.0, 1.0), flip=True)
    cols = img.numpy()[..., 0]
    np.testing.assert_array_equal(lab.numpy(), cols.astype(np.int32) % 19)  # the label moved with the image
    flipped.add(bool(cols[0, 0] > cols[0, -1]))
  assert flipped == {True, False}


def test_augment_pads_with_ignore_and_grey():
  image, label = _column_example(8, 12)
  img, lab = augment.scale_flip_crop(image, label, tf.constant([3, 4]), (16, 20), (1.0, 1.0), flip=False)
  lab, img = lab.numpy(), img.numpy()
  assert (lab == labels.IGNORE_LABEL).sum() == 16 * 20 - 8 * 12
  assert np.all(img[lab == labels.IGNORE_LABEL] == 127.5)


def test_resize_clip_rescales_motion_to_the_new_pixels():
  t, h, w = 2, 32, 64
  clip = {features.CLIP_IMAGES: tf.zeros([t, h, w, 3], tf.uint8),
          features.CLIP_LABELS: tf.constant(np.tile(np.arange(w) // 16, (t, h, 1)), tf.int32),
          features.CLIP_MOTION: tf.constant(np.broadcast_to([4.0, 2.0], (t, h, w, 2)), tf.float32),
          features.CLIP_RESIDUALS: tf.fill([t, h, w, 3], 6.0)}
  out = dataset.resize_clip(clip, (16, 32))
  np.testing.assert_allclose(out[features.CLIP_MOTION].numpy(), np.broadcast_to([2.0, 1.0], (t, 16, 32, 2)))
  np.testing.assert_allclose(out[features.CLIP_RESIDUALS].numpy(), 6.0)
  np.testing.assert_array_equal(out[features.CLIP_LABELS].numpy()[0, 0], np.arange(32) // 8)
  assert out[features.CLIP_IMAGES].shape == (t, 16, 32, 3) and out[features.CLIP_IMAGES].dtype == tf.uint8


def test_read_label_converts_label_ids_and_checks_size(tmp):
  ids = np.array([[7, 26, 0], [24, 8, 11]], np.uint8)  # road, car, unlabeled / person, sidewalk, building
  path = os.path.join(tmp, "x_gtFine_labelIds.png")
  cv2.imwrite(path, ids)
  t = labels.TRAIN_ID
  np.testing.assert_array_equal(prepare.read_label(path, (2, 3)),
                                [[t["road"], t["car"], 255], [t["person"], t["sidewalk"], t["building"]]])
  train_ids_path = os.path.join(tmp, "x_gtFine_labelTrainIds.png")
  cv2.imwrite(train_ids_path, ids)
  np.testing.assert_array_equal(prepare.read_label(train_ids_path, (2, 3)), ids)  # already trainIds
  with pytest.raises(prepare.VideoError, match="does not match frame size 4x2"):
    prepare.read_label(path, (2, 4))


def test_count_flops_of_one_convolution():
  import keras
  x = keras.Input((8, 8, 2))
  model = keras.Model(x, {"logits": keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(x)})
  assert models.count_flops(model, [(1, 8, 8, 2)]) == 2 * 8 * 8 * 4 * 3 * 3 * 2  # 2 per multiply-add


def test_timing_inputs_fit_the_models():
  variant = config_lib.VARIANTS["layer2_cfr_rga"]
  net = twnet.build(TINY, variant)
  image, context, motion, residual = timing.random_inputs(TINY, variant, 64, 96, batch=2)
  assert image.shape == (2, 64, 96, 3) and motion.shape == (2, 64, 96, 2) and residual.shape == (2, 64, 96, 3)
  assert tuple(context.shape) == tuple(net.per_frame(image)[variant.context_output].shape)
  assert timing.forward_seconds(net.nkfc, [image, context, motion, residual], repeats=2, warmup=1) > 0


def test_scheduler_evaluation_counts_and_costs(tiny_records):
  variant = config_lib.VARIANTS["layer1_cfr_rga"]
  net = twnet.build(TINY, variant)
  gops = list(dataset.gop_dataset(dataset.shard_files(tiny_records, "val")))
  frames = sum(int(g[features.CLIP_IMAGES].shape[0]) for g in gops)
  i_frames = sum(int((g[features.CLIP_PICT_TYPES].numpy() == b"I").sum()) for g in gops)
  res = protocol.evaluate_schedulers(net, gops, ["every", "gop", "fixed:3"],
                                     key_cost=10.0, non_key_cost=4.0)
  assert res["every"]["key_frame_rate"] == 1.0 and res["every"]["cost_per_frame"] == 10.0
  assert res["gop"]["key_frame_rate"] == round(i_frames / frames, 3)
  assert res["gop"]["cost_per_frame"] == pytest.approx((i_frames * 10 + (frames - i_frames) * 4) / frames, abs=1e-4)
  keys = sum(len(range(0, int(g[features.CLIP_IMAGES].shape[0]), 3)) for g in gops)
  assert res["fixed:3"]["key_frame_rate"] == round(keys / frames, 3)
  assert all(r["frames"] == frames for r in res.values())
  table = protocol.scheduler_table(res, "GMACs").splitlines()
  assert len(table) == 5 and table[3].startswith(f"| gop | {res['gop']['miou']} |")


@pytest.mark.parametrize("height,width,smooth", [(5, 7, False), (16, 24, True), (33, 20, True)])
def test_bilinear_argmax_equals_the_argmax_of_the_upsampled_scores(height, width, smooth):
  """The labels-only shortcut: same labels as argmax(bilinear x4), on noise (every block a
  boundary) and on smooth scores (large uniform regions, where labels are copied)."""
  from tw_keras.model import resize
  rng = np.random.default_rng(height)
  s = rng.normal(size=(2, height, width, 19))
  if smooth:
    s = np.cumsum(np.cumsum(s, 1), 2)
  s = tf.constant(s, tf.float32)
  expected = tf.argmax(resize.bilinear(s, [height * 4, width * 4]), -1, output_type=tf.int32).numpy()
  got = resize.bilinear_argmax(s, 4).numpy()
  assert got.shape == expected.shape
  np.testing.assert_array_equal(got, expected)
  if smooth:  # the test covers both branches: copied blocks and interpolated ones
    lab = np.argmax(s.numpy(), -1)
    assert 0 < np.mean(lab[:, 1:, 1:] != lab[:, :-1, :-1]) < 0.5
  with pytest.raises(ValueError, match="even"):
    resize.bilinear_argmax(s, 3)


def test_bilinear_argmax_block_path_on_noise_equals_the_full_upsample():
  """Noise makes every block a boundary, so bilinear_argmax falls back to the full upsample;
  the block path itself must still be exact there (it is the worst case of its arithmetic)."""
  from tw_keras.model import resize
  s = tf.constant(np.random.default_rng(7).normal(size=(1, 12, 20, 19)), tf.float32)
  expected = tf.argmax(resize.bilinear(s, [48, 80]), -1, output_type=tf.int32).numpy()
  padded = tf.pad(s, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # edge replication by one
  lab = tf.argmax(padded, -1, output_type=tf.int32)
  top = lab[:, :-1, :-1]
  agree = (top == lab[:, :-1, 1:]) & (top == lab[:, 1:, :-1]) & (top == lab[:, 1:, 1:])
  assert np.mean(~agree.numpy()) > resize.BOUNDARY_FALLBACK
  np.testing.assert_array_equal(resize._copy_or_interpolate(padded, top, agree, 4).numpy(), expected)
  np.testing.assert_array_equal(resize.bilinear_argmax(s, 4).numpy(), expected)


def test_colorize_and_overlay_match_the_float_formulas():
  from tw_keras.inference import segment  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  ids = rng.integers(0, labels.NUM_CLASSES, (37, 53)).astype(np.int32)
  ids[0, :5] = 255  # ignore -> black
  expected = np.zeros((37, 53, 3), np.uint8)
  for c in range(labels.NUM_CLASSES):
    expected[ids == c] = labels.PALETTE[c]
  colour = labels.colorize(ids)
  np.testing.assert_array_equal(colour, expected)
  assert colour.flags.c_contiguous and colour.dtype == np.uint8
  rgb = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)
  for alpha in (0.5, 0.3, 0.0, 1.0):
    ref = rgb.astype(np.float64) * (1 - alpha) + expected.astype(np.float64) * alpha
    out = segment.overlay(rgb, ids, alpha)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    if alpha == 0.5:
      np.testing.assert_array_equal(out, np.floor(ref).astype(np.uint8))
    assert np.abs(out.astype(np.float64) - ref).max() <= 1.5  # floor, and alpha in 1/256 steps

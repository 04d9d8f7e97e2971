"""Per-frame CNN, NKFC variants and baselines: shapes, configs, weight sharing, freezing."""
import os
import numpy as np
import pytest
import keras
import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.model import correction, encoders, models, twnet, warp
from tw_keras.model import nkfc as nkfc_lib
from tw_keras.model import per_frame as per_frame_lib

TINY = config_lib.PRESETS["tiny"]
H, W = 64, 96
RNG = np.random.default_rng(0)


def image(b=1):
  return tf.constant(RNG.uniform(0, 255, (b, H, W, 3)).astype(np.float32))


def nkfc_inputs(per_frame_out, variant, b=1, motion_px=0.0):
  ctx = per_frame_out[variant.context_output]
  return [image(b), ctx, tf.fill((b, H, W, 2), motion_px), tf.constant(RNG.normal(0, 20, (b, H, W, 3)), tf.float32)]


def build_networks(cfg, names):
  """(per-frame CNN, {name: non-key-frame network or None}) of `twnet.build_all`'s TWNets:
  the Keras networks these tests look inside."""
  nets = twnet.build_all(cfg, names)
  return next(iter(nets.values())).per_frame, {n: net.nkfc for n, net in nets.items()}


@pytest.fixture(scope="module")
def built():
  return build_networks(TINY, list(config_lib.VARIANTS))


@pytest.mark.parametrize("backbone", ["mobilenet_v1", "mobilenet_v2", "resnet18"])
def test_per_frame_outputs_for_every_backbone(backbone):
  cfg = config_lib.ModelConfig(backbone=backbone, width=0.25, decoder_width=0.125)
  per_frame, nk = build_networks(cfg, ["layer1_cfr_rga", "layer2_cfr_rga"])
  out = per_frame(image(2))
  c1, c2, c3 = cfg.lateral_filters
  assert out["logits"].shape == (2, H, W, 19)
  assert out["scores"].shape == (2, H // 4, W // 4, 19)
  assert out["layer1"].shape == (2, H // 16, W // 16, c1)
  assert out["layer2"].shape == (2, H // 8, W // 8, c2)
  assert out["layer3"].shape == (2, H // 4, W // 4, c3)
  o = nk["layer2_cfr_rga"](nkfc_inputs(out, config_lib.VARIANTS["layer2_cfr_rga"], b=2))
  assert o["logits"].shape == (2, H, W, 19) and o["context"].shape == (2, H // 8, W // 8, c2)


@pytest.mark.parametrize("name", [n for n, v in config_lib.VARIANTS.items() if v.kind != "per_frame"])
def test_every_variant_runs_with_right_shapes(built, name):
  per_frame, nk = built
  variant = config_lib.VARIANTS[name]
  out = per_frame(image())
  inputs = nkfc_inputs(out, variant)
  o = nk[name](inputs)
  assert o["logits"].shape == (1, H, W, 19)
  assert o["context"].shape == inputs[1].shape


@pytest.mark.parametrize("name", ["layer1_warp", "layer2_warp", "layer3", "warp_scores", "clockwork"])
def test_untrained_nkfc_on_the_key_frame_reproduces_the_per_frame_output(built, name):
  # Zero motion, fresh tail copy, no correction: the NKFC recomputes the per-frame CNN exactly.
  per_frame, nk = built
  x = image()
  out = per_frame(x)
  variant = config_lib.VARIANTS[name]
  ctx = out[variant.context_output]
  o = nk[name]([x, ctx, tf.zeros((1, H, W, 2)), tf.zeros((1, H, W, 3))])
  np.testing.assert_allclose(o["logits"].numpy(), out["logits"].numpy(), atol=1e-4)


def test_clockwork_reuses_the_key_frames_features_without_a_warp(built):
  """Clockwork is Layer1 FT without the warp: no warp op in its graph, motion ignored, and
  with the same weights it computes what Layer1 FT computes at zero motion (whose warp is
  then the identity)."""
  per_frame, nk = built
  clockwork, ft = nk["clockwork"], nk["layer1_ft"]
  assert not [l for l in clockwork.layers if isinstance(l, (warp.Warp, warp.FlowToStride))]
  assert [l for l in ft.layers if isinstance(l, warp.Warp)]
  assert [w.shape for w in clockwork.weights] == [w.shape for w in ft.weights]  # one weights file layout
  x = image()
  ctx = per_frame(x)["layer1"]
  moved = clockwork([x, ctx, tf.fill((1, H, W, 2), 8.0), tf.zeros((1, H, W, 3))])["logits"].numpy()
  still = clockwork([x, ctx, tf.zeros((1, H, W, 2)), tf.zeros((1, H, W, 3))])["logits"].numpy()
  np.testing.assert_array_equal(moved, still)
  ft.set_weights(clockwork.get_weights())
  np.testing.assert_allclose(ft([x, ctx, tf.zeros((1, H, W, 2)), tf.zeros((1, H, W, 3))])["logits"].numpy(), still,
                             atol=1e-5)


def test_motion_moves_the_warped_context(built):
  per_frame, nk = built
  out = per_frame(image())
  m = nk["layer3"]
  a = m([image(), out["layer3"], tf.zeros((1, H, W, 2)), tf.zeros((1, H, W, 3))])["context"]
  b = m([image(), out["layer3"], tf.fill((1, H, W, 2), 8.0), tf.zeros((1, H, W, 3))])["context"]
  np.testing.assert_allclose(b.numpy()[0, 2:, 2:], a.numpy()[0, :-2, :-2], atol=1e-5)  # 8 px = 2 cells


def _flat_layers(model):
  for layer in model.layers:
    if isinstance(layer, keras.Model):
      yield from _flat_layers(layer)
    yield layer


def test_weight_sharing_is_real(built):
  per_frame, nk = built
  model = nk["layer1_cfr_rga"]
  encoder_layers = {id(l) for l in _flat_layers(models.encoder_of(per_frame))}
  shared = [l for l in _flat_layers(model) if id(l) in encoder_layers and l.weights]
  assert shared, "Layer1 must keep encoder layers"
  x = image()
  inputs = nkfc_inputs(per_frame(x), config_lib.VARIANTS["layer1_cfr_rga"])
  before_nk, before_pf = model(inputs)["logits"].numpy(), per_frame(x)["logits"].numpy()
  kernel = models.encoder_of(per_frame).get_layer("conv1").kernel
  old = kernel.numpy()
  kernel.assign(old * 1.5)
  try:
    assert not np.allclose(model(inputs)["logits"].numpy(), before_nk)
    assert not np.allclose(per_frame(x)["logits"].numpy(), before_pf)
  finally:
    kernel.assign(old)


def test_frozen_per_frame_layers_get_no_gradient_in_stage_2(built):
  per_frame, nk = built
  model = nk["layer1_cfr_rga"]
  per_frame.trainable = False
  try:
    frozen = {id(v) for v in per_frame.weights}
    trainable = model.trainable_weights
    assert trainable and not any(id(v) in frozen for v in trainable)
    encoder_vars = [v for v in model.weights if id(v) in frozen]
    assert encoder_vars
    snapshot = [v.numpy().copy() for v in encoder_vars]
    tail_before = [v.numpy().copy() for v in trainable]
    opt = keras.optimizers.Adam(1e-2)
    inputs = nkfc_inputs(per_frame(image()), config_lib.VARIANTS["layer1_cfr_rga"], motion_px=3.0)
    with tf.GradientTape() as tape:
      out = model(inputs, training=True)
      loss = tf.reduce_mean(out["logits"] ** 2) + tf.reduce_mean(out["context"] ** 2)
    grads = tape.gradient(loss, trainable)
    opt.apply_gradients(zip(grads, trainable))
    for v, s in zip(encoder_vars, snapshot):
      np.testing.assert_array_equal(v.numpy(), s)  # BN statistics included
    assert any(not np.array_equal(v.numpy(), s) for v, s in zip(trainable, tail_before))
  finally:
    per_frame.trainable = True


def test_layer3_contains_no_encoder_layer(built):
  per_frame, nk = built
  encoder_layers = {id(l) for l in _flat_layers(models.encoder_of(per_frame))}
  for name in ("layer3", "warp_scores"):
    assert not any(id(l) in encoder_layers for l in _flat_layers(nk[name]))
  assert any(id(l) in encoder_layers for l in _flat_layers(nk["layer2_ft"]))


def test_tail_layers_are_copies_not_shared(built):
  per_frame, nk = built
  tail = nk["layer1_ft"].get_layer("classifier")
  assert tail is not per_frame.get_layer("classifier")
  np.testing.assert_array_equal(tail.conv.kernel.numpy(), per_frame.get_layer("classifier").conv.kernel.numpy())


def test_invalid_variants_are_refused():
  per_frame = per_frame_lib.build_per_frame(TINY)
  with pytest.raises(ValueError, match="spatial"):
    nkfc_lib.build_non_key_frame(per_frame, TINY, config_lib.Variant("bad", warp_layer=3, cfr=True))
  with pytest.raises(ValueError, match="needs CFR"):
    nkfc_lib.build_non_key_frame(per_frame, TINY, config_lib.Variant("bad", warp_layer=1, rga=True))


def _conv_same(x, kernel, bias):
  """NumPy 'same' convolution: x [h, w, c], kernel [k, k, c, o]."""
  k = kernel.shape[0]
  p = k // 2
  xp = np.pad(x, ((p, p), (p, p), (0, 0)))
  h, w = x.shape[:2]
  out = np.zeros((h, w, kernel.shape[-1]))
  for i in range(k):
    for j in range(k):
      out += xp[i:i + h, j:j + w] @ kernel[i, j]
  return out + bias


def test_cfr_and_rga_match_numpy():
  warped = RNG.normal(size=(1, 6, 7, 4)).astype(np.float32)
  spatial = RNG.normal(size=(1, 6, 7, 3)).astype(np.float32)
  residual = RNG.uniform(-255, 255, size=(1, 24, 28, 3)).astype(np.float32)
  rga = correction.ResidualGuidedAttention(stride=4)
  cfr = correction.ContextFeatureRectification()
  att = rga([residual, warped]).numpy()
  cfr([warped, spatial, att])
  cfr.conv.kernel.assign(RNG.normal(size=cfr.conv.kernel.shape).astype(np.float32) * 0.1)
  cfr.conv.bias.assign(RNG.normal(size=cfr.conv.bias.shape).astype(np.float32))
  out = cfr([warped, spatial, att]).numpy()
  # RGA: |residual| / 255, 4x4 area-averaged, 3x3 conv, sigmoid.
  small = np.abs(residual[0]).reshape(6, 4, 7, 4, 3).mean(axis=(1, 3)) / 255
  ref_att = 1 / (1 + np.exp(-_conv_same(small, rga.conv.kernel.numpy(), rga.conv.bias.numpy())))
  np.testing.assert_allclose(att[0], ref_att, atol=1e-5)
  ref = warped[0] + ref_att * _conv_same(np.concatenate([warped[0], spatial[0]], -1),
                                         cfr.conv.kernel.numpy(), cfr.conv.bias.numpy())
  np.testing.assert_allclose(out[0], ref, atol=1e-4)


def test_fresh_cfr_is_identity():
  warped = RNG.normal(size=(1, 4, 4, 6)).astype(np.float32)
  out = correction.ContextFeatureRectification()([warped, RNG.normal(size=(1, 4, 4, 2)).astype(np.float32)])
  np.testing.assert_allclose(out.numpy(), warped)


def test_imagenet_weights_load_from_a_local_file(tmp):
  enc = encoders.build_encoder("mobilenet_v1", 0.25)
  path = f"{tmp}/mobilenet.weights.h5"
  enc.save_weights(path)
  cfg = config_lib.ModelConfig(width=0.25, decoder_width=0.125, imagenet_weights=path)
  per_frame = per_frame_lib.build_per_frame(cfg)
  loaded = models.encoder_of(per_frame).weights
  assert len(loaded) == len(enc.weights)
  for a, b in zip(loaded, enc.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  with pytest.raises(FileNotFoundError, match=r"missing.h5: ImageNet weights file not found; mobilenet_v1 at width "
                     r"0.25 takes Keras' mobilenet_2_5_224_tf_no_top.h5: pass its path, or copy it into \S+/models/ "
                     "and pass --imagenet_weights=imagenet$"):
    per_frame_lib.build_per_frame(config_lib.ModelConfig(width=0.25, imagenet_weights=f"{tmp}/missing.h5"))
  with pytest.raises(ValueError, match=r"mobilenet.weights.h5: ImageNet weights of another encoder \(.*\); "
                     r"mobilenet_v1 at width 0.5 takes Keras' mobilenet_5_0_224_tf_no_top.h5: "):
    per_frame_lib.build_per_frame(config_lib.ModelConfig(width=0.5, imagenet_weights=path))


def test_a_wrong_imagenet_file_fails_before_the_model_directory_is_written(tmp):
  """Otherwise the directory's model_config.json would name the wrong file, and the rerun
  with the right one would be refused as another configuration."""
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top
  path = f"{tmp}/w025.weights.h5"
  encoders.build_encoder("mobilenet_v1", 0.25).save_weights(path)
  preset = config_lib.TRAIN_PRESETS["tiny"]
  with pytest.raises(ValueError, match="ImageNet weights of another encoder"):
    stages.train_stage1(config_lib.ModelConfig(width=0.5, imagenet_weights=path), preset, f"{tmp}/no_data",
                        f"{tmp}/model", steps=1, progress=False, eval_split=None)
  assert not os.path.exists(f"{tmp}/model")


def _numpy_adaptive_pool(x, oh, ow):
  """PyTorch AdaptiveAvgPool2d semantics, by loops."""
  b, h, w, c = x.shape
  out = np.zeros((b, oh, ow, c))
  for i in range(oh):
    for j in range(ow):
      r0, r1 = (i * h) // oh, -(-((i + 1) * h) // oh)
      c0, c1 = (j * w) // ow, -(-((j + 1) * w) // ow)
      out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
  return out


@pytest.mark.parametrize("shape,out", [((2, 7, 9, 3), (2, 4)), ((1, 8, 16, 2), (8, 8)), ((1, 5, 5, 1), (1, 1)),
                                       ((1, 3, 4, 2), (4, 4))])
def test_adaptive_average_pool_matches_numpy(shape, out):
  from tw_keras.model import resize
  x = RNG.normal(size=shape).astype(np.float32)
  np.testing.assert_allclose(resize.adaptive_average_pool(x, out).numpy(), _numpy_adaptive_pool(x, *out), atol=1e-5)


def test_models_compile_under_xla_and_match_eager(built):
  per_frame, nk = built
  x = image()
  out = per_frame(x)
  pf_xla = tf.function(lambda a: per_frame(a, training=False), jit_compile=True)
  np.testing.assert_allclose(pf_xla(x)["logits"].numpy(), out["logits"].numpy(), atol=1e-3)
  inputs = nkfc_inputs(out, config_lib.VARIANTS["layer1_cfr_rga"], motion_px=2.5)
  model = nk["layer1_cfr_rga"]
  nk_xla = tf.function(lambda a: model(a, training=False), jit_compile=True)
  np.testing.assert_allclose(nk_xla(inputs)["logits"].numpy(), model(inputs)["logits"].numpy(), atol=1e-3)


def test_bfloat16_policy_builds_and_runs():
  keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
  try:
    per_frame, nk = build_networks(TINY, ["layer1_cfr_rga"])
    out = per_frame(image())
    assert out["logits"].dtype == tf.float32 and out["layer1"].dtype == tf.bfloat16
    o = nk["layer1_cfr_rga"](nkfc_inputs(out, config_lib.VARIANTS["layer1_cfr_rga"], motion_px=1.0))
    assert o["logits"].dtype == tf.float32 and np.isfinite(o["logits"].numpy()).all()
  finally:
    keras.mixed_precision.set_dtype_policy("float32")


def test_tail_layer_names_are_the_layers_the_tail_builds():
  """The NKFC's copy check counts layers by `TAIL_LAYER_NAMES`: it must name what is built."""
  assert tuple(models.tail_layers(TINY)) == models.TAIL_LAYER_NAMES  # pylint: disable=protected-access


def test_imagenet_weights_come_from_keras_cache_or_fail_offline_in_one_line(tmp, monkeypatch):
  """`imagenet_weights="imagenet"`: Keras' own file through `keras.utils.get_file` (stubbed:
  this machine has no network), into Keras' cache; offline, one line naming what to fetch."""
  import keras  # pylint: disable=g-import-not-at-top
  enc = encoders.build_encoder("mobilenet_v1", 0.25)
  path = f"{tmp}/cached.weights.h5"
  enc.save_weights(path)
  asked = []

  def cached(fname, origin, cache_subdir):
    asked.append((fname, origin, cache_subdir))
    return path
  monkeypatch.setattr(keras.utils, "get_file", cached)
  per_frame = per_frame_lib.build_per_frame(config_lib.ModelConfig(width=0.25, decoder_width=0.125,
                                                            imagenet_weights="imagenet"))
  assert asked == [("mobilenet_2_5_224_tf_no_top.h5", "https://storage.googleapis.com/tensorflow/"
                    "keras-applications/mobilenet/mobilenet_2_5_224_tf_no_top.h5", "models")]
  for a, b in zip(models.encoder_of(per_frame).weights, enc.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())

  def offline(fname, origin, cache_subdir):
    raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")
  monkeypatch.setattr(keras.utils, "get_file", offline)
  monkeypatch.setenv("KERAS_HOME", f"{tmp}/keras")
  with pytest.raises(ValueError, match=r"^\S+/keras/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_"
                     r"no_top.h5: ImageNet weights not in Keras' cache and the download failed .*; fetch https://"
                     r"\S+ into \S+/keras/models/ on a machine with a network, or pass --imagenet_weights=FILE$"):
    per_frame_lib.build_per_frame(config_lib.ModelConfig(backbone="mobilenet_v2", width=1.0, decoder_width=0.125,
                                                  imagenet_weights="imagenet"))
  with pytest.raises(ValueError, match="Keras has no ImageNet weights for resnet18"):
    per_frame_lib.build_per_frame(config_lib.ModelConfig(backbone="resnet18", width=0.25, imagenet_weights="imagenet"))

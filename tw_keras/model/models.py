"""TWNet models: the per-frame (key-frame) CNN and the non-key-frame CNNs (paper section 4).

`build_per_frame(config)` -- the key-frame CNN::

  image [B, H, W, 3] (0..255, any dtype)
    -> {"logits": [B, H, W, K] float32, "scores": [B, H/4, W/4, K] float32,
        "layer1": [B, H/16, W/16, C1], "layer2": [B, H/8, W/8, C2], "layer3": [B, H/4, W/4, C3]}

`build_non_key_frame(per_frame, config, variant)` -- one NKFC (or baseline) per variant::

  (image [B, H, W, 3], context [B, h, w, C], motion [B, H, W, 2] px, residual [B, H, W, 3])
    -> {"logits": [B, H, W, K] float32, "scores": [B, H/4, W/4, K], "context": [B, h, w, C]}

`context` is Layer-k features of the previous frame (`variant.warp_layer`; h = H/stride),
or its stride-4 scores for the DFF-style `warp_scores` baseline. The returned context is
the corrected features, to hand to the next frame.

Layer1 keeps the encoder up to stride 8, Layer2 up to stride 4, Layer3 none. Those encoder
layers are *the same layer objects* as the per-frame CNN's (one sub-model cut from its
encoder), so they share weights and freeze with it. The NKFC's decoder tail (lateral
connections after the warped layer, classifier) is its own copy, initialised from the
per-frame CNN's weights (`copy_tail_weights`) and fine-tuned in stage 2. CFR's spatial
features are the lateral projection of the deepest kept encoder map, average-pooled to
the warped layer's size. H and W must be multiples of 32.
"""

from typing import Dict

import keras
import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.model import correction, decoder, encoders, warp

L = keras.layers
# Network inputs must be multiples of the deepest stride; callers pad (warp.pad_to_multiple).
INPUT_MULTIPLE = 32


def input_size(height: int, width: int):
  """The network input (H, W) a frame of `height` x `width` is edge-padded to (multiples of
  INPUT_MULTIPLE, bottom and right; `twnet.pad_to_input`)."""
  up = lambda n: -(-int(n) // INPUT_MULTIPLE) * INPUT_MULTIPLE
  return up(height), up(width)

# The prediction keys of every network's output dictionary (and of the SavedModel signatures).
PRED_LOGITS = "logits"  # [B, H, W, K] float32
PRED_SCORES = "scores"  # [B, H/4, W/4, K]
PRED_CONTEXT = "context"  # the features carried to the next frame
PRED_LABELS = "labels"  # [B, H, W] int32 (the streaming and serving steps)
# The classifier runs at stride 4 ("scores"); "logits" are the scores bilinearly upsampled.
SCORES_STRIDE = 4


def _preprocess(image):
  """0..255 -> [-1, 1], the MobileNet/ImageNet convention (the paper's mean subtraction)."""
  return L.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(image)


# The decoder layers, by name: the per-frame CNN and every NKFC tail get their own set.
TAIL_LAYER_NAMES = ("ppm", "lateral1_proj", "lateral1_fuse", "lateral2_proj", "lateral2_fuse", "lateral3_proj",
                    "lateral3_fuse", "classifier")


def _tail_layers(config: config_lib.ModelConfig) -> Dict[str, keras.layers.Layer]:
  """A new set of the decoder layers (`TAIL_LAYER_NAMES`), by name."""
  # Weight decay is the training loop's (`decayed_kernels`), to encoder and decoder alike.
  ppm_reduce, ppm_bin, ppm_out = config.ppm
  f1, f2, f3 = config.lateral_filters
  return {
      "ppm": decoder.PyramidPooling(ppm_reduce, (1, 2, 4, 8), ppm_bin, ppm_out, name="ppm"),
      # Lateral projections map encoder features to the main path's channels.
      "lateral1_proj": decoder.ConvBNReLU(ppm_out, 1, name="lateral1_proj"),
      "lateral1_fuse": decoder.UpsampleAddConv(f1, name="lateral1_fuse"),
      "lateral2_proj": decoder.ConvBNReLU(f1, 1, name="lateral2_proj"),
      "lateral2_fuse": decoder.UpsampleAddConv(f2, name="lateral2_fuse"),
      "lateral3_proj": decoder.ConvBNReLU(f2, 1, name="lateral3_proj"),
      "lateral3_fuse": decoder.UpsampleAddConv(f3, name="lateral3_fuse"),
      "classifier": decoder.Classifier(config.num_classes, name="classifier"),
  }


def build_per_frame(config: config_lib.ModelConfig) -> keras.Model:
  """The key-frame CNN (see module docstring). Loads `config.imagenet_weights` if given.

  With `config.deep_context=False`, the no-context ablation::

    image [B, H, W, 3] -> {"logits": [B, H, W, K], "scores": [B, H/4, W/4, K]}
  """
  encoder = encoders.build_encoder(config.backbone, config.width)
  if config.imagenet_weights:
    encoders.load_imagenet_weights(encoder, config.imagenet_weights, config.backbone, config.width)
  t = _tail_layers(config)
  image = keras.Input((None, None, 3), name="image")
  if not config.deep_context:
    head = keras.Model(encoder.inputs, encoder.outputs[:2], name=encoder.name)  # strides 4, 8 only
    s4, s8 = head(_preprocess(image))
    # Stride-8 features stand where Layer2 (which needs the deep layers) would be.
    main = decoder.ConvBNReLU(config.lateral_filters[1], 3, name="s8_main")(s8)
    layer3 = t["lateral3_fuse"]([main, t["lateral3_proj"](s4)])
    scores = t["classifier"](layer3)
    logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(scores)
    return keras.Model(image, {PRED_LOGITS: logits, PRED_SCORES: scores}, name="no_context")
  s4, s8, s16, s32 = encoder(_preprocess(image))
  x = t["ppm"](s32)
  layer1 = t["lateral1_fuse"]([x, t["lateral1_proj"](s16)])
  layer2 = t["lateral2_fuse"]([layer1, t["lateral2_proj"](s8)])
  layer3 = t["lateral3_fuse"]([layer2, t["lateral3_proj"](s4)])
  scores = t["classifier"](layer3)
  logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(scores)
  return keras.Model(image, {PRED_LOGITS: logits, PRED_SCORES: scores, "layer1": layer1, "layer2": layer2,
                             "layer3": layer3}, name="per_frame")


_KERNEL_LAYERS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def encoder_of(per_frame: keras.Model) -> keras.Model:
  """The backbone sub-model of a per-frame CNN (exactly one layer named `*_encoder`)."""
  found = [l for l in per_frame.layers if l.name.endswith(encoders.ENCODER_SUFFIX)]
  if len(found) != 1:
    raise ValueError(f"{per_frame.name}: expected one encoder sub-model named '*{encoders.ENCODER_SUFFIX}', "
                     f"found {[l.name for l in found]}")
  return found[0]


def decayed_kernels(model: keras.Model, among=None):
  """The kernels that L2 weight decay applies to: those of every convolution (depthwise too)
  and dense layer inside `model`, nested layers included; biases and BN parameters are not.
  With `among` (variables), only kernels that are also in it (e.g. the trainable ones)."""
  kernels = {id(layer.kernel) for layer in model._flatten_layers(include_self=False, recursive=True)  # pylint: disable=protected-access
             if isinstance(layer, _KERNEL_LAYERS)}
  return [v for v in (model.weights if among is None else among) if id(v) in kernels]  # in weight order


def encoder_head(per_frame: keras.Model, stride: int) -> keras.Model:
  """Sub-model of the per-frame encoder up to `stride` (4 or 8): the same layer objects.

  Returns a model mapping the preprocessed image to [s4] (stride 4) or [s4, s8] (stride 8).
  """
  encoder = encoder_of(per_frame)
  s4, s8 = encoder.outputs[0], encoder.outputs[1]
  outputs = [s4, s8] if stride == 8 else [s4]
  return keras.Model(encoder.inputs, outputs, name=f"encoder_head_s{stride}")


def context_channels(config: config_lib.ModelConfig, variant: config_lib.Variant) -> int:
  if variant.warps_scores:
    return config.num_classes
  return config.lateral_filters[variant.warp_layer - 1]


def build_non_key_frame(per_frame: keras.Model, config: config_lib.ModelConfig,
                        variant: config_lib.Variant) -> keras.Model:
  """One non-key-frame model for `variant` (see module docstring)."""
  if variant.is_per_frame:
    raise ValueError("the per-frame variant has no non-key-frame model")
  if (variant.cfr or variant.rga) and (not variant.is_nkfc or variant.warp_layer == 3):
    raise ValueError(f"{variant.name}: CFR/RGA need spatial features; Layer3 and baselines have none")
  if variant.rga and not variant.cfr:
    raise ValueError(f"{variant.name}: RGA weights CFR's residual and needs CFR")
  channels = context_channels(config, variant)
  image = keras.Input((None, None, 3), name="image")
  context = keras.Input((None, None, channels), name="context")
  motion = keras.Input((None, None, 2), name="motion")
  residual = keras.Input((None, None, 3), name="residual")
  if variant.zero_motion:  # Clockwork: the key frame's deep features as they are, no warp
    warped = context
  else:
    flow = warp.FlowToStride(variant.stride, name="flow")(motion)
    warped = warp.Warp(name="warp")([context, flow])
  t = _tail_layers(config)
  if variant.warps_scores:
    logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(warped)
    return keras.Model([image, context, motion, residual], {PRED_LOGITS: logits, PRED_SCORES: warped, PRED_CONTEXT: warped},
                       name=variant.name)
  corrected = warped
  k = variant.warp_layer
  if k == 3:
    layer3 = warped
  else:
    kept = encoder_head(per_frame, stride=8 if k == 1 else 4)(_preprocess(image))
    kept = kept if isinstance(kept, (list, tuple)) else [kept]
    nxt = k + 1  # the lateral connection that consumes the warped layer
    spatial = t[f"lateral{nxt}_proj"](kept[-1])
    if variant.cfr:
      pooled = L.AveragePooling2D(2, name="spatial_pool")(spatial)
      inputs = [warped, pooled]
      if variant.rga:
        inputs.append(correction.ResidualGuidedAttention(variant.stride, name="rga")([residual, warped]))
      corrected = correction.ContextFeatureRectification(name="cfr")(inputs)
    x = t[f"lateral{nxt}_fuse"]([corrected, spatial])
    layer3 = x if k == 2 else t["lateral3_fuse"]([x, t["lateral3_proj"](kept[0])])
  scores = t["classifier"](layer3)
  logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(scores)
  model = keras.Model([image, context, motion, residual], {PRED_LOGITS: logits, PRED_SCORES: scores, PRED_CONTEXT: corrected},
                      name=variant.name)
  copied = copy_tail_weights(per_frame, model)
  expected = sum(1 for l in model.layers if l.name in TAIL_LAYER_NAMES and l.weights)
  if copied != expected:  # a renamed tail layer would otherwise silently stay random
    raise ValueError(f"{variant.name}: copied {copied} of {expected} decoder tail layers from the per-frame CNN")
  return model


def copy_tail_weights(per_frame: keras.Model, nkfc: keras.Model) -> int:
  """Copies decoder weights from the per-frame CNN into the NKFC's same-named tail layers.

  Returns the number of layers copied.
  """
  source = {l.name: l for l in per_frame.layers}
  n = 0
  for layer in nkfc.layers:
    if layer.name in source and layer is not source[layer.name] and layer.weights:
      layer.set_weights(source[layer.name].get_weights())
      n += 1
  return n

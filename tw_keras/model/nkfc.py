"""The non-key-frame CNN of TWNet (NKFC, paper section 4.3) and its baselines, one per variant.

`build_non_key_frame(per_frame, config, variant)`::

  (image [B, H, W, 3], context [B, h, w, C], motion [B, H, W, 2] px, residual [B, H, W, 3])
    -> {"logits": [B, H, W, K] float32, "scores": [B, H/4, W/4, K], "context": [B, h, w, C]}

`context` is Layer-k features of the previous frame (`variant.warp_layer`; h = H/stride),
or its stride-4 scores for the DFF-style `warp_scores` baseline. The returned context is
the corrected features, to hand to the next frame. Clockwork (`variant.zero_motion`) uses the
key frame's features as they are: no warp op at all.

Layer1 keeps the encoder up to stride 8, Layer2 up to stride 4, Layer3 none. Those encoder
layers are *the same layer objects* as the per-frame CNN's (one sub-model cut from its
encoder), so they share weights and freeze with it. The NKFC's decoder tail (lateral
connections after the warped layer, classifier) is its own copy, initialised from the
per-frame CNN's weights (`copy_tail_weights`) and fine-tuned in stage 2. CFR's spatial
features are the lateral projection of the deepest kept encoder map, average-pooled to
the warped layer's size. H and W must be multiples of 32.
"""

import keras

from tw_keras import config as config_lib
from tw_keras.model import correction, decoder, models, warp
from tw_keras.model.models import PRED_CONTEXT, PRED_LOGITS, PRED_SCORES, SCORES_STRIDE, TAIL_LAYER_NAMES

L = keras.layers


def encoder_head(per_frame: keras.Model, stride: int) -> keras.Model:
  """Sub-model of the per-frame encoder up to `stride` (4 or 8): the same layer objects.

  Returns a model mapping the preprocessed image to [s4] (stride 4) or [s4, s8] (stride 8).
  """
  encoder = models.encoder_of(per_frame)
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
  t = models.tail_layers(config)
  if variant.warps_scores:
    logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(warped)
    return keras.Model([image, context, motion, residual], {PRED_LOGITS: logits, PRED_SCORES: warped, PRED_CONTEXT: warped},
                       name=variant.name)
  corrected = warped
  k = variant.warp_layer
  if k == 3:
    layer3 = warped
  else:
    kept = encoder_head(per_frame, stride=8 if k == 1 else 4)(models.preprocess(image))
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

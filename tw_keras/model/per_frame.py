"""The per-frame (key-frame) CNN of TWNet (paper section 4): the encoder, pyramid pooling, three
lateral connections and the classifier.

`build_per_frame(config)`::

  image [B, H, W, 3] (0..255, any dtype)
    -> {"logits": [B, H, W, K] float32, "scores": [B, H/4, W/4, K] float32,
        "layer1": [B, H/16, W/16, C1], "layer2": [B, H/8, W/8, C2], "layer3": [B, H/4, W/4, C3]}

Layer-k are the decoder's features after lateral connection k: what a non-key-frame CNN
warps (`nkfc`). H and W are multiples of 32 (`models.INPUT_MULTIPLE`).
"""

import keras

from tw_keras import config as config_lib
from tw_keras.model import decoder, encoders, models
from tw_keras.model.models import PRED_LOGITS, PRED_SCORES, SCORES_STRIDE


def build_per_frame(config: config_lib.ModelConfig) -> keras.Model:
  """The key-frame CNN (see module docstring). Loads `config.imagenet_weights` if given.

  With `config.deep_context=False`, the no-context ablation::

    image [B, H, W, 3] -> {"logits": [B, H, W, K], "scores": [B, H/4, W/4, K]}
  """
  encoder = encoders.build_encoder(config.backbone, config.width)
  if config.imagenet_weights:
    encoders.load_imagenet_weights(encoder, config.imagenet_weights, config.backbone, config.width)
  t = models.tail_layers(config)
  image = keras.Input((None, None, 3), name="image")
  if not config.deep_context:
    head = keras.Model(encoder.inputs, encoder.outputs[:2], name=encoder.name)  # strides 4, 8 only
    s4, s8 = head(models.preprocess(image))
    # Stride-8 features stand where Layer2 (which needs the deep layers) would be.
    main = decoder.ConvBNReLU(config.lateral_filters[1], 3, name="s8_main")(s8)
    layer3 = t["lateral3_fuse"]([main, t["lateral3_proj"](s4)])
    scores = t["classifier"](layer3)
    logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(scores)
    return keras.Model(image, {PRED_LOGITS: logits, PRED_SCORES: scores}, name="no_context")
  s4, s8, s16, s32 = encoder(models.preprocess(image))
  x = t["ppm"](s32)
  layer1 = t["lateral1_fuse"]([x, t["lateral1_proj"](s16)])
  layer2 = t["lateral2_fuse"]([layer1, t["lateral2_proj"](s8)])
  layer3 = t["lateral3_fuse"]([layer2, t["lateral3_proj"](s4)])
  scores = t["classifier"](layer3)
  logits = decoder.BilinearUpsample(SCORES_STRIDE, name="upsample", dtype="float32")(scores)
  return keras.Model(image, {PRED_LOGITS: logits, PRED_SCORES: scores, "layer1": layer1, "layer2": layer2,
                             "layer3": layer3}, name="per_frame")

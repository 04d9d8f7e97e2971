"""What the two networks of TWNet share: the prediction keys, the input multiple, the decoder
tail's layers by name, the input scaling and the encoder inside a per-frame CNN.

The networks themselves: `per_frame.build_per_frame` (the key-frame CNN) and
`nkfc.build_non_key_frame` (the non-key-frame CNN, NKFC, and its baselines). Shapes are in
their modules' docstrings; H and W are multiples of INPUT_MULTIPLE (callers pad).
"""

from typing import Dict

import keras

from tw_keras import config as config_lib
from tw_keras.model import decoder, encoders

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


def preprocess(image):
  """0..255 -> [-1, 1], the MobileNet/ImageNet convention (the paper's mean subtraction)."""
  return L.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(image)


# The decoder layers, by name: the per-frame CNN and every NKFC tail get their own set.
TAIL_LAYER_NAMES = ("ppm", "lateral1_proj", "lateral1_fuse", "lateral2_proj", "lateral2_fuse", "lateral3_proj",
                    "lateral3_fuse", "classifier")


def tail_layers(config: config_lib.ModelConfig) -> Dict[str, keras.layers.Layer]:
  """A new set of the decoder layers (`TAIL_LAYER_NAMES`), by name."""
  # Weight decay is the training loop's (`losses.decayed_kernels`), to encoder and decoder alike.
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


def encoder_of(per_frame: keras.Model) -> keras.Model:
  """The backbone sub-model of a per-frame CNN (exactly one layer named `*_encoder`)."""
  found = [l for l in per_frame.layers if l.name.endswith(encoders.ENCODER_SUFFIX)]
  if len(found) != 1:
    raise ValueError(f"{per_frame.name}: expected one encoder sub-model named '*{encoders.ENCODER_SUFFIX}', "
                     f"found {[l.name for l in found]}")
  return found[0]

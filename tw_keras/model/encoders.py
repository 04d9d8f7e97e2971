"""Encoders of the per-frame CNN: MobileNetV1 (default), MobileNetV2, ResNet-18 (paper Table 8).

Each builder returns a functional `keras.Model` mapping a preprocessed image
[B, H, W, 3] (values in [-1, 1]) to four feature maps at strides 4, 8, 16, 32, and the
names of the layers that produce them (`ENDPOINTS`), so that the non-key-frame CNN can cut
the *same* layer objects at stride 4 or 8.

MobileNetV1/V2 are `keras.applications` graphs (weights=None), so a user's local
ImageNet file for those models (e.g. `mobilenet_1_0_224_tf_no_top.h5`) loads into them.
ResNet-18 is not in `keras.applications`; it is built here (basic blocks, as in He et al.).
H and W should be multiples of 32.
"""

import os

import keras

ENCODER_SUFFIX = "_encoder"  # the backbone sub-model is "{backbone}_encoder" (models.encoder_of finds it)

# Layer names of the stride-4/8/16/32 outputs.
ENDPOINTS = {
    "mobilenet_v1": ("conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu", "conv_pw_13_relu"),
    "mobilenet_v2": ("block_2_add", "block_5_add", "block_12_add", "out_relu"),
    "resnet18": ("stage1_out", "stage2_out", "stage3_out", "stage4_out"),
}


def _resnet18(width, inputs):
  """ResNet-18 trunk; returns the stride-32 output (layer names in ENDPOINTS)."""
  L = keras.layers
  c = lambda n: max(8, int(n * width))

  def conv_bn(x, filters, kernel, stride, name, relu=True):
    x = L.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name + "_conv")(x)
    x = L.BatchNormalization(name=name + "_bn")(x)
    return L.ReLU(name=name + "_relu")(x) if relu else x

  x = conv_bn(inputs, c(64), 7, 2, "stem")
  x = L.MaxPool2D(3, 2, padding="same", name="stem_pool")(x)
  for stage, (filters, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
    for block in range(2):
      s = stride if block == 0 else 1
      name = f"stage{stage}_block{block}"
      y = conv_bn(x, c(filters), 3, s, name + "_a")
      y = conv_bn(y, c(filters), 3, 1, name + "_b", relu=False)
      if s != 1 or x.shape[-1] != c(filters):
        x = conv_bn(x, c(filters), 1, s, name + "_short", relu=False)
      x = L.Add(name=name + "_add")([x, y])
      x = L.ReLU(name=f"stage{stage}_out" if block == 1 else name + "_relu")(x)
  return x


def build_encoder(backbone: str = "mobilenet_v1", width: float = 1.0) -> keras.Model:
  """Encoder model: [B, H, W, 3] in [-1, 1] -> [s4, s8, s16, s32] feature maps."""
  if backbone not in ENDPOINTS:
    raise ValueError(f"unknown backbone {backbone!r}; choose from {sorted(ENDPOINTS)}")
  inputs = keras.Input((None, None, 3), name="image")
  if backbone == "mobilenet_v1":
    trunk = keras.applications.MobileNet(input_tensor=inputs, include_top=False, weights=None, alpha=width)
  elif backbone == "mobilenet_v2":
    trunk = keras.applications.MobileNetV2(input_tensor=inputs, include_top=False, weights=None, alpha=width)
  else:
    trunk = keras.Model(inputs, _resnet18(width, inputs))
  outputs = [trunk.get_layer(n).output for n in ENDPOINTS[backbone]]
  return keras.Model(inputs, outputs, name=f"{backbone}{ENCODER_SUFFIX}")


IMAGENET = "imagenet"  # `imagenet_weights=IMAGENET`: Keras' own file, fetched into Keras' cache once
_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"


def imagenet_file(backbone: str, width: float):
  """(file name, URL) of Keras' ImageNet weights without the top for `backbone` at `width`
  (the 224-pixel files; the encoder is fully convolutional, so any input size loads them)."""
  if backbone == "mobilenet_v1" and width in (1.0, 0.75, 0.5, 0.25):
    name = "mobilenet_%s_224_tf_no_top.h5" % {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[width]
    return name, _KERAS_WEIGHTS + "mobilenet/" + name
  if backbone == "mobilenet_v2" and width in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{width}_224_no_top.h5"
    return name, _KERAS_WEIGHTS + "mobilenet_v2/" + name
  raise ValueError(f"--imagenet_weights={IMAGENET}: Keras has no ImageNet weights for {backbone} at width "
                   f"{width}; give a local weights file instead")


def fetch_imagenet_weights(backbone: str, width: float) -> str:
  """The local path of Keras' ImageNet weights for the encoder: from Keras' cache
  (`$KERAS_HOME/models`, default ~/.keras/models), downloaded there the first time.

  Raises:
    ValueError: offline (or any failed download): one line naming the file to fetch and
      where to put it.
  """
  name, url = imagenet_file(backbone, width)
  cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")), "models")
  try:
    return keras.utils.get_file(name, url, cache_subdir="models")
  except Exception as e:  # pylint: disable=broad-except  (Keras raises Exception on a failed fetch)
    raise ValueError(f"{os.path.join(cache, name)}: ImageNet weights not in Keras' cache and the download failed "
                     f"({str(e).splitlines()[0][:120]}); fetch {url} into {cache}/ on a machine with a "
                     "network, or pass --imagenet_weights=FILE") from None


def expected_file(backbone: str, width: float) -> str:
  """Which file an encoder takes, for error messages: Keras' own file name where Keras has one."""
  try:
    name, _ = imagenet_file(backbone, width)
  except ValueError:
    return f"{backbone} at width {width} takes a weights file saved from that encoder (Keras has none)"
  cache = os.path.join(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")), "models")
  return (f"{backbone} at width {width} takes Keras' {name}: pass its path, or copy it into {cache}/ and pass "
          f"--imagenet_weights={IMAGENET}")


def load_imagenet_weights(encoder: keras.Model, path: str, backbone: str = "", width: float = 1.0) -> None:
  """Loads ImageNet weights into `encoder`: `path` is a local file, or `IMAGENET` for Keras'
  own file of `backbone` at `width` (`fetch_imagenet_weights`: Keras' cache, else a download).

  Accepts a Keras weights file of the matching `keras.applications` model without its top
  (legacy `.h5` or `.weights.h5`), or one saved from a tw_keras encoder.

  Raises:
    FileNotFoundError: the file does not exist (the message says which file goes where).
    ValueError: the file does not match this encoder (backbone or width), or it could not
      be fetched.
  """
  if path == IMAGENET:
    path = fetch_imagenet_weights(backbone, width)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: ImageNet weights file not found; {expected_file(backbone, width)}")
  try:
    encoder.load_weights(path)
  except Exception as e:  # Keras raises ValueError/KeyError/OSError variously
    raise ValueError(f"{path}: ImageNet weights of another encoder ({type(e).__name__}: "
                     f"{' '.join(str(e).split())[:160]}); {expected_file(backbone, width)}") from None


def check_imagenet_weights(backbone: str, width: float, path: str) -> None:
  """Loads `path` into a throwaway encoder: raises as `load_imagenet_weights` does. Training
  calls it before it writes a model directory, so a wrong file leaves nothing behind."""
  load_imagenet_weights(build_encoder(backbone, width), path, backbone, width)

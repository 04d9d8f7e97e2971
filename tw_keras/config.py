"""Model configuration: one frozen dataclass, named presets, and the named variants.

`tw_keras.model.twnet.build(config, variant)` is the one place that turns a `ModelConfig`
and a `Variant` into the model (`tw_keras.model.models` builds its Keras networks).
"""

import dataclasses
import enum
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Per-frame CNN and non-key-frame CNN settings.

  Attributes:
    backbone: "mobilenet_v1" (paper default), "mobilenet_v2" or "resnet18".
    width: encoder width multiplier (1.0 = paper; 0.25 for CPU-scale runs).
    decoder_width: multiplier on the decoder channels of docs/CONVENTIONS.md
      (PPM 512 / 4x128 / 256; laterals 128, 64, 64).
    num_classes: the logits' channels (19 for Cityscapes); training sets it from the
      records' dataset descriptor (`tw_keras.dataset_info`).
    imagenet_weights: a local file of ImageNet encoder weights, "imagenet" (Keras' own file,
      from Keras' cache or downloaded into it once), or None (random init).
    deep_context: False builds the *no-context* ablation instead of the per-frame CNN: the
      encoder up to stride 8 and the decoder's stride-8/4 tail (lateral 3) and classifier,
      with no deeper layers (no PPM, no Layer1/Layer2). It checks that a benchmark cannot
      be solved from local appearance alone.
  """
  backbone: str = "mobilenet_v1"
  width: float = 1.0
  decoder_width: float = 1.0
  num_classes: int = 19
  imagenet_weights: Optional[str] = None
  deep_context: bool = True

  def channels(self, n: int) -> int:
    return max(8, int(round(n * self.decoder_width)))

  @property
  def ppm(self) -> Tuple[int, int, int]:
    """(reduce, per-bin, out) channels of pyramid pooling."""
    return self.channels(512), self.channels(128), self.channels(256)

  @property
  def lateral_filters(self) -> Tuple[int, int, int]:
    """Output channels of lateral connections 1, 2, 3 = channels of Layer1, Layer2, Layer3."""
    return self.channels(128), self.channels(64), self.channels(64)


PRESETS = {
    "paper": ModelConfig(),
    "cpu_small": ModelConfig(width=0.25, decoder_width=0.25),
    "tiny": ModelConfig(width=0.25, decoder_width=0.125),
}

LAYER_STRIDE = {1: 16, 2: 8, 3: 4}


class Kind(str, enum.Enum):
  """What a variant runs on non-key frames."""
  PER_FRAME = "per_frame"      # nothing: every frame through the per-frame CNN
  NKFC = "nkfc"                # a non-key-frame CNN warping Layer-k features (TWNet, Clockwork)
  WARP_SCORES = "warp_scores"  # DFF-style warping of the final scores


@dataclasses.dataclass(frozen=True)
class Variant:
  """One row of the paper's tables / one baseline.

  Attributes:
    name: e.g. "layer1_cfr_rga".
    kind: a `Kind` (ask the properties `is_per_frame`, `warps_scores`, `is_nkfc`).
    warp_layer: 1, 2 or 3 (NKFC) -- the decoder layer whose features are warped.
    fine_tune: whether stage 2 trains the NKFC tail (False = "warp only").
    cfr, rga: correction modules.
    zero_motion: no motion (the Clockwork baseline: the key frame's deep features, not
      warped, fused with the frame's fresh shallow ones; the NKFC has no warp op at all).
  """
  name: str
  kind: Kind = Kind.NKFC
  warp_layer: int = 1
  fine_tune: bool = True
  cfr: bool = False
  rga: bool = False
  zero_motion: bool = False

  def __post_init__(self):
    object.__setattr__(self, "kind", Kind(self.kind))

  @property
  def is_per_frame(self) -> bool:
    return self.kind is Kind.PER_FRAME

  @property
  def warps_scores(self) -> bool:
    return self.kind is Kind.WARP_SCORES

  @property
  def is_nkfc(self) -> bool:
    return self.kind is Kind.NKFC

  @property
  def has_non_key_frame_model(self) -> bool:
    """Whether non-key frames run a model of their own (anything but the per-frame CNN)."""
    return not self.is_per_frame

  @property
  def stride(self) -> int:
    return 4 if self.warps_scores else LAYER_STRIDE[self.warp_layer]

  @property
  def context_output(self) -> str:
    """The per-frame CNN output that this variant carries from frame to frame (and that the
    NKFC returns as "context"): "layer1".."layer3", or "scores" for DFF-style warping."""
    return "scores" if self.warps_scores else f"layer{self.warp_layer}"

  @property
  def trainable(self) -> bool:
    """Whether stage 2 has anything to train for this variant."""
    return self.is_nkfc and (self.fine_tune or self.cfr or self.rga)


def _nkfc_rows(layer):
  p = f"layer{layer}"
  return [Variant(f"{p}_warp", warp_layer=layer, fine_tune=False), Variant(f"{p}_ft", warp_layer=layer),
          Variant(f"{p}_cfr", warp_layer=layer, cfr=True), Variant(f"{p}_cfr_rga", warp_layer=layer, cfr=True, rga=True)]


VARIANTS = {v.name: v for v in [
    Variant("per_frame", kind=Kind.PER_FRAME),
    Variant("warp_scores", kind=Kind.WARP_SCORES, fine_tune=False),
    Variant("clockwork", warp_layer=1, zero_motion=True),
    *_nkfc_rows(1), *_nkfc_rows(2),
    Variant("layer3", warp_layer=3),
]}


@dataclasses.dataclass(frozen=True)
class Stage1Config:
  """Per-frame CNN training (paper 5.1; numbers lost in the text are our documented choices).

  Attributes:
    steps: optimizer steps.
    batch_size: global batch (split over replicas).
    learning_rate: Adam's initial rate, decayed polynomially (power 0.9) to 0.
    encoder_lr_multiplier: applied to the encoder when it starts from ImageNet weights.
    weight_decay: L2 factor on all conv kernels.
    crop: (h, w) random crop after scaling; pads with ignore where the image is smaller.
    scale_range: random scale factor range.
    flip: random horizontal flip.
    photometric: random brightness, contrast, saturation and hue (`augment.photometric_jitter`).
    class_weighting: "none", or "median_frequency" (SegNet's: class c weighs
      median(freq) / freq(c), freq over the training labels; `losses.median_frequency_weights`).
  """
  steps: int = 90000
  batch_size: int = 8
  learning_rate: float = 1e-3
  encoder_lr_multiplier: float = 0.1
  weight_decay: float = 4e-5
  power: float = 0.9
  crop: Tuple[int, int] = (768, 768)
  scale_range: Tuple[float, float] = (0.5, 2.0)
  flip: bool = True
  photometric: bool = False
  class_weighting: str = "none"


@dataclasses.dataclass(frozen=True)
class Stage2Config:
  """Non-key-frame CNN training (paper 4.4.3, 5.1): frozen per-frame CNN, no random crop.

  Attributes:
    clip_length: frames per training clip: the key frame and clip_length - 1 P-frames
      chained through the NKFC, each scored (CE where labelled, + consistency).
    consistency_weight: lambda of eq. 8 (10 was the paper's best of 0, 1, 10, 20).
  """
  steps: int = 20000
  batch_size: int = 4
  learning_rate: float = 1e-4
  weight_decay: float = 4e-5
  power: float = 0.9
  clip_length: int = 4
  consistency_weight: float = 10.0


@dataclasses.dataclass(frozen=True)
class Preset:
  model: ModelConfig
  stage1: Stage1Config
  stage2: Stage2Config
  eval_every: int = 5000
  checkpoint_every: int = 1000
  eval_gops: int = 8  # GOPs of the val split scored by each periodic evaluation


TRAIN_PRESETS = {
    # The paper's recipe on Cityscapes at 1024x2048 (MobileNetV1 1.0).
    "paper": Preset(PRESETS["paper"], Stage1Config(), Stage2Config()),
    # A CPU-scale run on the synthetic benchmark (256x512): minutes on 2 cores.
    "cpu_small": Preset(PRESETS["cpu_small"],
                        Stage1Config(steps=1500, batch_size=8, learning_rate=2e-3, crop=(192, 384),
                                     scale_range=(0.75, 1.5)),
                        Stage2Config(steps=300, batch_size=2, learning_rate=5e-4, clip_length=4),
                        eval_every=500, checkpoint_every=250),
    # The reproduction study on the 3D street benchmark (docs/study_cpu.md): about 1 h
    # on 2 cores for stage 1, the no-context check and every stage-2 row, at 256x512.
    "cpu_study": Preset(PRESETS["cpu_small"],
                        Stage1Config(steps=3000, batch_size=8, learning_rate=2e-3, crop=(256, 384),
                                     scale_range=(0.75, 1.5)),
                        Stage2Config(steps=300, batch_size=2, learning_rate=5e-4, clip_length=4),
                        eval_every=500, checkpoint_every=500),
    # The same study at 512x1024 (docs/study_cpu.md, "How far the models look"): the
    # benchmark rendered with --synthetic_height=512 --synthetic_width=1024, crops scaled
    # with it, stage 1 long enough to plateau at 256x512 (12000 steps) with room to spare,
    # the longer stage 2. A GPU job (not yet run); the validation curve decides the steps.
    "study_512": Preset(PRESETS["cpu_small"],
                        Stage1Config(steps=16000, batch_size=8, learning_rate=2e-3, crop=(512, 768),
                                     scale_range=(0.75, 1.5)),
                        Stage2Config(steps=1500, batch_size=2, learning_rate=5e-4, clip_length=4),
                        eval_every=1000, checkpoint_every=1000),
    # The paper's CamVid setting (section 5.4: 960x720 frames, 11 classes, MobileNetV1 1.0).
    # The paper's text lost the crop and the schedule; our choices: a 640x640 crop (multiples
    # of 32 inside 720x960, about 60% of a frame at scale 1) with Cityscapes' 0.5..2 scales;
    # 367 training frames go through 30000 steps of batch 8 (about 650 epochs), stage 2 10000
    # steps of batch 4. Build the records with `--dataset=camvid` (README, "CamVid").
    "camvid": Preset(ModelConfig(num_classes=11),
                     Stage1Config(steps=30000, batch_size=8, crop=(640, 640)),
                     Stage2Config(steps=10000, batch_size=4),
                     eval_every=2000, checkpoint_every=1000),
    # Stage 1 on SegNet's CamVid within a 2-core CPU budget (docs/camvid.md): the paper's
    # MobileNetV1 1.0 from ImageNet at SegNet's 480x360 (half the paper's 960x720); crops of
    # 352x480 (the frame's multiple-of-32 interior at scale 1); the field's augmentation for a
    # small dataset (scale 0.5..2, flip, photometric jitter); 2000 steps of batch 8 (44
    # epochs, about 70 min at 2 s a step); every periodic evaluation scores all 90 val GOPs.
    "camvid_cpu": Preset(ModelConfig(num_classes=11),
                         Stage1Config(steps=2000, batch_size=8, crop=(352, 480), photometric=True),
                         Stage2Config(steps=1000, batch_size=2, learning_rate=5e-4, clip_length=4),
                         eval_every=250, checkpoint_every=250, eval_gops=1000),
    # The one-command demo and CI: tiny model, few steps.
    "tiny": Preset(PRESETS["tiny"],
                   Stage1Config(steps=2000, batch_size=4, learning_rate=3e-3, crop=(128, 256),
                                scale_range=(0.75, 1.25)),
                   Stage2Config(steps=150, batch_size=2, learning_rate=1e-3, clip_length=4),
                   eval_every=500, checkpoint_every=250),
}

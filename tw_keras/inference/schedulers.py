"""Key-frame schedulers: which frames go through the per-frame CNN.

One choice, shared by video segmentation and evaluation, written as a string:

  gop           the stream's I-frames are key frames (TWNet, paper 4.4.1); on a stream whose
                own I-frames are further apart (its own motion, `--motion_source`), also
                every 12th frame since the last key frame, the paper's GOP
  fixed:K       every K-th frame (Clockwork fixed-rate schedule)
  adaptive[:score=S][,residual=R]
                the Clockwork adaptive clock: a frame becomes a key frame when the fraction
                of pixels whose argmax changed since the last key frame exceeds S (the cheap
                score is the non-key-frame model's own prediction; Clockwork used 0.25-0.47
                on Cityscapes), or when the mean absolute residual of the frame exceeds R
                (TapLab's residual-energy selection). The first frame is always a key frame.
  every         every frame (the per-frame baseline)

Under every schedule an I-frame is a key frame: it has no motion to warp with.

`tune_threshold` picks a threshold on unlabelled video for a target key-frame rate.
"""

import dataclasses
import enum
from typing import Optional, Sequence

import numpy as np


class ScheduleKind(str, enum.Enum):
  """The schedules of the module doc."""
  GOP = "gop"
  FIXED = "fixed"
  ADAPTIVE = "adaptive"
  EVERY = "every"


@dataclasses.dataclass
class Scheduler:
  """Decides, frame by frame, whether to run the per-frame CNN.

  Use: `before(index, pict_type, residual_energy)` -> True for a key frame. For non-key frames
  under `adaptive`, after the non-key-frame model ran, `after(prediction)` -> True when
  the frame must be recomputed as a key frame. `key_done(prediction)` records a key frame's
  prediction.
  """
  kind: ScheduleKind = ScheduleKind.GOP
  interval: int = 12
  score_threshold: Optional[float] = None
  residual_threshold: Optional[float] = None

  def __post_init__(self):
    self.kind = ScheduleKind(self.kind)
    self._since_key = None
    self._key_prediction = None

  @property
  def is_every(self) -> bool:
    """Every frame is a key frame (the per-frame baseline)."""
    return self.kind is ScheduleKind.EVERY

  @property
  def is_adaptive(self) -> bool:
    return self.kind is ScheduleKind.ADAPTIVE

  @property
  def counts_frames(self) -> bool:
    """A key frame every `interval` frames (gop, fixed:K)."""
    return self.kind in (ScheduleKind.GOP, ScheduleKind.FIXED)

  def spec(self) -> str:
    if self.kind is ScheduleKind.FIXED:
      return f"fixed:{self.interval}"
    if self.is_adaptive:
      parts = []
      if self.score_threshold is not None:
        parts.append(f"score={self.score_threshold:g}")
      if self.residual_threshold is not None:
        parts.append(f"residual={self.residual_threshold:g}")
      return "adaptive:" + ",".join(parts)
    return self.kind.value

  def reset(self):
    self._since_key = None
    self._key_prediction = None

  def before(self, index: int, pict_type: str, residual_energy: Optional[float] = None) -> bool:
    """True when frame `index` (0-based in the stream) is a key frame, decided before any network runs.

    `residual_energy`: the frame's mean absolute residual (what `residual=R` compares with R).
    """
    first = self._since_key is None
    if self.is_every or first or pict_type == "I":
      return True
    if self.counts_frames:
      return self._since_key + 1 >= self.interval
    if self.residual_threshold is not None and residual_energy is not None:
      return residual_energy > self.residual_threshold
    return False

  def changed_fraction(self, prediction: np.ndarray) -> float:
    """Fraction of pixels whose label differs from the last key frame's prediction."""
    if self._key_prediction is None:
      return 1.0
    return float(np.mean(np.asarray(prediction) != self._key_prediction))

  def after(self, prediction: np.ndarray) -> bool:
    """Adaptive only: True when the non-key prediction drifted too far from the last key."""
    if not self.is_adaptive or self.score_threshold is None:
      return False
    return self.changed_fraction(prediction) > self.score_threshold

  def key_done(self, prediction: np.ndarray):
    self._since_key = 0
    self._key_prediction = np.asarray(prediction)

  def non_key_done(self):
    self._since_key += 1


def parse(spec: str) -> Scheduler:
  """'gop' | 'every' | 'fixed:K' | 'adaptive[:score=S][,residual=R]' -> Scheduler."""
  name, _, args = spec.partition(":")
  if name in (ScheduleKind.GOP, ScheduleKind.EVERY) and not args:
    return Scheduler(ScheduleKind(name))
  if name == ScheduleKind.FIXED:
    try:
      k = int(args)
    except ValueError:
      k = 0
    if k < 1:
      raise ValueError(f"scheduler {spec!r}: fixed needs a positive interval, e.g. fixed:5")
    return Scheduler(ScheduleKind.FIXED, interval=k)
  if name == ScheduleKind.ADAPTIVE:
    values = {"score": 0.3} if not args else {}
    for part in filter(None, args.split(",")):
      key, _, value = part.partition("=")
      if key not in ("score", "residual"):
        raise ValueError(f"scheduler {spec!r}: unknown adaptive setting {key!r} (score, residual)")
      values[key] = float(value)
    return Scheduler(ScheduleKind.ADAPTIVE, score_threshold=values.get("score"), residual_threshold=values.get("residual"))
  raise ValueError(f"unknown scheduler {spec!r}: use gop, every, fixed:K or adaptive[:score=S][,residual=R]")


def tune_threshold(statistics: Sequence[float], target_key_rate: float) -> float:
  """Threshold on a per-frame statistic (changed fraction or residual energy) so that a
  fraction `target_key_rate` of the frames exceeds it: the (1 - rate) quantile."""
  if not 0 < target_key_rate < 1:
    raise ValueError(f"target key-frame rate must be in (0, 1), got {target_key_rate}")
  values = np.asarray(list(statistics), np.float64)
  if values.size == 0:
    raise ValueError("no statistics to tune on")
  return float(np.quantile(values, 1.0 - target_key_rate))

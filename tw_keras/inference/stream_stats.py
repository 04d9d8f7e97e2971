"""What a segmentation run measures: its frame counts and waits (`SegmentStats`, one summary
line), and the temporal consistency of its labels without labels or exact flow
(`ConsistencyMeter`)."""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from tw_keras.data import flow_sources
from tw_keras.evaluation import metrics
from tw_keras.video import sources


@dataclasses.dataclass
class SegmentStats:
  """Seconds are wall-clock waits of the network thread: `decode_seconds` waiting for the
  decoder, `write_seconds` waiting for the writer; with the stages overlapping, total is
  less than their sum."""
  frames: int
  key_frames: int
  decode_seconds: float
  network_seconds: float
  write_seconds: float
  total_seconds: float
  transcoded: bool
  temporal_consistency: Optional[float] = None  # percent, when measured (`ConsistencyMeter`)
  valid_fraction: Optional[float] = None  # of the pixels it counted
  transcoded_from: Optional[int] = None  # the frame where the stream's own motion gave out
  corrupt_frames: Tuple[int, ...] = ()  # frames the decoder flagged as corrupt (concealed damage)
  forced_keys: Tuple[int, ...] = ()  # key frames forced on the first clean frame after them

  def line(self) -> str:
    fps = lambda s: self.frames / s if s > 0 else float("inf")
    tc = ""
    if self.temporal_consistency is not None:
      tc = (f"; temporal consistency {self.temporal_consistency:.2f}% (DIS flow, "
            f"{100 * self.valid_fraction:.1f}% of pixels forward-backward consistent)")
    return (f"{self.frames} frames ({self.key_frames} key): network {fps(self.network_seconds):.1f} FPS, "
            f"total {fps(self.total_seconds):.1f} FPS; waited {self.decode_seconds:.1f} s for decoding"
            + (" (transcoded on the fly)" if self.transcoded else " (the stream's own motion)" if
               self.transcoded_from is None else f" (the stream's own motion, transcoded from frame {self.transcoded_from} on)")
            + f", {self.write_seconds:.1f} s for writing" + tc
            + (f"; {len(self.corrupt_frames)} corrupt frame(s), {len(self.forced_keys)} key frame(s) forced after "
               "them" if self.corrupt_frames else ""))

  def corrupt_warning(self, video) -> Optional[str]:
    """The one warning line about damage the decoder concealed, or None."""
    if not self.corrupt_frames:
      return None
    return (f"warning: {video}: the decoder flagged frame(s) {sources.format_frames(self.corrupt_frames)} as "
            f"corrupt (damage it concealed); key frames forced at {sources.format_frames(self.forced_keys) or 'none'}")


class ConsistencyMeter:
  """Temporal consistency of a stream of predictions without labels or exact flow
  (`metrics.temporal_consistency`): each frame's labels against the previous frame's carried
  to it by DIS flow, on the pixels that pass DIS's forward-backward test
  (`flow_sources.dis_with_mask`). Feed frames in order with `add`."""

  def __init__(self, num_classes: int):
    self.counts = metrics.ConsistencyCounts(num_classes)
    self.valid = self.pixels = 0
    self._previous = None

  def add(self, rgb: np.ndarray, labels: np.ndarray):
    """[H, W, 3] uint8 frame, [H, W] its predicted train ids."""
    if self._previous is not None:
      motion, valid = flow_sources.dis_with_mask(self._previous[0], rgb)
      self.counts.add(self._previous[1], labels, motion, valid)
      self.valid += int(valid.sum())
      self.pixels += valid.size
    self._previous = (rgb, labels)

  @property
  def value(self) -> Optional[float]:
    return self.counts.value

  @property
  def valid_fraction(self) -> Optional[float]:
    return self.valid / self.pixels if self.pixels else None

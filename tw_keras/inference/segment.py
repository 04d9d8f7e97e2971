"""Segment a video end to end, as a pipeline of three concurrent stages.

  decode (+ on-the-fly transcoding)  --queue-->  network  --queue-->  overlay + write
  (a thread: FFmpeg releases the GIL)           (this thread)         (a thread)

Queues are bounded (4 frames each), so memory is bounded whatever the video's length, and
the total FPS approaches the slowest stage instead of the sum of all three. A canonical
MPEG-4 file is decoded directly; anything else (H.264 with B-frames, a pipe, a growing
file, an rtsp:// URL) is transcoded in memory (`codec.stream_compressed`), several GOPs at
once on as many cores (`video/transcoder.py`; a live source's labels come about one GOP
later, `workers=1` for none): nothing is written to disk, and `max_frames` stops the
transcoder as well.

With `temporal_consistency`, the output stage also measures how stable the labels are from
frame to frame (`ConsistencyMeter`): a quality signal that needs no labels.
"""

import dataclasses
import queue
import threading
import time
from typing import Optional, Tuple

import numpy as np

from tw_keras import dataset_info, fileio
from tw_keras.data import flow_sources, label_png
from tw_keras.evaluation import metrics
from tw_keras.inference import runner
from tw_keras.video import codec, sources, transcoder
from tw_keras.video.writer import VideoWriter

QUEUE_DEPTH = 4


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


def overlay(rgb: np.ndarray, train_ids: np.ndarray, alpha: float = 0.5,
            info: dataset_info.DatasetInfo = dataset_info.CITYSCAPES) -> np.ndarray:
  """Blends `info`'s class colours of [H, W] train ids over [H, W, 3] uint8 RGB.

  Fixed-point (alpha in 1/256 steps, uint16): 3x faster than float32 at 2048x1024, and equal
  to floor((1 - alpha) * rgb + alpha * colour) for alpha = 0.5.
  """
  a = int(round(alpha * 256))
  out = rgb.astype(np.uint16) * np.uint16(256 - a)
  out += info.colorize(train_ids) * np.uint16(a)
  out >>= 8
  return out.astype(np.uint8)


def compressed_frames(video: str, options: codec.EncodeOptions = codec.EncodeOptions(),
                      with_residual: bool = False, workers: int = 0, motion_source: str = "auto",
                      corrupt: Optional[sources.CorruptFrames] = None):
  """(frames, path): `CompressedFrame`s of any video: frame and motion grid, and the host
  residual if asked for. A canonical file is decoded as it is (path {"native": True});
  anything else goes through `codec.stream_compressed`: its own motion where unambiguous,
  else transcoded on the fly, in memory, `workers` GOPs at once (0:
  `transcoder.default_workers`); `path["native"]` says which, once the first frame is out, and
  `path["transcoded_from"]` the frame where a stream's own motion gave out, if it did.
  `corrupt`: frames the decoder flags (`sources.CorruptFrames`; default: the video is refused)."""
  if motion_source != "transcode" and not codec.is_live(video) and codec.is_canonical(video, options.gop):
    return (codec.decode_compressed(video, with_residual=with_residual, corrupt=corrupt),
            {"native": True, "canonical": True})
  path = {}
  workers = workers or transcoder.default_workers()
  return codec.stream_compressed(video, options, with_residual=with_residual, workers=workers,
                                 motion_source=motion_source, path=path, corrupt=corrupt), path


class _Writer:
  """The output stage on its own thread: overlay video and/or label PNGs, in frame order, in
  the colours and label encoding of `info` (the model's dataset)."""

  def __init__(self, output: Optional[str], label_dir: Optional[str], fps: int, info: dataset_info.DatasetInfo,
               meter: Optional[ConsistencyMeter] = None):
    self.output, self.label_dir, self.fps, self.info, self.meter = output, label_dir, fps, info, meter
    self.queue = queue.Queue(QUEUE_DEPTH)
    self.error = None
    self.video = None
    self.thread = threading.Thread(target=self._run, daemon=True)
    self.thread.start()

  def _run(self):
    while True:
      item = self.queue.get()
      if item is None:
        return
      if self.error is not None:
        continue  # drain: the producer learns of the error on its next put
      rgb, pred, index = item
      try:
        if self.output:
          if self.video is None:
            self.video = VideoWriter(self.output, self.fps, rgb.shape[1], rgb.shape[0])
          self.video.write(overlay(rgb, pred, info=self.info))
        if self.label_dir:
          label_png.write_label_png(self.label_dir, f"frame_{index:06d}", pred, "_labelIds.png", self.info)
        if self.meter is not None:
          self.meter.add(rgb, pred)
      except Exception as e:  # pylint: disable=broad-except
        self.error = e

  def put(self, rgb, pred, index) -> float:
    """Queues one frame; returns the seconds spent waiting for room."""
    if self.error is not None:
      raise self.error
    t = time.perf_counter()
    self.queue.put((rgb, pred, index))
    return time.perf_counter() - t

  def close(self, ok: bool) -> float:
    t = time.perf_counter()
    self.queue.put(None)
    self.thread.join()
    if self.video is not None:
      self.video.close(ok and self.error is None)
    if ok and self.error is not None:
      raise self.error
    return time.perf_counter() - t


def check_outputs(output: Optional[str], label_dir: Optional[str]):
  """Every path `segment_video` will write, checked before any work: the overlay video (its
  directory and its container) and the label directory. Raises `fileio.PathError`."""
  if output:
    VideoWriter.check(output, "overlay video")
  if label_dir:
    fileio.check_output_dir(label_dir, "label directory")


def segment_video(video: str, segmenter: runner.StreamSegmenter, output: Optional[str],
                  label_dir: Optional[str] = None, options: codec.EncodeOptions = codec.EncodeOptions(),
                  max_frames: int = 0, temporal_consistency: bool = False, workers: int = 0,
                  motion_source: str = "auto") -> SegmentStats:
  """Segments `video` (a file, a pipe, or a URL FFmpeg opens) into an overlay video at
  `output` and/or labelId PNGs in `label_dir` (at least one of them, unless
  `temporal_consistency`: then outputs are optional and the stats carry the measure).
  `workers`: GOPs transcoded at once when the video is transcoded; `motion_source`: "auto"
  (the stream's own motion where unambiguous), "native" or "transcode" (`compressed_frames`).
  Frames the decoder flags as corrupt (damage it concealed) do not stop it, since a live
  stream should not die on one bad packet: the first clean frame after them is a key frame,
  so that no warped feature carries the damage on; the stats list both (`corrupt_warning`).

  Raises:
    codec.VideoError: unreadable input. fileio.PathError: an output that cannot be written.
  """
  if not output and not label_dir and not temporal_consistency:
    raise ValueError("segment_video: give an output video, a label directory, or both")
  check_outputs(output, label_dir)
  start = time.perf_counter()
  segmenter.reset()
  corrupt = sources.CorruptFrames(allow=True)
  frames, path = compressed_frames(video, options, segmenter.host_residual, workers, motion_source, corrupt)
  info = segmenter.twnet.dataset
  meter = ConsistencyMeter(info.num_classes) if temporal_consistency else None
  writer = _Writer(output, label_dir, options.fps, info, meter)
  decode_seconds = write_seconds = 0.0
  n = 0
  ok = False
  damaged, forced = False, []
  try:
    while not (max_frames and n >= max_frames):
      t = time.perf_counter()
      frame = next(frames, None)
      decode_seconds += time.perf_counter() - t
      if frame is None:
        break
      bad = frame.index in corrupt.frames  # flagged before the frame comes out
      force = damaged and not bad and frame.pict_type != "I"
      if force:
        forced.append(frame.index)
      damaged = bad or (damaged and not force and frame.pict_type != "I")
      pred, _ = segmenter(frame.rgb, frame.motion_grid, frame.pict_type, frame.index, frame.residual,
                          frame.motion_cell, force_key=force)
      write_seconds += writer.put(frame.rgb, pred, frame.index)
      n += 1
    ok = n > 0
  finally:
    frames.close()
    write_seconds += writer.close(ok)
  return SegmentStats(n, segmenter.key_frames, decode_seconds, segmenter.network_seconds, write_seconds,
                      time.perf_counter() - start, not path.get("native", False), meter.value if meter else None,
                      meter.valid_fraction if meter else None, path.get("transcoded_from"),
                      tuple(f for f in corrupt.frames if f < n), tuple(forced))


def tune_adaptive(video: str, segmenter: runner.StreamSegmenter, target_key_rate: float, max_frames: int = 300,
                  options: codec.EncodeOptions = codec.EncodeOptions()) -> float:
  """Tunes the adaptive clock's score threshold on an unlabelled video.

  Streams up to `max_frames` frames under the GOP schedule, records for every non-key frame
  the fraction of pixels whose label changed since the last key frame, and returns the
  threshold that this fraction exceeds on `target_key_rate` of the frames. (Measured under
  the GOP schedule, so an approximation of the rate the adaptive clock will reach.)
  """
  from tw_keras.inference import schedulers  # pylint: disable=g-import-not-at-top
  segmenter = segmenter.with_scheduler("gop")  # the caller's segmenter is left as it was
  changed = []
  frames, _ = compressed_frames(video, options, segmenter.host_residual)
  try:
    for frame in frames:
      if frame.index >= max_frames:
        break
      pred, key = segmenter(frame.rgb, frame.motion_grid, frame.pict_type, frame.index, frame.residual,
                            frame.motion_cell)
      if not key:
        changed.append(segmenter.scheduler.changed_fraction(pred))
  finally:
    frames.close()
  return schedulers.tune_threshold(changed, target_key_rate)

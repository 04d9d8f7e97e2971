"""Segment a video file end to end: transcode if needed, decode in one streaming pass,
run the key-frame / non-key-frame models under a scheduler, write an overlay video.

Memory is bounded whatever the video's length: frames stream from the decoder (a
4-frame queue) through the network to the encoder; nothing is kept but the context state.
"""

import dataclasses
import os
import tempfile
import time
from typing import Optional

import numpy as np

from tw_keras.video import codec
from tw_keras.video.writer import VideoWriter
from tw_keras import labels
from tw_keras.inference import runner


@dataclasses.dataclass
class SegmentStats:
  frames: int
  key_frames: int
  decode_seconds: float  # PyAV decode + motion field + residual (and transcoding, reported apart)
  network_seconds: float
  total_seconds: float
  transcode_seconds: float
  transcoded: bool

  def line(self) -> str:
    fps = lambda s: self.frames / s if s > 0 else float("inf")
    return (f"{self.frames} frames ({self.key_frames} key): decode {fps(self.decode_seconds):.1f} FPS, "
            f"network {fps(self.network_seconds):.1f} FPS, total {fps(self.total_seconds):.1f} FPS"
            + (f" (+ transcode {self.transcode_seconds:.1f} s)" if self.transcoded else ""))


def overlay(rgb: np.ndarray, train_ids: np.ndarray, alpha: float = 0.5) -> np.ndarray:
  """Blends the Cityscapes colours of [H, W] trainIds over [H, W, 3] uint8 RGB."""
  colour = labels.colorize(train_ids).astype(np.float32)
  return (rgb.astype(np.float32) * (1 - alpha) + colour * alpha).astype(np.uint8)


def segment_video(video: str, segmenter: runner.StreamSegmenter, output: str,
                  label_dir: Optional[str] = None, options: codec.EncodeOptions = codec.EncodeOptions(),
                  max_frames: int = 0, work_dir: Optional[str] = None) -> SegmentStats:
  """Segments `video` into an overlay video at `output` (and labelId PNGs in `label_dir`).

  Raises:
    codec.VideoError: unreadable input, or an output that cannot be written.
  """
  out_dir = os.path.dirname(os.path.abspath(output))
  if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
    raise codec.VideoError(output, "output directory does not exist or is not writable")
  start = time.perf_counter()
  segmenter.reset()
  with tempfile.TemporaryDirectory(prefix="tw_keras_segment_", dir=work_dir) as tmp:
    transcoded = not codec.is_canonical(video, options.gop)
    t = time.perf_counter()
    stream_path = video
    if transcoded:
      stream_path = os.path.join(tmp, "canonical.mp4")
      codec.transcode(video, stream_path, options)
    transcode_seconds = time.perf_counter() - t
    frames = codec.decode_compressed(stream_path)
    writer = None
    decode_seconds = 0.0
    n = 0
    ok = False
    try:
      while True:
        t = time.perf_counter()
        frame = next(frames, None)
        decode_seconds += time.perf_counter() - t
        if frame is None or (max_frames and n >= max_frames):
          break
        if writer is None:
          writer = VideoWriter(output, options.fps, frame.rgb.shape[1], frame.rgb.shape[0])
        pred, _ = segmenter(frame.rgb, frame.motion, frame.residual, frame.pict_type, frame.index)
        writer.write(overlay(frame.rgb, pred))
        if label_dir:
          from tw_keras.evaluation import protocol  # pylint: disable=g-import-not-at-top
          protocol.write_label_png(label_dir, f"frame_{frame.index:06d}", pred, "_labelIds.png")
        n += 1
      ok = n > 0
    finally:
      frames.close()
      if writer is not None:
        writer.close(ok)
  return SegmentStats(n, segmenter.key_frames, decode_seconds, segmenter.network_seconds,
                      time.perf_counter() - start - transcode_seconds, transcode_seconds, transcoded)


def tune_adaptive(video: str, segmenter: runner.StreamSegmenter, target_key_rate: float, max_frames: int = 300,
                  options: codec.EncodeOptions = codec.EncodeOptions()) -> float:
  """Tunes the adaptive clock's score threshold on an unlabelled video.

  Streams up to `max_frames` frames under the GOP schedule, records for every non-key frame
  the fraction of pixels whose label changed since the last key frame, and returns the
  threshold that this fraction exceeds on `target_key_rate` of the frames. (Measured under
  the GOP schedule, so an approximation of the rate the adaptive clock will reach.)
  """
  from tw_keras.model import schedulers  # pylint: disable=g-import-not-at-top
  segmenter = segmenter.with_scheduler("gop")  # the caller's segmenter is left as it was
  changed = []
  with tempfile.TemporaryDirectory(prefix="tw_keras_tune_") as tmp:
    path = video
    if not codec.is_canonical(video, options.gop):
      path = os.path.join(tmp, "canonical.mp4")
      codec.transcode(video, path, options)
    frames = codec.decode_compressed(path)
    try:
      for frame in frames:
        if frame.index >= max_frames:
          break
        pred, key = segmenter(frame.rgb, frame.motion, frame.residual, frame.pict_type, frame.index)
        if not key:
          changed.append(segmenter.scheduler.changed_fraction(pred))
    finally:
      frames.close()
  return schedulers.tune_threshold(changed, target_key_rate)

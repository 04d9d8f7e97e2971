"""Tuning the adaptive key-frame clock on a user's own (unlabelled) video."""

from tw_keras.inference import runner, schedulers, segment
from tw_keras.video import codec


def tune_adaptive(video: str, segmenter: runner.StreamSegmenter, target_key_rate: float, max_frames: int = 300,
                  options: codec.EncodeOptions = codec.EncodeOptions()) -> float:
  """Tunes the adaptive clock's score threshold on an unlabelled video.

  Streams up to `max_frames` frames under the GOP schedule, records for every non-key frame
  the fraction of pixels whose label changed since the last key frame, and returns the
  threshold that this fraction exceeds on `target_key_rate` of the frames. (Measured under
  the GOP schedule, so an approximation of the rate the adaptive clock will reach.)
  """
  segmenter = segmenter.with_scheduler("gop")  # the caller's segmenter is left as it was
  changed = []
  frames, _ = segment.compressed_frames(video, options)
  try:
    for frame in frames:
      if frame.index >= max_frames:
        break
      pred, key = segmenter(frame.rgb, frame.motion_grid, frame.pict_type, frame.index, frame.motion_cell)
      if not key:
        changed.append(segmenter.scheduler.changed_fraction(pred))
  finally:
    frames.close()
  return schedulers.tune_threshold(changed, target_key_rate)

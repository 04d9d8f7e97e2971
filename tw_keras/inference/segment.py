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

With `temporal_consistency`, the output stage (`overlay.OutputStage`) also measures how stable
the labels are from frame to frame (`stream_stats.ConsistencyMeter`): a quality signal that
needs no labels. The run's numbers come back as `stream_stats.SegmentStats`.
"""

import time
from typing import Optional

from tw_keras import fileio
from tw_keras.inference import overlay, runner
from tw_keras.inference.stream_stats import ConsistencyMeter, SegmentStats
from tw_keras.video import codec, sources, transcoder
from tw_keras.video.writer import VideoWriter


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
  frames, path = compressed_frames(video, options, False, workers, motion_source, corrupt)
  info = segmenter.twnet.dataset
  meter = ConsistencyMeter(info.num_classes) if temporal_consistency else None
  writer = overlay.OutputStage(output, label_dir, options.fps, info, meter)
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
      pred, _ = segmenter(frame.rgb, frame.motion_grid, frame.pict_type, frame.index, frame.motion_cell,
                          force_key=force)
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

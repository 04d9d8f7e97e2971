"""Reading sources: video files, live inputs (pipes, FIFOs, URLs, devices) and ordered image lists
as RGB frames, with one-line errors (`VideoError`) for everything unreadable."""

import os
from typing import Iterator, Optional, Sequence, Tuple, Union

import av
import cv2
import numpy as np

from tw_keras.video.errors import VideoError

SIZE_TAG = "tw_keras_size="  # the original size `canonical.encode_frames` stores in the `comment` tag


def is_image_list(source) -> bool:
  return not isinstance(source, (str, os.PathLike))


def read_image(path) -> np.ndarray:
  """Reads an image file as [H, W, 3] uint8 RGB, or raises VideoError."""
  if not os.path.exists(path):
    raise VideoError(path, "file does not exist")
  bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
  if bgr is None:
    raise VideoError(path, "not a readable image")
  return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def is_live(path) -> bool:
  """A source that can be read only once, front to back: a URL FFmpeg opens (rtsp://,
  http://, ...), a pipe or FIFO, a device. Never probed ahead; always streamed."""
  path = str(path)
  return "://" in path or path.startswith("pipe:") or (os.path.exists(path) and not os.path.isfile(path))


def open_input(path):
  """An open PyAV container of `path` with a video stream, or VideoError."""
  if not is_live(path):
    if not os.path.exists(path):
      raise VideoError(path, "file does not exist")
    if os.path.getsize(path) == 0:
      raise VideoError(path, "empty file (0 bytes)")
  try:
    container = av.open(str(path))
  except av.error.EOFError:
    raise VideoError(path, "zero frames: the file ends before its first frame (empty or truncated)") from None
  except av.error.FFmpegError as e:
    raise VideoError(path, f"not a video FFmpeg can read ({e.__class__.__name__})") from None
  if not container.streams.video:
    container.close()
    raise VideoError(path, "contains no video stream")
  return container


def frame_size(frame) -> Tuple[int, int]:
  """(height, width) of an RGB array or a PyAV frame."""
  return (frame.height, frame.width) if isinstance(frame, av.VideoFrame) else frame.shape[:2]


def to_encoder_input(frame: av.VideoFrame, crop: Optional[Tuple[int, int]] = None):
  """A decoded frame as the canonical encoder takes it: the frame itself when it is already
  in the encoder's format and size (yuv420p, both sides multiples of 16, nothing to crop),
  which spares two colour conversions; else [H, W, 3] uint8 RGB (cropped to `crop`)."""
  if crop is None and frame.format.name == "yuv420p" and frame.width % 16 == 0 and frame.height % 16 == 0:
    return frame
  h, w = crop or (None, None)
  return np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:h, :w])


def iter_source_frames(source: Union[str, os.PathLike, Sequence[str]], for_encoder: bool = False) -> Iterator[np.ndarray]:
  """Yields [H, W, 3] uint8 RGB frames from a video file or an ordered list of images
  (`for_encoder`: a video's frames as `to_encoder_input` gives them).

  Raises:
    VideoError: unreadable, truncated or empty input, or frames of changing size.
  """
  if is_image_list(source):
    if not source:
      raise VideoError("<image list>", "zero frames")
    size = None
    for path in source:
      img = read_image(path)
      if size is not None and img.shape != size:
        raise VideoError(path, f"frame size {img.shape[1]}x{img.shape[0]} differs from the "
                         f"first frame's {size[1]}x{size[0]}")
      size = img.shape
      yield img
    return
  container = open_input(source)
  try:
    crop = stored_size(container)  # a stream we wrote: drop its codec padding
    for frame in decoded_frames(container, source):
      if for_encoder:
        yield to_encoder_input(frame, crop)
      else:
        h, w = crop or (None, None)
        yield np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:h, :w])
  finally:
    container.close()


def decoded_frames(container, source, packets=None) -> Iterator[av.VideoFrame]:
  """The decoded PyAV frames of an open container's video stream (frame threads on), or
  VideoError for a truncated or corrupt one. `packets`: the stream's packets when the caller
  has already started demuxing (default: demux from here)."""
  stream = container.streams.video[0]
  stream.thread_type = "AUTO"
  indexed = stream.frames  # frame count from the container's index; 0 when unknown
  count = 0
  try:
    for packet in packets if packets is not None else container.demux(stream):
      for frame in stream.codec_context.decode(packet):  # demux ends on an empty packet: the flush
        count += 1
        yield frame
  except av.error.FFmpegError as e:
    raise VideoError(source, f"truncated or corrupt video after {count} frames ({e})") from None
  if count == 0:
    raise VideoError(source, "zero frames decoded (empty or truncated video)")
  # A damaged file is rejected whole, never used up to the damage: with frame threading the
  # decoder can stop early without an error (an MP4 whose index is at the front, cut short).
  if indexed and count < indexed:
    raise VideoError(source, f"truncated or corrupt video: its index lists {indexed} frames but only "
                     f"{count} could be decoded")


def stored_size(container) -> Optional[Tuple[int, int]]:
  """(height, width) stored by `transcode` in the container's comment, if any."""
  comment = container.metadata.get("comment", "")
  if comment.startswith(SIZE_TAG):
    w, h = comment[len(SIZE_TAG):].split("x")
    return int(h), int(w)
  return None

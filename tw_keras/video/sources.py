"""Reading sources: video files, live inputs (pipes, FIFOs, URLs, devices), ordered image lists
and folders of numbered frames as RGB frames, with one-line errors (`VideoError`) for
everything unreadable."""

import os
import re
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import av
import cv2
import numpy as np

from tw_keras.video.errors import VideoError

SIZE_TAG = "tw_keras_size="  # the original size `canonical.encode_frames` stores in the `comment` tag


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last number in a file name


def is_frame_folder(source) -> bool:
  """A directory given where a video goes: a folder of numbered frames (`frame_folder`)."""
  return isinstance(source, (str, os.PathLike)) and os.path.isdir(source)


def frame_folder(directory) -> List[str]:
  """The image files of a folder of numbered frames, in frame order: by the last number in
  each name (`frame_9.png` before `frame_10.png`), then by name. Hidden files are ignored.

  Raises:
    VideoError: the folder holds no image file, a file that is not an image, or an image
      whose name has no number.
  """
  names = sorted(n for n in os.listdir(directory) if not n.startswith("."))
  if not names:
    raise VideoError(directory, "an empty folder (a folder of numbered frames was expected)")
  keyed = []
  for name in names:
    path = os.path.join(directory, name)
    if not os.path.isfile(path) or not name.lower().endswith(IMAGE_EXTENSIONS):
      raise VideoError(path, f"not an image file ({', '.join(IMAGE_EXTENSIONS)}), in a folder of numbered frames")
    m = _NUMBER.search(name)
    if not m:
      raise VideoError(path, "no frame number in the name, in a folder of numbered frames")
    keyed.append((int(m.group(1)), name, path))
  return [path for _, _, path in sorted(keyed)]


def is_image_list(source) -> bool:
  """Frames given as images: an ordered list of image paths, or a folder of numbered frames."""
  return not isinstance(source, (str, os.PathLike)) or is_frame_folder(source)


def source_name(source) -> str:
  """How errors and summaries name a source: its path, or "<image list>"."""
  return "<image list>" if not isinstance(source, (str, os.PathLike)) else str(source)


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
  return "://" in path or path.startswith("pipe:") or (os.path.exists(path) and not os.path.isfile(path)
                                                        and not os.path.isdir(path))


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


def iter_source_frames(source: Union[str, os.PathLike, Sequence[str]], for_encoder: bool = False,
                       corrupt: Optional["CorruptFrames"] = None) -> Iterator[np.ndarray]:
  """Yields [H, W, 3] uint8 RGB frames from a video file, an ordered list of images or a folder
  of numbered frames (`for_encoder`: a video's frames as `to_encoder_input` gives them;
  `corrupt`: as `decoded_frames`).

  Raises:
    VideoError: unreadable, truncated or empty input, or frames of changing size.
  """
  if is_frame_folder(source):
    source = frame_folder(source)
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
    for frame in decoded_frames(container, source, corrupt=corrupt):
      if for_encoder:
        yield to_encoder_input(frame, crop)
      else:
        h, w = crop or (None, None)
        yield np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:h, :w])
  finally:
    container.close()


class CorruptFrames:
  """Frames the decoder flagged as corrupt, and what a decode does about them.

  FFmpeg conceals damage in a stream (it copies in what it can) and flags each frame built on
  it: PyAV's `VideoFrame.is_corrupt` (AV_FRAME_FLAG_CORRUPT, or any decode_error_flags). Every
  decode of a user's stream goes through `decoded_frames`, which reads the flag.

  Attributes:
    allow: False: the source is refused (`check`, called when its decoding ends: one
      VideoError naming every flagged frame). True: decoding goes on and `frames` grows as
      flagged frames come out (the segmenter keys past them; a build records them).
    frames: the flagged frames' indices, in output order (0 = the first decoded frame).
  """

  def __init__(self, allow: bool = False):
    self.allow, self.frames = allow, []

  def check(self, source):
    if self.frames and not self.allow:
      raise VideoError(source, f"corrupt frame(s) {format_frames(self.frames)}: the decoder concealed damage in "
                       "the stream there (--allow_corrupt_frames keeps them)")


def format_frames(indices: Sequence[int], limit: int = 10) -> str:
  """[15, 22] -> "15, 22"; longer lists are cut: "1, 2, ... (40 frames)"."""
  shown = ", ".join(str(i) for i in indices[:limit])
  return shown if len(indices) <= limit else f"{shown}, ... ({len(indices)} frames)"


def decoded_frames(container, source, packets=None, corrupt: Optional[CorruptFrames] = None
                   ) -> Iterator[av.VideoFrame]:
  """The decoded PyAV frames of an open container's video stream (frame threads on), or
  VideoError for a truncated or corrupt one. `packets`: the stream's packets when the caller
  has already started demuxing (default: demux from here). `corrupt`: where frames the
  decoder flags go (default: a strict `CorruptFrames`, which refuses the source once its
  decoding ends)."""
  corrupt = CorruptFrames() if corrupt is None else corrupt
  stream = container.streams.video[0]
  stream.thread_type = "AUTO"
  indexed = stream.frames  # frame count from the container's index; 0 when unknown
  count = 0
  size = None
  try:
    for packet in packets if packets is not None else container.demux(stream):
      for frame in stream.codec_context.decode(packet):  # demux ends on an empty packet: the flush
        if frame.is_corrupt:
          corrupt.frames.append(count)
        if size is None:
          size = (frame.width, frame.height)
        elif (frame.width, frame.height) != size:  # every consumer takes one frame size
          raise VideoError(source, f"the resolution changes mid-stream: frame {count} is "
                           f"{frame.width}x{frame.height}, the frames before it {size[0]}x{size[1]}")
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
  # Without an index (WebM, Matroska, MPEG-TS) a damaged cluster can end the demuxing early,
  # silently: the frames must then reach the duration in the header of a video-only file.
  end = frame.time if count and frame.time is not None else None
  if not indexed and end is not None and container.duration and len(container.streams) == 1:
    said = container.duration / 1e6
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    if end < said - max(3.0 / rate, 0.02 * said):  # the last frame starts one interval before the end
      raise VideoError(source, f"truncated or corrupt video: its frames end at {end:.2f} s, its header says "
                       f"{said:.2f} s")
  corrupt.check(source)


def stored_size(container) -> Optional[Tuple[int, int]]:
  """(height, width) stored by `transcode` in the container's comment, if any."""
  comment = container.metadata.get("comment", "")
  if comment.startswith(SIZE_TAG):
    w, h = comment[len(SIZE_TAG):].split("x")
    return int(h), int(w)
  return None

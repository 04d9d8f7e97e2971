"""The compressed domain: one-pass decoding of the canonical stream into `CompressedFrame`s.

`decode_compressed(path)` decodes a canonical file once, front to back, and yields one
`CompressedFrame` per frame with the picture type, the RGB frame, the motion grid and the
residual map. No GOP is ever decoded twice. `stream_compressed(source)` gives the same
frames for any source, transcoded to the canonical stream in memory, frame by frame.

Conventions (docs/CONVENTIONS.md):
  * motion field `mv(p) = dst - src` in pixels, the displacement of content from the
    previous frame to the current one, at the codec's precision (half-pel for MPEG-4 SP).
    I-frames and intra macroblocks get 0;
  * warping is `F_t(p) = F_{t-1}(p - mv(p))`, bilinear, sample positions clamped to the
    frame (edge replication, which is also how MPEG-4 extends its reference frames);
  * residual `res_t(p) = I_t(p) - round(I_{t-1}(p - mv(p)))`, signed, per channel, in
    [-255, 255]; zero on I-frames.
  * `residual_mode="step"` uses the previous decoded frame (what TWNet warps with);
    `"accumulate"` accumulates the motion back to the GOP's I-frame and takes the
    residual against it (CoViAR / TapLab): `acc_t(p) = mv_t(p) + acc_{t-1}(p - mv_t(p))`.

`CompressedFrame.motion_grid` is what the TFRecords store: int16 quarter pixels, one vector
per 8x8 block ("step") or per pixel ("accumulate"); `CompressedFrame.motion` expands it.

The video package's modules, one concept each: `errors` (VideoError), `sources` (reading any
input), `canonical` (transcoding to the canonical stream), `motion` (motion units, grids,
host motion compensation), this module (decoding to the compressed domain), `compensation`
(the same compensation in TF) and `writer` (overlay videos). This module also gives their
public names, so that `codec.X` is the one door callers use.
"""

import dataclasses
import queue
import threading
from typing import Iterator, Optional, Tuple

import av
import cv2
import numpy as np

from tw_keras.video import native, sources, transcoder
# The package's public names, through this one door (module doc).
from tw_keras.video.canonical import (EncodeOptions, MAX_SIZE, TranscodeInfo, encode_frames, is_canonical,  # pylint: disable=unused-import
                                      legal_size, transcode)
from tw_keras.video.errors import VideoError
from tw_keras.video.motion import (CELLS, MACROBLOCK, MV_CELL, MV_UNITS_PER_PIXEL, MotionCompensator,  # pylint: disable=unused-import
                                   block_motion_from_vectors, dense_motion, expand_grid)
from tw_keras.video.sources import SIZE_TAG, is_live, iter_source_frames, read_image, stored_size  # pylint: disable=unused-import



@dataclasses.dataclass
class CompressedFrame:
  """One decoded frame of the canonical stream.

  Attributes:
    index: 0-based frame index in the stream.
    pict_type: "I" or "P".
    rgb: [H, W, 3] uint8 decoded frame.
    motion_grid: [ceil(H'/cell), ceil(W'/cell), 2] int16 motion (dx, dy) = dst - src in
      quarter pixels, one vector per `motion_cell` x `motion_cell` cell (H', W' >= H, W).
      "step" mode: the codec's own vectors on the 8x8 block grid (cell 8). "accumulate"
      mode: the accumulated field, per pixel (cell 1).
    motion_cell: 8 or 1, see above.
    residual: [H, W, 3] int16 residual map in [-255, 255]; None when the decoder was asked
      for the compact inputs only (`with_residual=False`: the network computes it in the
      graph, `tw_keras.video.compensation`).
  """
  index: int
  pict_type: str
  rgb: np.ndarray
  motion_grid: np.ndarray
  motion_cell: int
  residual: Optional[np.ndarray]

  @property
  def motion(self) -> np.ndarray:
    """[H, W, 2] float32 dense motion field (dx, dy) in pixels."""
    return dense_motion(self.motion_grid, self.motion_cell, *self.rgb.shape[:2])


def _threaded(iterator, depth=4):
  """Runs `iterator` on a thread (FFmpeg releases the GIL) and re-raises its errors here."""
  q = queue.Queue(depth)
  stop = threading.Event()
  done = object()

  def work():
    try:
      for item in iterator:
        while not stop.is_set():
          try:
            q.put(item, timeout=0.1)
            break
          except queue.Full:
            pass
        if stop.is_set():
          return
      q.put(done)
    except BaseException as e:  # handed to the consumer
      q.put(e)

  thread = threading.Thread(target=work, daemon=True)
  thread.start()
  try:
    while True:
      item = q.get()
      if item is done:
        return
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    stop.set()
    while thread.is_alive():  # the producer must be done before the container closes
      try:
        q.get(timeout=0.05)
      except queue.Empty:
        pass
    thread.join()


def _compressed_frames(decoded, size_of, residual_mode: str, name, with_residual: bool = True
                       ) -> Iterator[CompressedFrame]:
  """(pict_type, rgb, motion vectors, their grid cell) in stream order -> `CompressedFrame`s.

  THE residual and motion computation (module doc), whatever the frames came from.
  `size_of()` gives the (height, width) to crop to, or None for the coded size; it is
  called once the first frame has been decoded. Without `with_residual` the residual is
  left to the consumer (None), which saves most of the host's per-frame work.
  """
  if residual_mode not in ("step", "accumulate"):
    raise ValueError(f"residual_mode must be 'step' or 'accumulate', got {residual_mode!r}")
  mc = size = None
  prev = key = acc = None
  index = -1
  try:
    for pict_type, rgb, vectors, block_cell in decoded:
      index += 1
      if pict_type == "B":
        raise VideoError(name, f"frame {index} is a B-frame; transcode to the canonical stream first")
      ch, cw = legal_size(*rgb.shape[:2])  # the coded size (a stream's own frames come cropped)
      if mc is None:
        size = size_of() or rgb.shape[:2]
        mc = MotionCompensator(*size)
      h, w = size
      rgb = np.ascontiguousarray(rgb[:h, :w])
      block = block_motion_from_vectors(vectors if pict_type == "P" else None, ch, cw, block_cell)
      if pict_type == "I" or prev is None:
        key, prev = rgb, rgb
        acc = np.zeros((h, w, 2), np.int16)
        grid, cell = (acc, 1) if residual_mode == "accumulate" else (block, block_cell)
        yield CompressedFrame(index, pict_type, rgb, grid, cell,
                              np.zeros((h, w, 3), np.int16) if with_residual else None)
        continue
      if residual_mode == "accumulate":
        # acc_t(p) = mv_t(p) + acc_{t-1}(p - mv_t(p)), nearest sample of the previous field.
        acc = cv2.add(mc.expand(block, block_cell),
                      mc.warp(acc, block, block_cell, cv2.INTER_NEAREST), dtype=cv2.CV_16S)
        grid, cell, reference = acc, 1, key
      else:
        grid, cell, reference = block, block_cell, prev
      residual = (cv2.subtract(rgb, mc.warp(reference, grid, cell), dtype=cv2.CV_16S)
                  if with_residual else None)
      prev = rgb
      yield CompressedFrame(index, pict_type, rgb, grid, cell, residual)
  except av.error.FFmpegError as e:
    raise VideoError(name, f"truncated or corrupt video after {index + 1} frames ({e})") from None
  if index < 0:
    raise VideoError(name, "zero frames decoded (empty or truncated video)")


def decode_compressed(path, residual_mode: str = "step", size: Optional[Tuple[int, int]] = None,
                      with_residual: bool = True, corrupt: Optional[sources.CorruptFrames] = None
                      ) -> Iterator[CompressedFrame]:
  """Decodes a canonical stream in one pass into `CompressedFrame`s.

  Args:
    path: a canonical file (as written by `transcode`: MPEG-4 Part 2, or H.264 with
      `EncodeOptions(codec="h264")`, whose grid has 4x4 cells).
    residual_mode: "step" (previous frame) or "accumulate" (back to the GOP's I-frame).
    size: (height, width) to crop to; defaults to the size `transcode` stored, else the
      coded size.
    with_residual: False leaves `residual` None (the compact inputs: frame + motion grid).
    corrupt: frames the decoder flags (`sources.decoded_frames`; default: refused).
  Raises:
    VideoError: unreadable, truncated or empty stream, or B-frames in it.
  """
  if residual_mode not in ("step", "accumulate"):
    raise ValueError(f"residual_mode must be 'step' or 'accumulate', got {residual_mode!r}")
  container = sources.open_input(path)
  try:
    stream = container.streams.video[0]
    stream.codec_context.options = {"flags2": "+export_mvs"}
    size = size or stored_size(container)
    cell = CELLS.get(stream.codec_context.name, MV_CELL)
    frames = sources.decoded_frames(container, path, corrupt=corrupt)
    yield from _compressed_frames(_threaded(transcoder.decoded(frames, cell)), lambda: size, residual_mode, path,
                                  with_residual)
  finally:
    container.close()


def stream_compressed(source, options: EncodeOptions = None, residual_mode: str = "step",
                      with_residual: bool = True, workers: int = 1, motion_source: str = "auto",
                      path: Optional[dict] = None, corrupt: Optional[sources.CorruptFrames] = None
                      ) -> Iterator[CompressedFrame]:
  """`CompressedFrame`s of any source: THE door from any video to the compressed domain.

  With the stream's own motion where it is unambiguous (`native`: no B-frames, one reference;
  the H.264 grid at 4x4 cells) unless `motion_source` says "transcode"; otherwise transcoded
  to the canonical stream on the fly, giving the same frames as
  `decode_compressed(transcode(source))`. Nothing is written to disk and nothing waits for
  the whole input, so it works on what a file cannot do: a pipe or FIFO, a growing file, a
  URL FFmpeg opens (rtsp://...). Decoding and transcoding run on threads (FFmpeg releases
  the GIL). `workers`: GOPs transcoded at once (`transcoder`: 1 hands each frame on as soon
  as it is in; N > 1 adds about a GOP of latency and is N times the transcoding throughput,
  the same frames bit for bit). `path`: if given, gets "native" (bool) once the first frame
  is out, and "transcoded_from" (a frame index) if the stream's own motion gave out there.
  `corrupt`: frames the decoder flags (`sources.decoded_frames`; default: the source is
  refused; a `CorruptFrames(allow=True)` lists them as they come out, each before its frame).
  """
  options = options or EncodeOptions()
  name = sources.source_name(source)
  size = {} if path is None else path
  items = native.compressed_items(source, name, motion_source, options, size, workers, corrupt=corrupt)
  yield from _compressed_frames(_threaded(items), lambda: size.get("size"), residual_mode, name, with_residual)

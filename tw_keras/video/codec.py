"""Video to compressed domain: canonical MPEG-4 Part 2 transcoding and one-pass decoding.

Two operations, both on PyAV over stock FFmpeg (no patched FFmpeg, no C loader):

`transcode(source, output_path, options)` turns any video FFmpeg reads (H.264 with
B-frames, odd sizes, variable frame rate) or an ordered list of image files into the
canonical stream of the paper (section 4.4.1, docs/CONVENTIONS.md):

  * MPEG-4 Part 2 Simple Profile (FFmpeg encoder `mpeg4`), no B-frames;
  * a strict GOP of `gop` frames (default 12 = I + 11 P): scene-change detection is
    disabled with `sc_threshold=1e9` (`+strict_gop` alone does not stop it);
  * constant quantiser `qscale` (qmin = qmax = qscale; 2 best .. 31 worst);
  * every input frame is encoded once, in decode order, at a constant `fps`, so a
    variable-frame-rate input becomes constant-rate (no frame dropped or duplicated);
  * codec-legal size: width and height are padded on the right and bottom, by edge
    replication, up to a multiple of 16 (one macroblock). Pixel (x, y) of the input is
    pixel (x, y) of the stream, so labels stay aligned; `decode_compressed` crops back
    to the original size, which `transcode` stores in the container's `comment` tag.

`decode_compressed(path)` decodes the stream once, front to back, and yields one
`CompressedFrame` per frame with the picture type, the RGB frame, the motion field
and the residual map. No GOP is ever decoded twice.

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
"""

import dataclasses
import fractions
import os
import threading
import queue
from typing import Iterable, Iterator, Optional, Sequence, Tuple, Union

import av
import cv2
import numpy as np

from tw_keras import fileio

MACROBLOCK = 16
# Motion-vector grid cell: MPEG-4 blocks are 16x16 or 8x8 (4MV), so an 8x8 grid is exact.
MV_CELL = 8
# Block motion is stored in quarter pixels (exact for half- and quarter-pel codecs).
MV_UNITS_PER_PIXEL = 4
PICT_TYPES = {1: "I", 2: "P", 3: "B"}
# MPEG-4 Part 2 codes width and height in 13 bits; coded sizes are multiples of 16.
MAX_SIZE = 8191 // MACROBLOCK * MACROBLOCK
SIZE_TAG = "tw_keras_size="



class VideoError(Exception):
  """Bad input: a one-line message that names the file and the problem."""

  def __init__(self, path, problem):
    self.path = str(path)
    self.problem = problem
    super().__init__(f"{self.path}: {problem}")


@dataclasses.dataclass(frozen=True)
class EncodeOptions:
  """Canonical stream settings.

  Attributes:
    gop: GOP length (1 I-frame + gop - 1 P-frames). The paper uses 12.
    qscale: constant MPEG-4 quantiser, 2 (best) .. 31. The authors' OpenCV DIVX writer
      used qmin 3.
    fps: output frame rate; the authors wrote Cityscapes at 17 fps.
  """
  gop: int = 12
  qscale: int = 3
  fps: int = 17

  def __post_init__(self):
    if self.gop < 1:
      raise ValueError(f"gop must be >= 1, got {self.gop}")
    if not 1 <= self.qscale <= 31:
      raise ValueError(f"qscale must be in [1, 31], got {self.qscale}")
    if self.fps < 1:
      raise ValueError(f"fps must be >= 1, got {self.fps}")


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


def legal_size(height: int, width: int) -> Tuple[int, int]:
  """Smallest codec-legal (height, width) >= the input: both multiples of 16."""
  up = lambda v: -(-v // MACROBLOCK) * MACROBLOCK
  return up(height), up(width)


def _pad_to(frame, height, width):
  h, w = frame.shape[:2]
  if (h, w) == (height, width):
    return np.ascontiguousarray(frame)
  return np.pad(frame, ((0, height - h), (0, width - w), (0, 0)), mode="edge")


def _is_image_list(source) -> bool:
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


def _open_input(path):
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


def iter_source_frames(source: Union[str, os.PathLike, Sequence[str]]) -> Iterator[np.ndarray]:
  """Yields [H, W, 3] uint8 RGB frames from a video file or an ordered list of images.

  Raises:
    VideoError: unreadable, truncated or empty input, or frames of changing size.
  """
  if _is_image_list(source):
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
  container = _open_input(source)
  count = 0
  try:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    h, w = stored_size(container) or (None, None)  # a stream we wrote: drop its codec padding
    indexed = stream.frames  # frame count from the container's index; 0 when unknown
    try:
      for frame in container.decode(stream):
        count += 1
        yield np.ascontiguousarray(frame.to_ndarray(format="rgb24")[:h, :w])
    except av.error.FFmpegError as e:
      raise VideoError(source, f"truncated or corrupt video after {count} frames ({e})") from None
  finally:
    container.close()
  if count == 0:
    raise VideoError(source, "zero frames decoded (empty or truncated video)")
  # A damaged file is rejected whole, never used up to the damage: with frame threading the
  # decoder can stop early without an error (an MP4 whose index is at the front, cut short).
  if indexed and count < indexed:
    raise VideoError(source, f"truncated or corrupt video: its index lists {indexed} frames but only "
                     f"{count} could be decoded")


def _coded_size(h: int, w: int, source_name) -> Tuple[int, int]:
  ch, cw = legal_size(h, w)
  if max(ch, cw) > MAX_SIZE:
    raise VideoError(source_name, f"frame size {w}x{h} exceeds MPEG-4 Part 2's limit of {MAX_SIZE} pixels "
                     "per side; scale the video down first (e.g. ffmpeg -i IN -vf scale=iw/2:-2 OUT)")
  return ch, cw


def _configure_encoder(cc, coded_height: int, coded_width: int, options: "EncodeOptions"):
  """THE canonical encoder settings (module doc), on a stream's or a bare codec context."""
  cc.width, cc.height, cc.pix_fmt = coded_width, coded_height, "yuv420p"
  cc.gop_size = options.gop
  cc.max_b_frames = 0
  cc.bit_rate = 0  # constant quantiser, no rate control (a bare context defaults to 200 kb/s)
  cc.options = {
      "sc_threshold": "1000000000",  # no scene-cut I-frames: the GOP grid is strict
      "qmin": str(options.qscale),
      "qmax": str(options.qscale),
  }


def _canonical_frame(rgb: np.ndarray, n: int, coded_height: int, coded_width: int, gop: int):
  frame = av.VideoFrame.from_ndarray(_pad_to(rgb, coded_height, coded_width), format="rgb24")
  frame.pts = n
  if n % gop == 0:  # force the GOP grid; sc_threshold keeps P-frames P
    frame.pict_type = av.video.frame.PictureType.I
  return frame


@dataclasses.dataclass(frozen=True)
class TranscodeInfo:
  num_frames: int
  height: int
  width: int
  coded_height: int
  coded_width: int


def encode_frames(frames: Iterable[np.ndarray], output_path, options: EncodeOptions = EncodeOptions(),
                  source_name: str = "<frames>") -> TranscodeInfo:
  """Encodes RGB frames to the canonical MPEG-4 Part 2 stream at `output_path`.

  Written to a temporary file and renamed (`fileio`), so a failed run leaves nothing behind.
  """
  output_path = str(output_path)
  tmp = fileio.temporary_name(output_path)
  container = None
  n = 0
  info = None
  try:
    for rgb in frames:
      if container is None:
        h, w = rgb.shape[:2]
        ch, cw = _coded_size(h, w, source_name)
        container = av.open(tmp, "w")
        container.metadata["comment"] = f"{SIZE_TAG}{w}x{h}"
        stream = container.add_stream("mpeg4", rate=options.fps)
        _configure_encoder(stream.codec_context, ch, cw, options)
        info = (h, w, ch, cw)
      elif rgb.shape[:2] != info[:2]:
        raise VideoError(source_name, f"frame {n} has size {rgb.shape[1]}x{rgb.shape[0]}, "
                         f"expected {info[1]}x{info[0]}")
      for packet in stream.encode(_canonical_frame(rgb, n, info[2], info[3], options.gop)):
        container.mux(packet)
      n += 1
    if container is None:
      raise VideoError(source_name, "zero frames")
    for packet in stream.encode():
      container.mux(packet)
    container.close()
    container = None
    fileio.commit(tmp, output_path)
  finally:
    if container is not None:
      container.close()
    fileio.discard(tmp)
  return TranscodeInfo(n, *info)


def transcode(source, output_path, options: EncodeOptions = EncodeOptions()) -> TranscodeInfo:
  """Transcodes a video file or an ordered list of image files to the canonical stream."""
  name = "<image list>" if _is_image_list(source) else str(source)
  return encode_frames(iter_source_frames(source), output_path, options, source_name=name)


def is_canonical(path, gop: int = 12) -> bool:
  """True when `path` is MPEG-4 Part 2 whose key frames fall exactly every `gop` frames.

  Demuxes only (no decoding), so it is cheap even for long videos. B-frames are not
  visible at this level; `decode_compressed` refuses them if they are there.
  """
  container = _open_input(path)
  try:
    stream = container.streams.video[0]
    if stream.codec_context.name != "mpeg4" or stream.codec_context.has_b_frames:
      return False
    packets = (p for p in container.demux(stream) if p.size)
    return all(p.is_keyframe == (i % gop == 0) for i, p in enumerate(packets))
  except av.error.FFmpegError:
    return False
  finally:
    container.close()


def stored_size(container) -> Optional[Tuple[int, int]]:
  """(height, width) stored by `transcode` in the container's comment, if any."""
  comment = container.metadata.get("comment", "")
  if comment.startswith(SIZE_TAG):
    w, h = comment[len(SIZE_TAG):].split("x")
    return int(h), int(w)
  return None


def block_motion_from_vectors(vectors: Optional[np.ndarray], coded_height: int,
                              coded_width: int) -> np.ndarray:
  """FFmpeg AVMotionVector records -> [ceil(Hc/8), ceil(Wc/8), 2] int16 quarter-pel grid.

  `src = dst + motion / motion_scale`, so `dst - src = -motion / motion_scale`. Only
  forward predictions (`source < 0`) are used; blocks without a vector (intra) get 0.
  """
  grid = np.zeros((-(-coded_height // MV_CELL), -(-coded_width // MV_CELL), 2), np.int16)
  if vectors is None or len(vectors) == 0:
    return grid
  v = vectors[vectors["source"] < 0]
  scale = v["motion_scale"].astype(np.int32)
  # Quarter pixels: -motion * 4 / scale (exact for scale 1, 2, 4).
  mx = (-v["motion_x"].astype(np.int32) * MV_UNITS_PER_PIXEL) // scale
  my = (-v["motion_y"].astype(np.int32) * MV_UNITS_PER_PIXEL) // scale
  x0 = (v["dst_x"].astype(np.int32) - v["w"].astype(np.int32) // 2) // MV_CELL
  y0 = (v["dst_y"].astype(np.int32) - v["h"].astype(np.int32) // 2) // MV_CELL
  nx = np.maximum(v["w"].astype(np.int32) // MV_CELL, 1)
  ny = np.maximum(v["h"].astype(np.int32) // MV_CELL, 1)
  for oy in range(int(ny.max())):
    for ox in range(int(nx.max())):
      sel = (oy < ny) & (ox < nx)
      ys = np.clip(y0[sel] + oy, 0, grid.shape[0] - 1)
      xs = np.clip(x0[sel] + ox, 0, grid.shape[1] - 1)
      grid[ys, xs, 0] = mx[sel]
      grid[ys, xs, 1] = my[sel]
  return grid


def expand_grid(grid: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
  """[h', w', ...] grid of `cell`-pixel cells -> [height, width, ...] per pixel (nearest), cropped."""
  if cell > 1:
    grid = cv2.resize(grid, (grid.shape[1] * cell, grid.shape[0] * cell), interpolation=cv2.INTER_NEAREST)
  return np.ascontiguousarray(grid[:height, :width])


def dense_motion(motion_grid: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
  """[h', w', 2] int16 quarter-pel grid of `cell`-pixel cells -> [height, width, 2] float32 pixels."""
  return expand_grid(motion_grid, cell, height, width).astype(np.float32) * (1.0 / MV_UNITS_PER_PIXEL)


# cv2.remap fixed-point maps: fractional positions in 1/32 (cv::INTER_TAB_SIZE).
_TAB = 32
_QUARTER = _TAB // MV_UNITS_PER_PIXEL


class MotionCompensator:
  """Warps images of one size by quarter-pel motion grids: `out(p) = image(p - mv(p))`.

  Bilinear, sample positions clamped to the frame (edge replication). Exact for
  quarter-pel motion: the grid is turned into OpenCV's fixed-point sampling maps at
  cell level and expanded by nearest-neighbour resizing, which is several times faster
  than float maps at 2048x1024. uint8 results are rounded.
  """

  def __init__(self, height: int, width: int):
    self.height, self.width = height, width
    xs, ys = np.meshgrid(np.arange(width, dtype=np.int16), np.arange(height, dtype=np.int16))
    self._base = np.stack([xs, ys], axis=-1)  # [H, W, 2] pixel coordinates

  def expand(self, grid, cell):
    """[h', w', ...] cell grid -> [H, W, ...] per pixel (nearest), cropped to the frame."""
    return expand_grid(grid, cell, self.height, self.width)

  def maps(self, motion_grid: np.ndarray, cell: int):
    """Quarter-pel grid -> (map1 [H, W, 2] int16, map2 [H, W] uint16) for cv2.remap."""
    q = -motion_grid.astype(np.int32)  # sample offset p - mv, quarter pixels
    whole = (q >> 2).astype(np.int16)  # floor
    frac = ((q[..., 1] & 3) * (_QUARTER * _TAB) + (q[..., 0] & 3) * _QUARTER).astype(np.uint16)
    return cv2.add(self.expand(whole, cell), self._base), self.expand(frac, cell)

  def warp(self, image: np.ndarray, motion_grid: np.ndarray, cell: int,
           interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """[H, W, C] image, [h', w', 2] quarter-pel grid -> [H, W, C] warped image."""
    map1, map2 = self.maps(motion_grid, cell)
    out = cv2.remap(image, map1, map2, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)


def _decoded_frames(container, stream):
  """Yields (pict_type, rgb [Hc, Wc, 3], motion vectors) in stream order."""
  for frame in container.decode(stream):
    side = frame.side_data.get("MOTION_VECTORS")
    yield (PICT_TYPES.get(int(frame.pict_type), "?"), frame.to_ndarray(format="rgb24"),
           side.to_ndarray() if side is not None else None)


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
  """(pict_type, rgb at coded size, motion vectors) in stream order -> `CompressedFrame`s.

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
    for pict_type, rgb, vectors in decoded:
      index += 1
      if pict_type == "B":
        raise VideoError(name, f"frame {index} is a B-frame; transcode to the canonical stream first")
      ch, cw = rgb.shape[:2]
      if mc is None:
        size = size_of() or (ch, cw)
        mc = MotionCompensator(*size)
      h, w = size
      rgb = np.ascontiguousarray(rgb[:h, :w])
      block = block_motion_from_vectors(vectors if pict_type == "P" else None, ch, cw)
      if pict_type == "I" or prev is None:
        key, prev = rgb, rgb
        acc = np.zeros((h, w, 2), np.int16)
        grid, cell = (acc, 1) if residual_mode == "accumulate" else (block, MV_CELL)
        yield CompressedFrame(index, pict_type, rgb, grid, cell,
                              np.zeros((h, w, 3), np.int16) if with_residual else None)
        continue
      if residual_mode == "accumulate":
        # acc_t(p) = mv_t(p) + acc_{t-1}(p - mv_t(p)), nearest sample of the previous field.
        acc = cv2.add(mc.expand(block, MV_CELL),
                      mc.warp(acc, block, MV_CELL, cv2.INTER_NEAREST), dtype=cv2.CV_16S)
        grid, cell, reference = acc, 1, key
      else:
        grid, cell, reference = block, MV_CELL, prev
      residual = (cv2.subtract(rgb, mc.warp(reference, grid, cell), dtype=cv2.CV_16S)
                  if with_residual else None)
      prev = rgb
      yield CompressedFrame(index, pict_type, rgb, grid, cell, residual)
  except av.error.FFmpegError as e:
    raise VideoError(name, f"truncated or corrupt video after {index + 1} frames ({e})") from None
  if index < 0:
    raise VideoError(name, "zero frames decoded (empty or truncated video)")


def decode_compressed(path, residual_mode: str = "step", size: Optional[Tuple[int, int]] = None,
                      with_residual: bool = True) -> Iterator[CompressedFrame]:
  """Decodes a canonical stream in one pass into `CompressedFrame`s.

  Args:
    path: an MPEG-4 Part 2 file (as written by `transcode`).
    residual_mode: "step" (previous frame) or "accumulate" (back to the GOP's I-frame).
    size: (height, width) to crop to; defaults to the size `transcode` stored, else the
      coded size.
    with_residual: False leaves `residual` None (the compact inputs: frame + motion grid).
  Raises:
    VideoError: unreadable, truncated or empty stream, or B-frames in it.
  """
  if residual_mode not in ("step", "accumulate"):
    raise ValueError(f"residual_mode must be 'step' or 'accumulate', got {residual_mode!r}")
  container = _open_input(path)
  try:
    stream = container.streams.video[0]
    stream.codec_context.options = {"flags2": "+export_mvs"}
    size = size or stored_size(container)
    yield from _compressed_frames(_threaded(_decoded_frames(container, stream)), lambda: size,
                                  residual_mode, path, with_residual)
  finally:
    container.close()


def _transcoded_frames(source, options: "EncodeOptions", size: dict, name):
  """Any source -> the canonical encoder -> a decoder, frame by frame, in memory.

  Yields (pict_type, rgb at coded size, motion vectors) as `_decoded_frames` does for a
  file; sets size["size"] = (height, width) of the source before the first one.
  """
  encoder = decoder = None
  n = 0

  def decoded(packets):
    for packet in packets:
      for frame in decoder.decode(packet):
        side = frame.side_data.get("MOTION_VECTORS")
        yield (PICT_TYPES.get(int(frame.pict_type), "?"), frame.to_ndarray(format="rgb24"),
               side.to_ndarray() if side is not None else None)

  for rgb in iter_source_frames(source):
    if encoder is None:
      h, w = rgb.shape[:2]
      ch, cw = _coded_size(h, w, name)
      size["size"] = (h, w)
      encoder = av.CodecContext.create("mpeg4", "w")
      encoder.time_base = fractions.Fraction(1, options.fps)
      encoder.framerate = fractions.Fraction(options.fps)
      _configure_encoder(encoder, ch, cw, options)
      decoder = av.CodecContext.create("mpeg4", "r")
      decoder.options = {"flags2": "+export_mvs"}
    elif rgb.shape[:2] != size["size"]:
      raise VideoError(name, f"frame {n} has size {rgb.shape[1]}x{rgb.shape[0]}, expected "
                       f"{size['size'][1]}x{size['size'][0]}")
    yield from decoded(encoder.encode(_canonical_frame(rgb, n, ch, cw, options.gop)))
    n += 1
  if encoder is None:
    raise VideoError(name, "zero frames")
  yield from decoded(encoder.encode(None))
  yield from decoded([None])


def stream_compressed(source, options: "EncodeOptions" = None, residual_mode: str = "step",
                      with_residual: bool = True) -> Iterator[CompressedFrame]:
  """`CompressedFrame`s of any source, transcoded to the canonical stream on the fly.

  The same frames as `decode_compressed(transcode(source))`, with nothing written to disk
  and no wait for the whole input: each source frame is encoded, its packet decoded at
  once (the encoder has no B-frames, so no delay), and the frame yielded. Works on what a
  file cannot do: a pipe or FIFO, a growing file, a URL FFmpeg opens (rtsp://...). Source
  decoding and transcoding run on a thread (FFmpeg releases the GIL).
  """
  options = options or EncodeOptions()
  name = "<image list>" if _is_image_list(source) else str(source)
  size = {}
  yield from _compressed_frames(_threaded(_transcoded_frames(source, options, size, name)),
                                lambda: size.get("size"), residual_mode, name, with_residual)
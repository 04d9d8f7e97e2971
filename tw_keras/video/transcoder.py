"""Any source to the canonical stream in memory, frame by frame or several GOPs at once.

The canonical stream is a row of independent GOPs: its encoder runs at a true constant
quantiser (`canonical.configure_encoder`), so a GOP encodes to the same bits whether the
encoder saw the frames before it or starts fresh on its I-frame. That is what lets
`transcoded_frames(..., workers=N)` transcode N GOPs concurrently, each with its own encoder
and decoder, on threads (FFmpeg's encoder, decoder and pixel conversions release the GIL),
and hand the frames on in order: the same frames, bit for bit, as one worker.

  workers=1   one encoder and one decoder, frame by frame: each frame is out as soon as it
              is in (no added latency; what a live source wants when one core is enough).
  workers=N   a GOP is transcoded once all its frames are in: a live source's frames come
              out about one GOP later (12 frames: 0.7 s at 17 fps) plus that GOP's transcode
              time. At most N + 1 GOPs of frames are held (bounded memory, whatever the
              length of the input).

Each item is (pict_type, rgb at coded size, motion vectors, 8), as `codec` reads a decoded
frame; `codec.stream_compressed` turns them into `CompressedFrame`s.
"""

import collections
import concurrent.futures
import fractions
import os
from typing import Iterator, List, Optional

import av
import numpy as np

from tw_keras.video import canonical, sources
from tw_keras.video.errors import VideoError
from tw_keras.video.motion import CELLS, MV_CELL

PICT_TYPES = {1: "I", 2: "P", 3: "B"}


def default_workers() -> int:
  """GOP workers when not told: one per core, at most 4 (beyond that the source's own decode
  on its one thread is the limit)."""
  return max(1, min(4, os.cpu_count() or 1))


def decoded(frames, cell: int = MV_CELL):
  """Decoded PyAV frames -> (pict_type, rgb [H, W, 3], motion vectors, the vectors' grid cell)
  in stream order: THE reading of a decoded frame (`pict_type`, `motion_vectors`), for files,
  the in-memory transcoder and a stream's own motion (`native`, which looks at the first two
  before it converts a frame) alike."""
  for frame in frames:
    yield pict_type(frame), frame.to_ndarray(format="rgb24"), motion_vectors(frame), cell


def pict_type(frame) -> str:
  """"I", "P", "B" (or "?") of a decoded PyAV frame."""
  return PICT_TYPES.get(int(frame.pict_type), "?")


def motion_vectors(frame):
  """The exported AVMotionVector records of a decoded PyAV frame, or None."""
  side = frame.side_data.get("MOTION_VECTORS")
  return side.to_ndarray() if side is not None else None


class _Codec:
  """A canonical encoder and the decoder of its packets (with the motion vectors exported)."""

  def __init__(self, coded_height: int, coded_width: int, options: canonical.EncodeOptions):
    self.size, self.options = (coded_height, coded_width), options
    self.encoder = av.CodecContext.create(canonical.ENCODERS[options.codec], "w")
    self.encoder.time_base = fractions.Fraction(1, options.fps)
    self.encoder.framerate = fractions.Fraction(options.fps)
    canonical.configure_encoder(self.encoder, coded_height, coded_width, options)
    self.decoder = av.CodecContext.create(options.codec, "r")
    self.decoder.options = {"flags2": "+export_mvs"}
    self.cell = CELLS[options.codec]

  def _decode(self, packets):
    return decoded((frame for packet in packets for frame in self.decoder.decode(packet)), self.cell)

  def frame(self, rgb: np.ndarray, n: int):
    """Frame n of the stream in; whatever the decoder has out (no B-frames: this frame)."""
    yield from self._decode(self.encoder.encode(canonical.canonical_frame(rgb, n, *self.size, self.options)))

  def flush(self):
    yield from self._decode(self.encoder.encode(None))
    yield from self._decode([None])


def transcode_gop(frames: List[np.ndarray], start: int, coded_height: int, coded_width: int,
                  options: canonical.EncodeOptions) -> list:
  """One GOP (frames start .. start + len - 1 of the stream: RGB arrays or encoder-ready PyAV
  frames) through a fresh encoder/decoder -> its items, as `transcoded_frames` yields them.
  What each GOP worker runs (and `benchmarks/front_end.py` times on its own)."""
  c = _Codec(coded_height, coded_width, options)
  out = [item for i, rgb in enumerate(frames) for item in c.frame(rgb, start + i)]
  return out + list(c.flush())


def transcoded_frames(source, options: canonical.EncodeOptions, size: dict, name: str,
                      workers: int = 1, corrupt: Optional[sources.CorruptFrames] = None) -> Iterator[tuple]:
  """Any source -> the canonical encoder -> a decoder, in memory (module doc).

  Sets size["size"] = (height, width) of the source before the first item.
  Raises:
    VideoError: no frames, or a frame of another size than the first.
  """
  return transcoded_rgb(sources.iter_source_frames(source, for_encoder=True, corrupt=corrupt), options, size, name,
                        workers)


def transcoded_rgb(frames: Iterator[np.ndarray], options: canonical.EncodeOptions, size: dict, name: str,
                   workers: int = 1) -> Iterator[tuple]:
  """`transcoded_frames` of frames already decoded (a stream whose own motion gave out): RGB
  arrays, or PyAV frames as `sources.to_encoder_input` gives them."""
  if workers < 1:
    raise ValueError(f"workers must be >= 1, got {workers}")
  frames = iter(frames)
  first = next(frames, None)
  if first is None:
    raise VideoError(name, "zero frames")
  h, w = sources.frame_size(first)
  ch, cw = canonical.coded_size(h, w, name)
  size["size"] = (h, w)

  def checked():
    yield first
    for n, rgb in enumerate(frames, 1):
      if sources.frame_size(rgb) != (h, w):
        fh, fw = sources.frame_size(rgb)
        raise VideoError(name, f"frame {n} has size {fw}x{fh}, expected {w}x{h}")
      yield rgb

  if workers == 1:
    c = _Codec(ch, cw, options)
    for n, rgb in enumerate(checked()):
      yield from c.frame(rgb, n)
    yield from c.flush()
    return
  pending = collections.deque()
  with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="gop") as pool:
    try:
      gop, start = [], 0
      for n, rgb in enumerate(checked()):
        gop.append(rgb)
        if len(gop) == options.gop:
          pending.append(pool.submit(transcode_gop, gop, start, ch, cw, options))
          gop, start = [], n + 1
        # In order: the oldest GOP as soon as it is done, and a wait for it when N + 1 are
        # held (bounded memory).
        while pending and (pending[0].done() or len(pending) > workers):
          yield from pending.popleft().result()
      if gop:
        pending.append(pool.submit(transcode_gop, gop, start, ch, cw, options))
      while pending:
        yield from pending.popleft().result()
    finally:
      for f in pending:
        f.cancel()

"""The stream's own motion vectors, where they are unambiguous, instead of transcoding.

FFmpeg's exported motion vectors carry no reference index (`AVMotionVector.source` is only
-1 for the past, +1 for the future), so a stream's own vectors mean "motion from the previous
frame" only when the stream has no B-frames and its P-frames reference one frame. Many live
cameras send exactly that (x264 `bframes=0, ref=1`). `unambiguous(container)` checks it from
the stream's parameters (codec, B-frame delay, and for H.264 the sequence parameter set's
`max_num_ref_frames`); `codec.stream_compressed` then checks every frame again (a B picture,
or a vector from the future, falls back to transcoding from that frame on, with one notice).

The grid is the one of the canonical stream, at the stream's finest partition: `CELLS`
(4x4 for H.264, 8x8 for MPEG-4 Part 2 and H.263), int16 quarter pixels, dst - src.
"""

import itertools
import sys
from typing import Iterator, Optional

from tw_keras.video import sources, transcoder
from tw_keras.video.errors import VideoError
from tw_keras.video.motion import CELLS
from tw_keras.video.transcoder import motion_vectors, pict_type

MOTION_SOURCES = ("auto", "native", "transcode")
# H.264 profiles whose SPS carries chroma format, bit depths and scaling lists (7.3.2.1.1).
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class _Bits:
  """An RBSP bit reader (emulation-prevention bytes removed) with Exp-Golomb codes."""

  def __init__(self, nal: bytes):
    self.data = nal.replace(b"\x00\x00\x03", b"\x00\x00")
    self.pos = 0

  def u(self, n: int) -> int:
    v = 0
    for _ in range(n):
      byte = self.data[self.pos >> 3]
      v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
      self.pos += 1
    return v

  def ue(self) -> int:
    zeros = 0
    while self.u(1) == 0:
      zeros += 1
    return (1 << zeros) - 1 + self.u(zeros)

  def se(self) -> int:
    k = self.ue()
    return (k + 1) // 2 if k % 2 else -(k // 2)


def sps_max_ref_frames(sps: bytes) -> int:
  """`max_num_ref_frames` of an H.264 sequence parameter set NAL unit (header byte included)."""
  b = _Bits(sps[1:])
  profile = b.u(8)
  b.u(16)  # constraint flags, level
  b.ue()  # seq_parameter_set_id
  if profile in _HIGH_PROFILES:
    chroma = b.ue()
    if chroma == 3:
      b.u(1)
    b.ue(), b.ue(), b.u(1)  # bit depths, qpprime_y_zero_transform_bypass
    if b.u(1):  # seq_scaling_matrix_present
      for i in range(8 if chroma != 3 else 12):
        if b.u(1):
          last = scale = 8
          for _ in range(16 if i < 6 else 64):
            if scale:
              scale = (last + b.se() + 256) % 256
            last = scale or last
  b.ue()  # log2_max_frame_num_minus4
  poc_type = b.ue()
  if poc_type == 0:
    b.ue()
  elif poc_type == 1:
    b.u(1), b.se(), b.se()
    for _ in range(b.ue()):
      b.se()
  return b.ue()


def find_sps(data: bytes) -> Optional[bytes]:
  """The first SPS NAL unit in `data`: an avcC record (MP4's extradata) or Annex B bytes
  (start codes: MPEG-TS, raw .h264, in-band)."""
  if data[:1] == b"\x01" and len(data) > 8:  # avcC: version 1, ..., numOfSPS, length, SPS
    if data[5] & 0x1F:
      length = int.from_bytes(data[6:8], "big")
      return data[8:8 + length]
    return None
  start = 0
  while True:
    i = data.find(b"\x00\x00\x01", start)
    if i < 0 or i + 3 >= len(data):
      return None
    if data[i + 3] & 0x1F == 7:
      end = data.find(b"\x00\x00\x01", i + 3)
      return data[i + 3:end if end >= 0 else len(data)].rstrip(b"\x00")
    start = i + 3


def unambiguous(codec_name: str, has_b_frames: int, header: bytes) -> Optional[str]:
  """None when the stream's own vectors are motion from the previous frame, else why not.

  `header`: the codec's extradata, or the first packet's bytes when there is none (H.264
  sends its SPS in-band in MPEG-TS and raw streams)."""
  if codec_name not in CELLS:
    return f"FFmpeg exports no motion vectors of {codec_name} streams"
  if has_b_frames:
    return "the stream has B-frames"
  if codec_name == "h264":
    sps = find_sps(header or b"")
    if sps is None:
      return "no H.264 sequence parameter set found before the first frame"
    refs = sps_max_ref_frames(sps)
    if refs > 1:
      return f"P-frames may reference any of {refs} frames (the vectors carry no reference index)"
  return None


def compressed_items(source, name: str, motion_source: str, options, size: dict, workers: int,
                     notice=None, corrupt: Optional[sources.CorruptFrames] = None) -> Iterator[tuple]:
  """Any video source -> (pict_type, rgb, motion vectors, grid cell) items for
  `codec._compressed_frames`, by the stream's own motion where `motion_source` and the stream
  allow it (module doc), else transcoded (`transcoder`). Sets size["size"],
  size["native"] (whether the stream's own motion was used from the first frame) and, when a
  frame forces the fallback, size["transcoded_from"] (its index).

  motion_source: "auto" (native when unambiguous), "native" (a one-line VideoError when it is
  not), "transcode" (always). `notice(line)`: told once when a frame forces the fallback.
  `corrupt`: frames the decoder flags (`sources.decoded_frames`; default: refused).
  """
  if motion_source not in MOTION_SOURCES:
    raise ValueError(f"motion_source must be one of {', '.join(MOTION_SOURCES)}, got {motion_source!r}")
  if sources.is_image_list(source) or motion_source == "transcode":
    if motion_source == "native":
      raise VideoError(name, "an image list has no motion vectors of its own")
    size["native"] = False
    yield from transcoder.transcoded_frames(source, options, size, name, workers, corrupt)
    return
  container = sources.open_input(source)
  try:
    stream = container.streams.video[0]
    cc = stream.codec_context
    packets = container.demux(stream)
    first = next(packets, None)
    header = cc.extradata or (bytes(first) if first is not None and first.size else b"")
    reason = unambiguous(cc.name, cc.has_b_frames, header)
    if reason is not None and motion_source == "native":
      raise VideoError(name, f"its own motion vectors are ambiguous: {reason} (use --motion_source=auto)")
    size["native"] = reason is None
    frames = sources.decoded_frames(container, name, itertools.chain([first] if first is not None else [], packets),
                                    corrupt)
    stored = sources.stored_size(container)  # a stream we wrote: drop its codec padding
    if reason is not None:
      inputs = (sources.to_encoder_input(f, stored) for f in frames)
      yield from transcoder.transcoded_rgb(inputs, options, size, name, workers)
      return
    cc.options = {"flags2": "+export_mvs"}
    cell = CELLS[cc.name]
    for index, frame in enumerate(frames):
      if index == 0:
        size["size"] = stored or (frame.height, frame.width)
      kind, vectors = pict_type(frame), motion_vectors(frame)
      why = None
      if kind not in ("I", "P"):
        why = f"frame {index} is a {kind} picture"
      elif vectors is not None and len(vectors) and (vectors["source"] > 0).any():
        why = f"frame {index} has vectors from a future frame"
      if why is None:
        yield kind, frame.to_ndarray(format="rgb24"), vectors, cell
        continue
      (notice or _notice)(f"{name}: {why}: transcoding from there on")
      size["transcoded_from"] = index
      # The rest as the transcode path takes a decoded frame (yuv420p goes in as it is).
      rest = (sources.to_encoder_input(f, stored) for f in itertools.chain([frame], frames))
      yield from transcoder.transcoded_rgb(rest, options, {}, name, workers)
      return
  finally:
    container.close()


def _notice(line: str):
  print(line, file=sys.stderr, flush=True)

"""Any source to the canonical stream (docs/CONVENTIONS.md, section 4): MPEG-4 Part 2 Simple
Profile, a strict GOP, no B-frames, constant quantiser, codec-legal size.

`transcode(source, output_path, options)` turns any video FFmpeg reads (H.264 with
B-frames, odd sizes, variable frame rate) or an ordered list of image files into it:

  * MPEG-4 Part 2 Simple Profile (FFmpeg encoder `mpeg4`), no B-frames;
  * a strict GOP of `gop` frames (default 12 = I + 11 P): scene-change detection is
    disabled with `sc_threshold=1e9` (`+strict_gop` alone does not stop it);
  * constant quantiser `qscale` (2 best .. 31 worst), lambda included, so GOPs are
    independent: a GOP encodes to the same bits whatever preceded it;
  * `SLICES` = 3 slice contexts a frame (FFmpeg's slice threads, each a video packet),
    whatever the machine: the bits depend on the count;
  * every input frame is encoded once, in decode order, at a constant `fps`, so a
    variable-frame-rate input becomes constant-rate (no frame dropped or duplicated);
  * codec-legal size: width and height are padded on the right and bottom, by edge
    replication, up to a multiple of 16 (one macroblock). Pixel (x, y) of the input is
    pixel (x, y) of the stream, so labels stay aligned; decoding crops back to the
    original size, which is stored in the container's `comment` tag.

`configure_encoder` and `canonical_frame` are THE encoder settings and frame rule, shared
with the in-memory transcoder (`transcoder`, behind `codec.stream_compressed`).
"""

import dataclasses
import fractions
from typing import Iterable, Optional, Tuple

import av
import numpy as np

from tw_keras import fileio
from tw_keras.video import sources
from tw_keras.video.errors import VideoError
from tw_keras.video.motion import MACROBLOCK, coded_length

FF_QP2LAMBDA = 118  # FFmpeg's quantiser -> lambda scale (libavutil/avutil.h)
# MPEG-4 Part 2 codes width and height in 13 bits; coded sizes are multiples of 16.
MAX_SIZE = 8191 // MACROBLOCK * MACROBLOCK


ENCODERS = {"mpeg4": "mpeg4", "h264": "libx264"}  # canonical codec -> FFmpeg encoder
# The MPEG-4 encoder's slice contexts (FFmpeg's slice threads). Each starts a video packet, so
# the bits depend on the count, and FFmpeg's default (0: cores + 1) made the canonical stream
# depend on the machine. 3 is that default on the 2-core machines every record, weight and
# check of this project was made on, so pinning it changes none of them; a frame is also
# encoded on up to 3 cores.
SLICES = 3


@dataclasses.dataclass(frozen=True)
class EncodeOptions:
  """Canonical stream settings.

  Attributes:
    gop: GOP length (1 I-frame + gop - 1 P-frames). The paper uses 12.
    qscale: constant MPEG-4 quantiser, 2 (best) .. 31. The authors' OpenCV DIVX writer
      used qmin 3.
    fps: output frame rate; the authors wrote Cityscapes at 17 fps.
    codec: "mpeg4" (MPEG-4 Part 2, the paper's) or "h264" (x264 with no B-frames, one
      reference, keyint = gop and no scene-cut I-frames, constant QP `qp`: the motion that
      live cameras send; records only, the live path always transcodes to MPEG-4).
    qp: x264's constant quantiser with codec "h264", 0 .. 51.
  """
  gop: int = 12
  qscale: int = 3
  fps: int = 17
  codec: str = "mpeg4"
  qp: int = 20

  def __post_init__(self):
    if self.gop < 1:
      raise ValueError(f"gop must be >= 1, got {self.gop}")
    if not 1 <= self.qscale <= 31:
      raise ValueError(f"qscale must be in [1, 31], got {self.qscale}")
    if self.fps < 1:
      raise ValueError(f"fps must be >= 1, got {self.fps}")
    if self.codec not in ENCODERS:
      raise ValueError(f"codec must be one of {', '.join(ENCODERS)}, got {self.codec!r}")
    if not 0 <= self.qp <= 51:
      raise ValueError(f"qp must be in [0, 51], got {self.qp}")


def legal_size(height: int, width: int) -> Tuple[int, int]:
  """Smallest codec-legal (height, width) >= the input: both multiples of 16."""
  return coded_length(height), coded_length(width)


def pad_to(frame, height, width):
  h, w = frame.shape[:2]
  if (h, w) == (height, width):
    return np.ascontiguousarray(frame)
  return np.pad(frame, ((0, height - h), (0, width - w), (0, 0)), mode="edge")


def coded_size(h: int, w: int, source_name) -> Tuple[int, int]:
  ch, cw = legal_size(h, w)
  if max(ch, cw) > MAX_SIZE:
    raise VideoError(source_name, f"frame size {w}x{h} exceeds MPEG-4 Part 2's limit of {MAX_SIZE} pixels "
                     "per side; scale the video down first (e.g. ffmpeg -i IN -vf scale=iw/2:-2 OUT)")
  return ch, cw


def configure_encoder(cc, coded_height: int, coded_width: int, options: EncodeOptions):
  """THE canonical encoder settings (module doc), on a stream's or a bare codec context."""
  cc.width, cc.height, cc.pix_fmt = coded_width, coded_height, "yuv420p"
  cc.gop_size = options.gop
  cc.max_b_frames = 0
  cc.bit_rate = 0  # constant quantiser, no rate control (a bare context defaults to 200 kb/s)
  if options.codec == "h264":
    # One reference and no B-frames: the stream's own vectors are motion from the previous
    # frame (`native`). One thread: x264's frame threads would make the bits depend on timing.
    cc.options = {"x264-params": f"bframes=0:ref=1:keyint={options.gop}:min-keyint={options.gop}:"
                                 f"scenecut=0:qp={options.qp}:threads=1"}
    return
  cc.thread_type, cc.thread_count = "SLICE", SLICES
  cc.options = {
      "sc_threshold": "1000000000",  # no scene-cut I-frames: the GOP grid is strict
      # A true constant quantiser (FFmpeg's -q:v): the rate-distortion lambda is fixed at
      # qscale too, so no state carries from one GOP to the next and every GOP encodes the
      # same whatever came before it (what `transcoder` relies on to run GOPs in parallel).
      # qmin = qmax alone still let the rate controller's lambda drift from frame to frame.
      "flags": "+qscale",
      "global_quality": str(options.qscale * FF_QP2LAMBDA),
      "qmin": str(options.qscale),
      "qmax": str(options.qscale),
  }


def canonical_frame(rgb, n: int, coded_height: int, coded_width: int, options: "EncodeOptions"):
  """Frame n of the canonical stream: [H, W, 3] uint8 RGB (edge-padded to the coded size), or
  a yuv420p `av.VideoFrame` already at it (`sources.to_encoder_input`), taken as it is."""
  if isinstance(rgb, av.VideoFrame):
    frame = rgb
    frame.time_base = fractions.Fraction(1, options.fps)  # pts below count the stream's frames
  else:
    frame = av.VideoFrame.from_ndarray(pad_to(rgb, coded_height, coded_width), format="rgb24")
  frame.pts = n
  # Force the GOP grid (sc_threshold keeps P-frames P); a decoded frame's own type is cleared.
  frame.pict_type = av.video.frame.PictureType.I if n % options.gop == 0 else av.video.frame.PictureType.NONE
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
        h, w = sources.frame_size(rgb)
        ch, cw = coded_size(h, w, source_name)
        container = av.open(tmp, "w")
        container.metadata["comment"] = f"{sources.SIZE_TAG}{w}x{h}"
        stream = container.add_stream(ENCODERS[options.codec], rate=options.fps)
        configure_encoder(stream.codec_context, ch, cw, options)
        info = (h, w, ch, cw)
      elif sources.frame_size(rgb) != info[:2]:
        fh, fw = sources.frame_size(rgb)
        raise VideoError(source_name, f"frame {n} has size {fw}x{fh}, expected {info[1]}x{info[0]}")
      for packet in stream.encode(canonical_frame(rgb, n, info[2], info[3], options)):
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


def transcode(source, output_path, options: EncodeOptions = EncodeOptions(),
              corrupt: Optional[sources.CorruptFrames] = None) -> TranscodeInfo:
  """Transcodes a video file, an ordered list of image files or a folder of numbered frames to
  the canonical stream. `corrupt`: frames the decoder flags (`sources.decoded_frames`; default:
  refused)."""
  name = sources.source_name(source)
  return encode_frames(sources.iter_source_frames(source, for_encoder=True, corrupt=corrupt), output_path, options,
                       source_name=name)


def is_canonical(path, gop: int = 12) -> bool:
  """True when `path` is MPEG-4 Part 2 whose key frames fall exactly every `gop` frames.

  Demuxes only (no decoding), so it is cheap even for long videos. B-frames are not
  visible at this level; `decode_compressed` refuses them if they are there. Frames given as
  images never are.
  """
  if sources.is_image_list(path):
    return False
  container = sources.open_input(path)
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

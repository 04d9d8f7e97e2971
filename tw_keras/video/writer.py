"""Encoding RGB frames to a video file (any FFmpeg encoder, optional B-frames), atomically.

Used for overlay outputs, the demo's held-out H.264 input and test clips with B-frames.
The canonical MPEG-4 Part 2 stream of the data pipeline is `codec.transcode`'s job.
"""

import os

import av
import numpy as np

from tw_keras import fileio


class VideoWriter:
  """Writes RGB frames to a video file via a temporary file, renamed on a clean close.

  Args:
    path: output file; its extension picks the container.
    fps: frame rate.
    width, height: frame size (odd sizes are padded by one pixel for 4:2:0).
    codec: FFmpeg encoder name; default H.264 (libx264) if available, else MPEG-4.
    b_frames: maximum consecutive B-frames (0 = none).
  """

  @staticmethod
  def check(path, what="output video"):
    """Proves before any work that `path` can be written: its directory (`fileio`) and a
    container FFmpeg can write for its extension. Raises `fileio.PathError` naming it."""
    fileio.check_output_file(path, what)
    try:
      av.open(fileio.temporary_name(path), "w").close()  # writes nothing before a stream's header
    except ValueError as e:
      raise fileio.PathError(path, f"no video container for the extension {os.path.splitext(path)[1] or '(none)'!r} "
                             f"(FFmpeg: {e}); use .mp4, .mkv or .avi") from None

  def __init__(self, path, fps, width, height, codec=None, b_frames=0):
    self.path = path
    self.tmp = fileio.temporary_name(path)
    self.container = av.open(self.tmp, "w")
    name = codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
    self.stream = self.container.add_stream(name, rate=fps)
    # Even sizes for 4:2:0; the frame is padded by one pixel when needed.
    self.stream.width, self.stream.height = width + width % 2, height + height % 2
    self.stream.pix_fmt = "yuv420p"
    self.stream.max_b_frames = b_frames
    if name == "libx264":
      # x264 decides B-frames itself unless told: a fixed count when asked for them.
      self.stream.codec_context.options = {"crf": "20", "preset": "veryfast", "bf": str(b_frames),
                                           **({"b-adapt": "0"} if b_frames else {})}
    self.n = 0

  def write(self, rgb):
    if rgb.shape[0] % 2 or rgb.shape[1] % 2:
      rgb = np.pad(rgb, ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0)), mode="edge")
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame.pts = self.n
    self.n += 1
    for packet in self.stream.encode(frame):
      self.container.mux(packet)

  def close(self, ok=True):
    if ok:
      for packet in self.stream.encode():
        self.container.mux(packet)
    self.container.close()
    if ok:
      fileio.commit(self.tmp, self.path)
    else:
      fileio.discard(self.tmp)

"""Extraction throughput: plain PyAV decode vs. compressed-domain extraction, same file, same run.

    python benchmarks/extraction_speed.py --sizes=1024x2048,512x1024 --frames=96

Prints frames/s for: plain decode (RGB conversion included), decode with motion-vector
export, the compact extraction that records and the segmenter use (`decode_compressed(...,
with_residual=False)`: frames + the int16 block motion grid; the residual is computed by the
network, in the graph), and the host residual as before (step and accumulate), per size.
The clip is a textured panorama under a slow pan and zoom, encoded to the canonical stream.
"""

import sys
import os
import tempfile

from absl import flags

import av
import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position
from tw_keras.video import codec
from clips import make_clip, plain_decode  # benchmarks/clips.py
import clips  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["1024x2048", "512x1024"], "HxW sizes to measure.")
flags.DEFINE_integer("frames", 96, "Frames per clip (multiple of 12).")
flags.DEFINE_integer("repeats", 2, "Timed passes per measurement; the best is reported.")


def full(path, mode, with_residual=True):
  return sum(1 for _ in codec.decode_compressed(path, residual_mode=mode, with_residual=with_residual))


def main(_):
  print(f"cores: {os.cpu_count()}  PyAV {av.__version__}  OpenCV {cv2.__version__}")
  with tempfile.TemporaryDirectory() as d:
    for size in FLAGS.sizes:
      h, w = map(int, size.split("x"))
      path = os.path.join(d, f"{h}x{w}.mp4")
      make_clip(path, h, w, FLAGS.frames)
      plain = clips.best_fps(FLAGS.repeats, plain_decode, path, False)
      mvs = clips.best_fps(FLAGS.repeats, plain_decode, path, True)
      compact = clips.best_fps(FLAGS.repeats, full, path, "step", False)
      step = clips.best_fps(FLAGS.repeats, full, path, "step")
      acc = clips.best_fps(FLAGS.repeats, full, path, "accumulate")
      print(f"{w}x{h}: plain decode {plain:7.1f} f/s | decode+MV export {mvs:7.1f} f/s | "
            f"compact (frame + motion grid) {compact:7.1f} f/s ({compact / plain:.2f}x plain) | "
            f"host residual: step {step:7.1f} f/s ({step / plain:.2f}x), accumulate {acc:7.1f} f/s")


if __name__ == "__main__":
  cli.run(main)

r"""The same rendered scenes at another resolution: every frame and label of one split of a
Cityscapes-layout root, resized by --factor (frames bilinear or area, labels nearest).

Models trained at the benchmark's own size can then be scored on magnified or reduced
frames through the whole protocol (transcode, motion vectors, warping), e.g. to see how
properties 2 and 3 depend on the resolution (docs/study_cpu.md):

    python benchmarks/rescale_root.py --input_root=W/data_val24/synthetic_cityscapes \
        --output_root=W/val24_x1.5 --factor=1.5
    python -m data_prep.build_tfrecords --dataset=cityscapes --input_dir=W/val24_x1.5 --splits=val \
        --output_dir=W/val24_x1.5/data
    python benchmarks/benchmark_properties.py --synthetic_root=W/val24_x1.5 --split=val \
        --data_dir=W/val24_x1.5/data --model_dir=W/long12k --no_context_dir=W/long12k_nc

Sizes are rounded to a multiple of 16 (the codec's macroblock).
"""

import glob
import os
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("input_root", None, "Cityscapes-layout root.", required=True)
flags.DEFINE_string("output_root", None, "Where the resized root goes.", required=True)
flags.DEFINE_string("split", "val", "Split to resize.")
flags.DEFINE_float("factor", 1.5, "Resize factor.")

MULTIPLE = 16


def rescaled_size(height, width, factor):
  """(height, width) * factor, rounded to a multiple of MULTIPLE (at least MULTIPLE)."""
  return tuple(max(MULTIPLE, int(round(v * factor / MULTIPLE)) * MULTIPLE) for v in (height, width))


def rescale_root(input_root, output_root, split, factor) -> int:
  """Resizes every PNG of `split` (frames and labels); returns how many were written."""
  import cv2  # pylint: disable=g-import-not-at-top
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  paths = sorted(glob.glob(os.path.join(input_root, "leftImg8bit_sequence", split, "*", "*.png")) +
                 glob.glob(os.path.join(input_root, "gtFine", split, "*", "*.png")))
  if not paths:
    raise ValueError(f"{input_root}: no {split} PNGs in Cityscapes layout")
  for path in paths:
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
      raise ValueError(f"{path}: not a readable image")
    h, w = rescaled_size(*image.shape[:2], factor)
    label = os.path.sep + "gtFine" + os.path.sep in path
    interpolation = cv2.INTER_NEAREST if label else cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    out = os.path.join(output_root, os.path.relpath(path, input_root))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    synthetic.write_png(out, cv2.resize(image, (w, h), interpolation=interpolation))
  return len(paths)


def main(argv):
  del argv
  n = rescale_root(FLAGS.input_root, FLAGS.output_root, FLAGS.split, FLAGS.factor)
  print(f"{n} PNGs of {FLAGS.split} resized by {FLAGS.factor:g} into {FLAGS.output_root}")


if __name__ == "__main__":
  cli.run(main)

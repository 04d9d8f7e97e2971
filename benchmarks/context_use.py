r"""How much do two trained per-frame CNNs use context beyond the stride-8 receptive field?

Property 3 of the benchmark (benchmark_properties.py) compares the per-frame CNN with the
no-context ablation at the benchmark's own scale. This script asks why the gap is what it
is, on labelled frames of a rendered root's val split, in two ways:

1. **Input scale.** Both models score the same frames resized by each of --scales (labels stay
   at full size: the logits are resized back). Magnifying the frame makes every object cover
   more pixels, so a fixed receptive field sees less of its surroundings; if the no-context
   model loses more than the per-frame CNN as the scale grows, the gap at scale 1 is bounded
   by how much of the scene the stride-8 field already covers. Stay within the training
   scale augmentation (cpu_study: 0.75-1.5) or both models leave their training distribution.
2. **Where the gradient comes from.** For probe pixels, the share of |d max-class score /
   d input| that lies farther than --radius pixels from the probe: how far each model
   actually looks; and the largest box of pixels with a non-zero gradient: how far it can.

    python benchmarks/context_use.py --model_dir=W/long --other_dir=W/long_nc \
        --val_root=W/data_val24/synthetic_cityscapes
"""

import os
import sys

from absl import flags

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "A trained model directory (its per-frame CNN).", required=True)
flags.DEFINE_string("other_dir", None, "A second one, e.g. the no-context ablation.", required=True)
flags.DEFINE_string("val_root", None, "Rendered root (Cityscapes layout) with a labelled val split.", required=True)
flags.DEFINE_list("scales", ["0.75", "1.0", "1.5"], "Input scales.")
flags.DEFINE_integer("frame_step", 6, "Score every n-th labelled frame of each snippet.")
flags.DEFINE_integer("radius", 48, "Gradient share beyond this many pixels from the probe.")
flags.DEFINE_integer("probe_frames", 8, "Frames probed for the gradient share (3 probes each).")
flags.DEFINE_string("output", None, "Also write the figures to this JSON file.")

SIZE_MULTIPLE = 32  # the encoder's output stride: resized inputs are rounded to it


def miou_at_scale(model, pairs, scale):
  """mIoU (percent) of `model` on `pairs` with the input resized by `scale`."""
  import cv2  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import metrics  # pylint: disable=g-import-not-at-top
  logits_of = tf.function(lambda x: model(x, training=False)["logits"])
  conf = 0
  for rgb, lab in pairs:
    h, w = lab.shape
    size = [max(SIZE_MULTIPLE, int(round(v * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE) for v in (w, h)]
    x = cv2.resize(rgb, tuple(size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    logits = tf.image.resize(logits_of(tf.constant(x[None], tf.float32)), (h, w), method="bilinear")
    conf = conf + metrics.confusion_matrix(lab, tf.argmax(logits[0], -1).numpy())
  return float(metrics.mean_iou(conf) * 100)


def gradient_reach(model, pairs, radius):
  """(mean share of |d max-score / d input| farther than `radius` px from each probe pixel,
  (height, width) of the largest box of input pixels with a non-zero gradient: the receptive field)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  shares, field = [], (0, 0)
  for rgb, _ in pairs:
    h, w = rgb.shape[:2]
    x = tf.constant(rgb[None], tf.float32)
    yy, xx = np.mgrid[:h, :w]
    for fy, fx in ((0.5, 0.5), (0.6, 0.25), (0.4, 0.75)):  # centre, lower left, upper right
      with tf.GradientTape() as tape:
        tape.watch(x)
        scores = model(x, training=False)["scores"]
        sh, sw = scores.shape[1:3]
        r, c = int(fy * sh), int(fx * sw)
        y = tf.reduce_max(scores[0, r, c])
      g = np.abs(tape.gradient(y, x).numpy()[0]).sum(-1)
      dist = np.hypot(yy - (r + 0.5) * h / sh, xx - (c + 0.5) * w / sw)
      shares.append(float(g[dist > radius].sum() / max(g.sum(), 1e-30)))
      rows, cols = np.nonzero(g.any(1))[0], np.nonzero(g.any(0))[0]
      if rows.size:
        field = max(field, (int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)))
  return float(np.mean(shares)), field


def main(argv):
  del argv
  from tw_keras.data import prepare  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  models = {"model": model_dir_lib.load_per_frame(FLAGS.model_dir),
            "other": model_dir_lib.load_per_frame(FLAGS.other_dir)}
  dirs = {"model": FLAGS.model_dir, "other": FLAGS.other_dir}
  pairs = list(prepare.labelled_frames(FLAGS.val_root, "val", FLAGS.frame_step))
  if not pairs:
    raise ValueError(f"{FLAGS.val_root}: no labelled val frames")
  out = {"frames": len(pairs), "radius": FLAGS.radius, "scales": {}, "far_gradient_share": {}}
  print(f"{len(pairs)} labelled val frames of {FLAGS.val_root}")
  print(f"| input scale | {FLAGS.model_dir} | {FLAGS.other_dir} | gap |")
  print("|---|---|---|---|")
  for scale in (float(s) for s in FLAGS.scales):
    a, b = (miou_at_scale(m, pairs, scale) for m in models.values())
    out["scales"][str(scale)] = {"model": a, "other": b}
    print(f"| {scale:g} | {a:.1f} | {b:.1f} | {a - b:+.1f} |", flush=True)
  probes = pairs[::max(1, len(pairs) // FLAGS.probe_frames)][:FLAGS.probe_frames]
  for name, m in models.items():
    share, field = gradient_reach(m, probes, FLAGS.radius)
    out["far_gradient_share"][name] = share
    out.setdefault("receptive_field", {})[name] = field
    print(f"{dirs[name]}: {100 * share:.1f}% of the input gradient lies beyond {FLAGS.radius} px of the scored "
          f"pixel; receptive field (non-zero gradient) up to {field[0]}x{field[1]} px of a "
          f"{probes[0][0].shape[0]}x{probes[0][0].shape[1]} frame")
  if FLAGS.output:
    from tw_keras import fileio  # pylint: disable=g-import-not-at-top
    fileio.write_json(FLAGS.output, out)


if __name__ == "__main__":
  cli.run(main)

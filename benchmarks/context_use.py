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

def main(argv):
  del argv
  from tw_keras.data import layouts  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import receptive_field  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  models = {"model": model_dir_lib.load_per_frame(FLAGS.model_dir),
            "other": model_dir_lib.load_per_frame(FLAGS.other_dir)}
  dirs = {"model": FLAGS.model_dir, "other": FLAGS.other_dir}
  pairs = list(layouts.labelled_frames(FLAGS.val_root, "val", FLAGS.frame_step))
  if not pairs:
    raise ValueError(f"{FLAGS.val_root}: no labelled val frames")
  out = {"frames": len(pairs), "radius": FLAGS.radius, "scales": {}, "far_gradient_share": {}}
  print(f"{len(pairs)} labelled val frames of {FLAGS.val_root}")
  print(f"| input scale | {FLAGS.model_dir} | {FLAGS.other_dir} | gap |")
  print("|---|---|---|---|")
  for scale in (float(s) for s in FLAGS.scales):
    a, b = (receptive_field.miou_at_scale(m, pairs, scale) for m in models.values())
    out["scales"][str(scale)] = {"model": a, "other": b}
    print(f"| {scale:g} | {a:.1f} | {b:.1f} | {a - b:+.1f} |", flush=True)
  probes = pairs[::max(1, len(pairs) // FLAGS.probe_frames)][:FLAGS.probe_frames]
  for name, m in models.items():
    share, field = receptive_field.gradient_reach(m, probes, FLAGS.radius)
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

r"""The one-command demo on the built-in synthetic benchmark (the README's main job).

  python -m experiments.demo --output_dir=runs/demo

Flags -> `tw_keras.jobs.demo.DemoConfig` -> `demo.run`; the steps (render, prepare, train,
evaluate with the scheduler study, segment a held-out video, export, then the released
weights) are listed once, in that module's docstring.
Rerunning resumes: finished shards and checkpoints are reused.
"""

import os

from absl import flags

from tw_keras import cli

FLAGS = flags.FLAGS
RELEASED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "benchmark")


def define_flags():
  flags.DEFINE_string("output_dir", "runs/demo", "Where everything goes.")
  flags.DEFINE_string("preset", "tiny", "Training preset.")
  flags.DEFINE_integer("height", 128, "Synthetic frame height.")
  flags.DEFINE_integer("width", 256, "Synthetic frame width.")
  flags.DEFINE_integer("train_sequences", 24, "Synthetic training snippets.")
  flags.DEFINE_integer("val_sequences", 8, "Synthetic validation snippets.")
  flags.DEFINE_list("variants", ["layer1_cfr_rga", "clockwork"],
                    "Stage-2 variants of the smoke run (the untrained baselines are evaluated too; the "
                    "released weights of step 7 hold every row).")
  flags.DEFINE_integer("seed", 0, "Seed for data and training.")
  flags.DEFINE_integer("stage1_steps", 1000, "Stage-1 steps of the smoke run (the preset's own: 0). Half the "
                       "tiny preset's 2000 keeps the demo within 10 minutes on 2 cores with step 7.")
  flags.DEFINE_integer("workers", os.cpu_count() or 1, "Data preparation processes.")
  flags.DEFINE_string("released", RELEASED, "Released weights to evaluate after the smoke run; empty: skip.")


def main(argv):
  del argv
  from tw_keras.jobs import demo  # pylint: disable=g-import-not-at-top
  config = demo.DemoConfig(FLAGS.output_dir, FLAGS.preset, FLAGS.height, FLAGS.width, FLAGS.train_sequences,
                           FLAGS.val_sequences, tuple(FLAGS.variants), FLAGS.seed, FLAGS.stage1_steps, FLAGS.workers,
                           FLAGS.released or None, skip_missing_release=FLAGS.released == RELEASED)
  print(demo.summary(demo.run(config, log=lambda line: print(line, flush=True))))


if __name__ == "__main__":
  define_flags()
  cli.run(main)

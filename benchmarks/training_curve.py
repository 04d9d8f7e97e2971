r"""A training run's curve from its TensorBoard events: loss (mean of each window of steps)
and every periodic evaluation, as a markdown table, optionally a PNG.

    python benchmarks/training_curve.py --run=runs/camvid/w100/stage1 [--png=docs/camvid_curve.png]

Reads `RUN/train/events.out.tfevents.*` (written by `train/loop.py`).
"""

import collections
import glob
import os
import sys

from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("run", None, "A stage directory (its train/ holds the events).", required=True)
flags.DEFINE_integer("window", 100, "Steps per loss row.")
flags.DEFINE_string("png", None, "Also plot the curve here.")


def read_scalars(run_dir):
  """{tag: {step: value}} of every scalar in the run's events (later files win)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = sorted(glob.glob(os.path.join(run_dir, "train", "events.out.tfevents.*")))
  if not files:
    raise FileNotFoundError(f"{os.path.join(run_dir, 'train')}: no TensorBoard events")
  out = collections.defaultdict(dict)
  for path in files:
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for v in event.summary.value:
        out[v.tag][event.step] = float(tf.make_ndarray(v.tensor)) if v.HasField("tensor") else v.simple_value
      if event.step and event.wall_time:
        out["_wall_time"][event.step] = event.wall_time
  return out


def main(argv):
  del argv
  scalars = read_scalars(FLAGS.run)
  loss, wall = scalars.get("loss", {}), scalars.get("_wall_time", {})
  evals = {k: v for k, v in scalars.items() if k.startswith("eval/")}
  print("| steps | loss | s/step | " + " | ".join(evals) + " |")
  print("|---" * (3 + len(evals)) + "|")
  steps = sorted(loss)
  for lo in range(0, len(steps), FLAGS.window):
    chunk = steps[lo:lo + FLAGS.window]
    span = [s for s in chunk if s in wall]
    rate = (wall[span[-1]] - wall[span[0]]) / (span[-1] - span[0]) if len(span) > 1 else float("nan")
    marks = [f"{v[chunk[-1]]:.2f}" if chunk[-1] in v else "" for v in evals.values()]
    print(f"| {chunk[0]}-{chunk[-1]} | {np.mean([loss[s] for s in chunk]):.4f} | {rate:.2f} | " + " | ".join(marks) + " |")
  for tag, values in evals.items():
    best = max(values, key=values.get)
    print(f"{tag}: best {values[best]:.2f} at step {best}; last {values[max(values)]:.2f} at step {max(values)}")
  if FLAGS.png:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [loss[s] for s in steps], lw=0.5, color="0.6", label="loss")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    if evals:
      ax2 = ax.twinx()
      for tag, values in evals.items():
        ax2.plot(sorted(values), [values[s] for s in sorted(values)], "o-", label=tag)
      ax2.set_ylabel("val mIoU (%)")
      ax2.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(FLAGS.png, dpi=100)


if __name__ == "__main__":
  cli.run(main)

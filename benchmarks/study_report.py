r"""The paper's orderings, checked on an evaluation report (experiments.evaluate's results.json).

    python benchmarks/study_report.py --results=runs/study/eval/results.json

Prints mean mIoU over d and at d = 11, category IoU (pooled over d) for every variant, and
for each of the paper's claims whether it holds:
  per-frame >= CFR+RGA >= CFR >= fine-tuned > warp only (Layer1 and Layer2, mean over d);
  the correction gap (CFR+RGA - warp only) widening with d;
  Layer1 > Layer2 > Layer3 (the best row of each, mean over d).
"""

import os
import sys
import json

from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("results", None, "results.json of experiments.evaluate.", required=True)
CATS = ("flat", "construction", "object", "nature", "sky", "human", "vehicle")


def _row(v, far):
  per_d = v["miou_per_distance"]
  cats = v["pooled_over_d"]["category_iou"]
  return [v["mean_miou_over_d"], per_d[far], v["pooled_over_d"]["category_miou"]] + [cats[c] for c in CATS]


def main(argv):
  del argv
  with open(FLAGS.results) as f:
    rep = json.load(f)
  var = rep["variants"]
  far = len(rep["distances"]) - 1
  print(f"| variant | mean over d | d={rep['distances'][far]} | category mIoU | " + " | ".join(CATS) + " |")
  print("|" + "---|" * (4 + len(CATS)))
  fmt = lambda x: "-" if x is None else f"{x:.1f}"
  for name, v in var.items():
    print(f"| {name} | " + " | ".join(fmt(x) for x in _row(v, far)) + " |")
  mean = lambda n: var[n]["mean_miou_over_d"] if n in var else None
  print("\nThe paper's orderings (mean mIoU over d):")
  for layer in (1, 2):
    chain = ["per_frame", f"layer{layer}_cfr_rga", f"layer{layer}_cfr", f"layer{layer}_ft", f"layer{layer}_warp"]
    if not all(n in var for n in chain):
      continue
    vals = [mean(n) for n in chain]
    ok = [vals[i] >= vals[i + 1] - 1e-9 for i in range(3)] + [vals[3] > vals[4]]
    print(f"  Layer{layer}: " + " ".join(f"{n} {v:.2f}" + ("" if i == 4 else (" >=" if i < 3 else " >"))
                                        for i, (n, v) in enumerate(zip(chain, vals))) +
          "  -> " + ", ".join("holds" if o else "FAILS" for o in ok))
    gap = np.array(var[f"layer{layer}_cfr_rga"]["miou_per_distance"][1:], float) - \
        np.array(var[f"layer{layer}_warp"]["miou_per_distance"][1:], float)
    slope = np.polyfit(np.arange(1, len(gap) + 1), gap, 1)[0]
    print(f"  Layer{layer} correction gap (cfr_rga - warp) by d=1..{len(gap)}: "
          + " ".join(f"{g:.1f}" for g in gap) + f"; slope {slope:+.2f}/frame -> "
          + ("widens" if slope > 0 else "does NOT widen"))
  best = {k: max((mean(n) for n in var if n.startswith(f"layer{k}")), default=None) for k in (1, 2, 3)}
  if None not in best.values():
    print(f"  Layer1 {best[1]:.2f} > Layer2 {best[2]:.2f} > Layer3 {best[3]:.2f} -> "
          + ("holds" if best[1] > best[2] > best[3] else "FAILS"))


if __name__ == "__main__":
  cli.run(main)

r"""The paper's Tables 10-11 beside ours: prints the markdown of docs/camvid_stage2.md from an
evaluation of the CamVid variants on the 15 Hz val run (`experiments.evaluate` output).

  python benchmarks/camvid_tables.py --results=runs/camvid_stage2/eval/results.json

Tables: every variant's mean mIoU over d with its 95% interval over GOPs, the paper's figure
(Table 10, CamVid, MobileNetV1), TC, and category IoU pooled over d ("human" = pedestrian and
bicyclist against the mean of the other categories); then each claim of the paper with the
paired difference that tests it, and whether its interval supports it.
"""

import json

from absl import app, flags
import numpy as np

flags.DEFINE_string("results", None, "results.json of the evaluation on the val run.", required=True)
FLAGS = flags.FLAGS

# The paper's Table 10 (CamVid, MobileNetV1; mIoU %); None where it reports none.
PAPER = {"per_frame": 73.5, "layer1_warp": 68.8, "layer1_ft": 69.9, "layer1_cfr": 71.0, "layer1_cfr_rga": 71.5,
         "layer2_warp": 66.7, "layer2_ft": 68.1, "layer2_cfr": 69.3, "layer2_cfr_rga": 70.0}
ORDER = ("per_frame", "layer1_warp", "layer1_ft", "layer1_cfr", "layer1_cfr_rga", "layer2_warp", "layer2_ft",
         "layer2_cfr", "layer2_cfr_rga", "warp_scores", "clockwork")
# (claim, difference label, what supports it: the interval above 0)
CLAIMS = (("Layer1 beats Layer2 (CFR+RGA)", "layer1_cfr_rga - layer2_cfr_rga"),
          ("warping loses to the per-frame CNN (Layer1)", "per_frame - layer1_warp"),
          ("warping loses to the per-frame CNN (Layer2)", "per_frame - layer2_warp"),
          ("FT beats warp-only (Layer1)", "layer1_ft - layer1_warp"),
          ("FT beats warp-only (Layer2)", "layer2_ft - layer2_warp"),
          ("CFR adds to FT (Layer1)", "layer1_cfr - layer1_ft"),
          ("CFR adds to FT (Layer2)", "layer2_cfr - layer2_ft"),
          ("RGA adds to CFR (Layer1)", "layer1_cfr_rga - layer1_cfr"),
          ("RGA adds to CFR (Layer2)", "layer2_cfr_rga - layer2_cfr"),
          ("correction beats warp-only (Layer1)", "layer1_cfr_rga - layer1_warp"),
          ("correction beats warp-only (Layer2)", "layer2_cfr_rga - layer2_warp"),
          ("feature warping beats score warping (DFF)", "layer1_warp - warp_scores"),
          ("TWNet's FT beats Clockwork (motion matters)", "layer1_ft - clockwork"))
PAPER_DIFF = {"layer1_cfr_rga - layer2_cfr_rga": 1.5, "per_frame - layer1_warp": 4.7, "per_frame - layer2_warp": 6.8,
              "layer1_ft - layer1_warp": 1.1, "layer2_ft - layer2_warp": 1.4, "layer1_cfr - layer1_ft": 1.1,
              "layer2_cfr - layer2_ft": 1.2, "layer1_cfr_rga - layer1_cfr": 0.5, "layer2_cfr_rga - layer2_cfr": 0.7,
              "layer1_cfr_rga - layer1_warp": 2.7, "layer2_cfr_rga - layer2_warp": 3.3}


def verdict(ci):
  low, high = ci
  return "yes" if low > 0 else "no: the reverse" if high < 0 else "not resolved (interval spans 0)"


def main(argv):
  del argv
  with open(FLAGS.results) as f:
    rep = json.load(f)
  v = rep["variants"]
  fmt = lambda x: "-" if x is None else f"{x:.2f}"
  print(f"{rep['sequences']} GOPs of the {rep['split']} split, motion: {rep['flow']}; TC: {rep.get('tc_motion')}\n")
  print("| variant | mIoU, mean over d [95% CI] | paper (Table 10) | TC | human IoU | other categories, mean |")
  print("|---|---|---|---|---|---|")
  for name in [n for n in ORDER if n in v]:
    r = v[name]
    cats = r["pooled_over_d"]["category_iou"]
    rest = [x for c, x in cats.items() if c != "human" and x is not None]
    ci = r["mean_miou_over_d_ci95"]
    print(f"| {name} | {fmt(r['mean_miou_over_d'])} [{fmt(ci[0])}, {fmt(ci[1])}] | {fmt(PAPER.get(name))} | "
          f"{fmt(r.get('temporal_consistency'))} | {fmt(cats.get('human'))} | {fmt(float(np.mean(rest)))} |")
  comp = rep["comparisons"]
  print("\n| the paper's claim | difference, points [95% CI] | paper | holds here? |\n|---|---|---|---|")
  for claim, label in CLAIMS:
    if label in comp["differences"]:
      d = comp["differences"][label]
      print(f"| {claim} | {label}: {d['difference']:+.2f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}] | "
            f"{'+' + format(PAPER_DIFF[label], '.1f') if label in PAPER_DIFF else '-'} | {verdict(d['ci95'])} |")
  for name, s in comp["share_won_back"].items():
    warp = name.replace("cfr_rga", "warp")
    paper = (PAPER[name] - PAPER[warp]) / (PAPER["per_frame"] - PAPER[warp]) * 100
    print(f"| correction wins back a share of the warping loss ({name}) | {s['share']:+.1f}% "
          f"[{s['ci95'][0]:+.1f}%, {s['ci95'][1]:+.1f}%] | {paper:.0f}% | {verdict(s['ci95'])} |")
  for label, cats in comp["category_gain"].items():
    human = cats.get("human")
    if human:
      others = [c for n, c in cats.items() if n != "human"]
      top = max(cats.items(), key=lambda kv: kv[1]["difference"])
      print(f"| human categories gain most ({label}) | human {human['difference']:+.2f} [{human['ci95'][0]:+.2f}, "
            f"{human['ci95'][1]:+.2f}]; others {np.mean([c['difference'] for c in others]):+.2f} on average; "
            f"largest: {top[0]} {top[1]['difference']:+.2f} | - | "
            f"{'yes' if top[0] == 'human' and human['ci95'][0] > 0 else 'no'} |")


if __name__ == "__main__":
  app.run(main)

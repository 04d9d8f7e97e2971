"""The differences the paper's tables draw, each with a paired 95% bootstrap interval over GOPs.

Two variants scored on the same GOPs are compared on the same resamples (the GOP's
confusions of both are resampled together), so the interval is the difference's own, not
two intervals' overlap. Shapes: `per_gop[name]` [N, D, K, K], one confusion per GOP and
key-frame distance (`distance_protocol.evaluate`).

* a difference a - b of the mean over d of mIoU (percentage points);
* the share of the warping loss won back by correction,
  (corrected - warp) / (per_frame - warp) (percent);
* per category, the difference of category IoU pooled over d (percentage points): where the
  gain goes (the paper: to non-rigid, human classes).
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np

from tw_keras import dataset_info
from tw_keras.evaluation import metrics


def table_rows(names: Sequence[str]) -> List[Tuple[str, str, str]]:
  """(label, a, b) of each difference a - b the paper's Tables 10-11 draw, among `names`."""
  rows = []
  for layer in (1, 2):
    p = f"layer{layer}"
    for a, b in (("per_frame", f"{p}_warp"), (f"{p}_ft", f"{p}_warp"), (f"{p}_cfr", f"{p}_ft"),
                 (f"{p}_cfr_rga", f"{p}_cfr"), (f"{p}_cfr_rga", f"{p}_warp")):
      rows.append((f"{a} - {b}", a, b))
  rows += [("layer1_cfr_rga - layer2_cfr_rga", "layer1_cfr_rga", "layer2_cfr_rga"),
           ("layer1_warp - warp_scores", "layer1_warp", "warp_scores"),
           ("layer1_ft - clockwork", "layer1_ft", "clockwork")]
  present = set(names)
  return [r for r in rows if r[1] in present and r[2] in present]


def _pct(v) -> float:
  return None if not np.isfinite(v) else round(100.0 * float(v), 2)


def difference(a: np.ndarray, b: np.ndarray) -> Dict[str, object]:
  """{difference, ci95} of mean-over-d mIoU, a - b, in points; a, b [N, D, K, K] on the same GOPs."""
  pair = np.stack([a, b], 1)
  stat = lambda s: metrics.mean_miou_over_d(s[0]) - metrics.mean_miou_over_d(s[1])
  return {"difference": _pct(stat(pair.sum(0))), "ci95": [_pct(v) for v in metrics.bootstrap_interval(pair, stat)]}


def share_won_back(per_frame: np.ndarray, warp: np.ndarray, corrected: np.ndarray) -> Dict[str, object]:
  """{share, ci95}: (corrected - warp) / (per_frame - warp) of the mean over d, in percent."""
  trio = np.stack([per_frame, warp, corrected], 1)

  def stat(s):
    pf, w, c = (metrics.mean_miou_over_d(x) for x in s)
    return (c - w) / (pf - w) if pf != w else float("nan")
  return {"share": _pct(stat(trio.sum(0))), "ci95": [_pct(v) for v in metrics.bootstrap_interval(trio, stat)]}


def category_differences(a: np.ndarray, b: np.ndarray, info: dataset_info.DatasetInfo) -> Dict[str, Dict]:
  """{category: {difference, ci95}}: category IoU pooled over d, a - b, in points."""
  pair = np.stack([a, b], 1).sum(2)  # [N, 2, K, K]: pooled over d
  out = {}
  for c, name in enumerate(info.categories):
    stat = lambda s, c=c: (metrics.iou_per_class(metrics.category_confusion(s[0], info))[c] -
                           metrics.iou_per_class(metrics.category_confusion(s[1], info))[c])
    out[name] = {"difference": _pct(stat(pair.sum(0))),
                 "ci95": [_pct(v) for v in metrics.bootstrap_interval(pair, stat)]}
  return out


def compare(per_gop: Dict[str, np.ndarray], info: dataset_info.DatasetInfo) -> Dict[str, object]:
  """Every difference of `table_rows` among `per_gop`'s variants, the share won back per layer,
  and the categories' gains of CFR+RGA over warping per layer."""
  out = {"differences": {label: difference(per_gop[a], per_gop[b]) for label, a, b in table_rows(list(per_gop))},
         "share_won_back": {}, "category_gain": {}}
  for layer in (1, 2):
    warp, corrected = f"layer{layer}_warp", f"layer{layer}_cfr_rga"
    if "per_frame" in per_gop and warp in per_gop and corrected in per_gop:
      out["share_won_back"][corrected] = share_won_back(per_gop["per_frame"], per_gop[warp], per_gop[corrected])
      out["category_gain"][f"{corrected} - {warp}"] = category_differences(per_gop[corrected], per_gop[warp], info)
  return out


def markdown(comparisons: Dict[str, object]) -> str:
  """The differences and shares as markdown tables (points or percent [95% CI])."""
  fmt = lambda v: "-" if v is None else f"{v:+.2f}"
  ci = lambda r: f"[{fmt(r['ci95'][0])}, {fmt(r['ci95'][1])}]"
  lines = ["| difference (mean over d, points) | value [95% CI over GOPs] |", "|---|---|"]
  lines += [f"| {label} | {fmt(r['difference'])} {ci(r)} |" for label, r in comparisons["differences"].items()]
  if comparisons["share_won_back"]:
    lines += ["", "| share of the warping loss won back | % [95% CI] |", "|---|---|"]
    lines += [f"| {name} | {fmt(r['share'])} {ci(r)} |" for name, r in comparisons["share_won_back"].items()]
  for label, cats in comparisons["category_gain"].items():
    lines += ["", f"| category IoU, {label} (pooled over d, points) | value [95% CI] |", "|---|---|"]
    lines += [f"| {c} | {fmt(r['difference'])} {ci(r)} |" for c, r in cats.items()]
  return "\n".join(lines)

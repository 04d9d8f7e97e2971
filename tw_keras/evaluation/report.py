"""Reports of an evaluation: `distance_protocol.evaluate`'s confusion matrices as the results JSON
(percent), the per-distance markdown table, the mIoU-against-distance plot, and the
scheduler table."""

from typing import Dict

import numpy as np

from tw_keras import config as config_lib, fileio
from tw_keras.evaluation import comparisons, metrics


def report(result: Dict[str, object]) -> Dict[str, object]:
  """Turns `evaluate`'s confusion matrices into the results JSON structure (percent)."""
  info = result["dataset"]
  out = {"dataset": info.name, "classes": list(info.class_names), "distances": result["distances"],
         "sequences": result["sequences"], "variants": {}}
  for name, conf in result["confusion"].items():
    per_d = [metrics.summarize(c, info) for c in conf]
    mious = [s["miou"] for s in per_d if s["miou"] is not None]
    cats = [s["category_miou"] for s in per_d if s["category_miou"] is not None]
    out["variants"][name] = {
        "miou_per_distance": [s["miou"] for s in per_d],
        "mean_miou_over_d": round(float(np.mean(mious)), 2) if mious else None,
        "category_miou_per_distance": [s["category_miou"] for s in per_d],
        "mean_category_miou_over_d": round(float(np.mean(cats)), 2) if cats else None,
        "pooled_over_d": metrics.summarize(conf.sum(0), info),
        # 95% percentile bootstrap over the GOPs (each GOP resampled whole, 1000 times, seeded)
        "mean_miou_over_d_ci95": _pct_pair(metrics.bootstrap_interval(result["per_gop"][name]))
        if "per_gop" in result else None,
        "taplab_uniform_draw": metrics.summarize(result["taplab"][name], info),
    }
    if "tc_counts" in result:
      out["variants"][name]["temporal_consistency"] = metrics.temporal_consistency(*result["tc_counts"][name])
  if "per_gop" in result:  # the tables' differences, each with a paired interval over GOPs
    out["comparisons"] = comparisons.compare(result["per_gop"], info)
  return out


def _pct_pair(pair):
  return [None if not np.isfinite(v) else round(100.0 * v, 2) for v in pair]


def markdown_table(rep: Dict[str, object]) -> str:
  """The per-distance table: mean over d (with its 95% bootstrap interval over GOPs), TapLab's
  draw, temporal consistency (TC, when measured), then every d."""
  ds = rep["distances"]
  with_tc = any("temporal_consistency" in v for v in rep["variants"].values())
  head = ("| variant | mean over d [95% CI] | TapLab draw | " + ("TC | " if with_tc else "")
          + " | ".join(f"d={d}" for d in ds) + " |")
  lines = [head, "|" + "---|" * (len(ds) + 3 + with_tc)]
  fmt = lambda m: "-" if m is None else f"{m:.1f}"
  for name, v in rep["variants"].items():
    cells = " | ".join(fmt(m) for m in v["miou_per_distance"])
    tc = f"{fmt(v.get('temporal_consistency'))} | " if with_tc else ""
    ci = v.get("mean_miou_over_d_ci95") or [None, None]
    interval = f" [{fmt(ci[0])}, {fmt(ci[1])}]" if ci[0] is not None else ""
    lines.append(f"| {name} | {fmt(v['mean_miou_over_d'])}{interval} | {fmt(v['taplab_uniform_draw']['miou'])} | "
                 f"{tc}{cells} |")
  return "\n".join(lines)


def plot(rep: Dict[str, object], path: str, title: str = "mIoU against key-frame distance"):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
  for name, v in rep["variants"].items():
    ys = [np.nan if m is None else m for m in v["miou_per_distance"]]
    dashed = config_lib.VARIANTS[name].is_per_frame if name in config_lib.VARIANTS else False
    ax.plot(rep["distances"], ys, marker="o", ms=3, label=name, ls="--" if dashed else "-")
  ax.set_xlabel("key-frame distance d (frames)")
  ax.set_ylabel("mIoU (%)")
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  with fileio.atomic_path(path) as tmp:
    fig.savefig(tmp)
  plt.close(fig)


def scheduler_table(results: Dict[str, Dict], cost_unit: str) -> str:
  lines = [f"| scheduler | mIoU | category mIoU | TC | key-frame rate | cost/frame ({cost_unit}) |",
           "|---|---|---|---|---|---|"]
  for spec, r in results.items():
    tc = "-" if r.get("temporal_consistency") is None else r["temporal_consistency"]
    lines.append(f"| {spec} | {r['miou']} | {r['category_miou']} | {tc} | {r['key_frame_rate']} | "
                 f"{r['cost_per_frame']} |")
  return "\n".join(lines)

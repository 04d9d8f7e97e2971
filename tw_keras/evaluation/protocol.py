"""Evaluation by key-frame distance (docs/CONVENTIONS.md), every variant in one harness.

Protocol: each GOP record holds frames 8..19 of a snippet; the scored frame is the last
(frame 19). For d = 0..11 the key frame is at 19 - d: the per-frame CNN runs on it, and
the non-key-frame model chains through frames 19-d+1 .. 19 with their motion and
residuals; the prediction at frame 19 is scored. d = 0 is the per-frame CNN itself.
Reported: mIoU per d, the mean over d, and TapLab's protocol, which draws one d per
snippet uniformly with `np.random.default_rng(12345)` in record order.

The per-frame CNN's outputs on each key frame are computed once and shared by every
variant. Predictions can be written as labelId PNGs that the official `cityscapesscripts`
evaluator reads (`data.label_png`).
"""

from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import tensorflow as tf

from tw_keras.data import features, dataset
from tw_keras import fileio
from tw_keras.evaluation import metrics
from tw_keras.model import twnet

TAPLAB_SEED = 12345


def chain_predictions(net: twnet.TWNet, gop, key: int, target: int, key_out=None):
  """Runs key frame `key` through the per-frame CNN and chains to `target` through the
  non-key-frame model (the per-frame variant scores the key frame itself).

  Args:
    net: the TWNet; its compiled steps are built once and reused.
    gop: parsed GOP dictionary (tensors [T, ...]).
    key_out: the per-frame CNN's outputs on frame `key`, if already computed.
  Returns:
    [H, W] int32 trainId prediction at `target`.
  """
  images = gop[features.CLIP_IMAGES]
  key_out = key_out if key_out is not None else net.compiled_per_frame()(tf.cast(images[key:key + 1], tf.float32))
  if key == target or not net.has_non_key_frames:
    return tf.argmax(key_out["logits"][0], -1, output_type=tf.int32)
  non_key_frame = net.compiled()[1]
  context = net.context_of(key_out)
  for t in range(key + 1, target + 1):
    out = non_key_frame(tf.cast(images[t:t + 1], tf.float32), context, gop[features.CLIP_MOTION][t:t + 1],
                        gop[features.CLIP_RESIDUALS][t:t + 1])
    context = out["context"]
  return tf.argmax(out["logits"][0], -1, output_type=tf.int32)


def evaluate(nets: Dict[str, twnet.TWNet], gops: Iterable[Dict], distances: Sequence[int],
             prediction_writer=None, progress=None) -> Dict[str, object]:
  """Per-distance evaluation of several variants.

  Args:
    nets: {name: TWNet}; TWNets that share a per-frame CNN share its outputs on each frame.
    gops: parsed GOP dictionaries; the last frame must be labelled.
    distances: key-frame distances to score (0..T-1).
    prediction_writer: optional callable(variant, d, gop, prediction [H, W], drawn), `drawn`
      True when d is the TapLab draw of this GOP.
    progress: optional callable() after each GOP.
  Returns:
    {"confusion": {name: [D, K, K]}, "taplab": {name: [K, K]}, "distances": [...],
     "sequences": n, "taplab_draws": [...]}.
  """
  names = list(nets)
  if not names:
    raise ValueError("evaluate: no variants given")
  k = next(iter(nets.values())).config.num_classes
  conf = {n: np.zeros((len(distances), k, k), np.int64) for n in names}
  taplab = {n: np.zeros((k, k), np.int64) for n in names}
  rng = np.random.default_rng(TAPLAB_SEED)
  draws = []
  count = 0
  for gop in gops:
    n_frames = int(gop[features.CLIP_IMAGES].shape[0])
    target = n_frames - 1
    if not bool(gop[features.CLIP_HAS_LABEL][target]):
      raise ValueError(f"{gop[features.CLIP_SEQUENCE_ID].numpy().decode()}: the scored (last) frame has no label")
    gt = gop[features.CLIP_LABELS][target].numpy()
    draw = int(rng.integers(0, n_frames))  # TapLab: uniform over the GOP, seeded, in record order
    draws.append(draw)
    outputs = {}  # per-frame CNN outputs by (per-frame CNN, frame), shared by variants and distances

    def per_frame_out(net, i):
      if (id(net.per_frame), i) not in outputs:
        outputs[(id(net.per_frame), i)] = net.compiled_per_frame()(tf.cast(gop[features.CLIP_IMAGES][i:i + 1],
                                                                           tf.float32))
      return outputs[(id(net.per_frame), i)]

    for di, d in enumerate(distances):
      if d > target:
        continue
      key = target - d
      for name in names:
        net = nets[name]
        frame = key if net.has_non_key_frames else target  # the per-frame CNN always sees the scored frame
        pred = chain_predictions(net, gop, frame, target, per_frame_out(net, frame)).numpy()
        c = metrics.confusion_matrix(gt, pred)
        conf[name][di] += c
        if d == draw:
          taplab[name] += c
        if prediction_writer:
          prediction_writer(name, d, gop, pred, d == draw)
    count += 1
    if progress:
      progress()
  return {"confusion": conf, "taplab": taplab, "distances": list(distances), "sequences": count,
          "taplab_draws": draws}


def report(result: Dict[str, object]) -> Dict[str, object]:
  """Turns `evaluate`'s confusion matrices into the results JSON structure (percent)."""
  out = {"distances": result["distances"], "sequences": result["sequences"], "variants": {}}
  for name, conf in result["confusion"].items():
    per_d = [metrics.summarize(c) for c in conf]
    mious = [s["miou"] for s in per_d if s["miou"] is not None]
    cats = [s["category_miou"] for s in per_d if s["category_miou"] is not None]
    out["variants"][name] = {
        "miou_per_distance": [s["miou"] for s in per_d],
        "mean_miou_over_d": round(float(np.mean(mious)), 2) if mious else None,
        "category_miou_per_distance": [s["category_miou"] for s in per_d],
        "mean_category_miou_over_d": round(float(np.mean(cats)), 2) if cats else None,
        "pooled_over_d": metrics.summarize(conf.sum(0)),
        "taplab_uniform_draw": metrics.summarize(result["taplab"][name]),
    }
  return out


def markdown_table(rep: Dict[str, object]) -> str:
  ds = rep["distances"]
  head = "| variant | mean over d | TapLab draw | " + " | ".join(f"d={d}" for d in ds) + " |"
  lines = [head, "|" + "---|" * (len(ds) + 3)]
  fmt = lambda m: "-" if m is None else f"{m:.1f}"
  for name, v in rep["variants"].items():
    cells = " | ".join(fmt(m) for m in v["miou_per_distance"])
    lines.append(f"| {name} | {fmt(v['mean_miou_over_d'])} | {fmt(v['taplab_uniform_draw']['miou'])} | {cells} |")
  return "\n".join(lines)


def plot(rep: Dict[str, object], path: str, title: str = "mIoU against key-frame distance"):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
  for name, v in rep["variants"].items():
    ys = [np.nan if m is None else m for m in v["miou_per_distance"]]
    ax.plot(rep["distances"], ys, marker="o", ms=3, label=name, ls="--" if name == "per_frame" else "-")
  ax.set_xlabel("key-frame distance d (frames)")
  ax.set_ylabel("mIoU (%)")
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  with fileio.atomic_path(path) as tmp:
    fig.savefig(tmp)
  plt.close(fig)


# ---------------------------------------------------------------------------- quick checks for training

def _take(files, n, with_motion=True, resize=None):
  ds = dataset.gop_dataset(files, with_motion=with_motion).take(n)
  if resize:
    ds = ds.map(lambda g: {**dataset.resize_clip(g, resize), features.CLIP_SEQUENCE_ID: g[features.CLIP_SEQUENCE_ID]})
  return ds


def quick_per_frame_miou(net: twnet.TWNet, files, max_gops: int = 8) -> float:
  """mIoU (%) of the per-frame CNN on the last frame of the first `max_gops` GOPs."""
  net = net.with_variant("per_frame")
  result = evaluate({net.name: net}, _take(files, max_gops), [0])
  return float(metrics.mean_iou(result["confusion"][net.name][0]) * 100)


def quick_nkfc_miou(net: twnet.TWNet, files, distance: int, max_gops: int = 8, resize=None) -> float:
  """mIoU (%) of one variant at one key-frame distance on the first `max_gops` GOPs."""
  result = evaluate({net.name: net}, _take(files, max_gops, resize=resize), [distance])
  return float(metrics.mean_iou(result["confusion"][net.name][0]) * 100)


# ---------------------------------------------------------------------------- schedulers

def evaluate_schedulers(net: twnet.TWNet, gops: Iterable[Dict], specs: Sequence[str],
                        key_cost: float = 1.0, non_key_cost: float = 1.0) -> Dict[str, object]:
  """mIoU against average cost per frame for each key-frame scheduler.

  Each GOP record is streamed front to back through a `runner.StreamSegmenter` (the deployed
  path: batch norms folded); every labelled frame is scored. Cost per frame = (per-frame CNN calls * key_cost + non-key-frame
  calls * non_key_cost) / frames; an adaptive re-computation pays both.

  Returns:
    {spec: {"miou", "category_miou", "key_frame_rate", "cost_per_frame", "frames"}}.
  """
  from tw_keras.inference import runner  # pylint: disable=g-import-not-at-top
  gops = list(gops)
  out = {}
  first = None  # one segmenter (networks folded and compiled once), re-scheduled per spec
  for spec in specs:
    if first is None:
      seg = first = runner.StreamSegmenter(net, spec)
    else:
      seg = first.with_scheduler(spec)
    k = net.config.num_classes
    conf = np.zeros((k, k), np.int64)
    frames = keys = non_keys = 0
    for gop in gops:
      seg.reset()
      n = int(gop[features.CLIP_IMAGES].shape[0])
      types = [t.decode() for t in gop[features.CLIP_PICT_TYPES].numpy()]
      for t in range(n):
        pred, _ = seg(gop[features.CLIP_IMAGES][t].numpy(), gop[features.CLIP_MOTION_GRID][t].numpy(), types[t], t,
                      gop[features.CLIP_RESIDUALS][t].numpy())
        if bool(gop[features.CLIP_HAS_LABEL][t]):
          conf += metrics.confusion_matrix(gop[features.CLIP_LABELS][t].numpy(), pred)
      frames += n
      keys += seg.key_frames
      non_keys += seg.non_key_frames
    s = metrics.summarize(conf)
    out[spec] = {"miou": s["miou"], "category_miou": s["category_miou"], "frames": frames,
                 "key_frame_rate": round(keys / max(frames, 1), 3),
                 "cost_per_frame": round((keys * key_cost + non_keys * non_key_cost) / max(frames, 1), 4)}
  return out


def scheduler_table(results: Dict[str, Dict], cost_unit: str) -> str:
  lines = [f"| scheduler | mIoU | category mIoU | key-frame rate | cost/frame ({cost_unit}) |", "|---|---|---|---|---|"]
  for spec, r in results.items():
    lines.append(f"| {spec} | {r['miou']} | {r['category_miou']} | {r['key_frame_rate']} | {r['cost_per_frame']} |")
  return "\n".join(lines)

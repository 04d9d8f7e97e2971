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

from typing import Dict, Iterable, Sequence

import numpy as np
import tensorflow as tf

from tw_keras.data import features
from tw_keras.evaluation import metrics
from tw_keras.model import models, twnet
from tw_keras.video import codec

TAPLAB_SEED = 12345


def per_frame_outputs(net: twnet.TWNet, image):
  """The per-frame CNN's outputs on a frame [1, H, W, 3] of any size: edge-padded to the
  network's input multiple first, as the segmenter pads (logits [1, H', W', K], padded)."""
  return net.compiled_per_frame()(twnet.pad_to_input(tf.cast(image, tf.float32)))


def chain_predictions(net: twnet.TWNet, gop, key: int, target: int, key_out=None, every_frame: bool = False):
  """Runs key frame `key` through the per-frame CNN and chains to `target` through the
  non-key-frame model (the per-frame variant scores the key frame itself), by the streaming
  segmenter's steps: frames of any size are padded and the labels cropped in the graph
  (`TWNet.segment_non_key_frame`), so what is scored is what a user's segmenter outputs.

  Args:
    net: the TWNet; its compiled steps are built once and reused.
    gop: parsed GOP dictionary (tensors [T, ...]).
    key_out: `per_frame_outputs` of frame `key`, if already computed.
    every_frame: return the prediction of every frame key..target of the chain.
  Returns:
    [H, W] int32 train-id prediction at `target` (a list of them with `every_frame`).
  """
  images = gop[features.CLIP_IMAGES]
  h, w = int(images.shape[1]), int(images.shape[2])
  key_out = key_out if key_out is not None else per_frame_outputs(net, images[key:key + 1])
  preds = [tf.argmax(key_out[models.PRED_LOGITS][0, :h, :w], -1, output_type=tf.int32)]
  if key == target or not net.has_non_key_frames:
    return preds if every_frame else preds[-1]
  cell = int(gop[features.CLIP_MOTION_CELL])
  non_key_frame = net.compiled_streaming(with_logits=True, cell=cell)[1]
  context = net.context_of(key_out)
  for t in range(key + 1, target + 1):  # the codec's compact inputs; the model expands them
    out = non_key_frame(images[t:t + 1], gop[features.CLIP_REFERENCES][t:t + 1], context,
                        gop[features.CLIP_MOTION_GRID][t:t + 1])
    context = out[models.PRED_CONTEXT]
    if every_frame or t == target:
      preds.append(out[models.PRED_LABELS][0])
  return preds if every_frame else preds[-1]


def codec_motion(gop, t: int):
  """(frame t's motion [H, W, 2] float32 pixels from the record's grid, None): the default
  motion of the temporal-consistency measure, without a visibility mask."""
  h, w = gop[features.CLIP_IMAGES].shape[1:3]
  return codec.dense_motion(gop[features.CLIP_MOTION_GRID][t].numpy(), int(gop[features.CLIP_MOTION_CELL]), h, w), None


def dis_motion(gop, t: int):
  """(frame t's DIS motion [H, W, 2] float32 pixels from frame t-1, its forward-backward mask
  [H, W] bool; `flow_sources.dis_with_mask`): temporal consistency's motion on any video
  without an exact flow."""
  from tw_keras.data import flow_sources  # pylint: disable=g-import-not-at-top
  images = gop[features.CLIP_IMAGES]
  return flow_sources.dis_with_mask(images[t - 1].numpy(), images[t].numpy())


def evaluate(nets: Dict[str, twnet.TWNet], gops: Iterable[Dict], distances: Sequence[int],
             prediction_writer=None, progress=None, tc_motion=None) -> Dict[str, object]:
  """Per-distance evaluation of several variants.

  Args:
    nets: {name: TWNet}; TWNets that share a per-frame CNN share its outputs on each frame.
    gops: parsed GOP dictionaries; the last frame must be labelled.
    distances: key-frame distances to score (0..T-1).
    prediction_writer: optional callable(variant, d, gop, prediction [H, W], drawn), `drawn`
      True when d is the TapLab draw of this GOP.
    progress: optional callable() after each GOP.
    tc_motion: callable(gop, t) -> (motion [H, W, 2] into frame t, valid [H, W] bool or None):
      what temporal consistency warps frame t-1's prediction with (`codec_motion`, or the
      exact flow and its mask on the built-in benchmark); None (default): no TC. TC is measured on
      each record's whole chain (key frame 0, every frame predicted; for the per-frame
      variant, every frame through the per-frame CNN).
  Returns:
    {"confusion": {name: [D, K, K]}, "per_gop": {name: [n, D, K, K]} (each GOP's own, for
     bootstrap intervals), "taplab": {name: [K, K]}, "distances": [...],
     "sequences": n, "taplab_draws": [...], "dataset": the nets' DatasetInfo,
     "tc_counts": {name: ([K] intersections, [K] unions)} (with tc_motion)}.
  """
  names = list(nets)
  if not names:
    raise ValueError("evaluate: no variants given")
  info = next(iter(nets.values())).dataset
  if any(not n.dataset.same_classes(info) for n in nets.values()):
    raise ValueError("evaluate: the variants were trained on different class tables")
  k = info.num_classes
  conf = {n: np.zeros((len(distances), k, k), np.int64) for n in names}
  per_gop = {n: [] for n in names}
  taplab = {n: np.zeros((k, k), np.int64) for n in names}
  tc = {n: metrics.ConsistencyCounts(k) for n in names}
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
        outputs[(id(net.per_frame), i)] = per_frame_outputs(net, gop[features.CLIP_IMAGES][i:i + 1])
      return outputs[(id(net.per_frame), i)]

    chains = {}  # name -> every frame's prediction of the whole chain (key frame 0), for TC
    this_gop = {n: np.zeros((len(distances), k, k), np.int64) for n in names}

    def whole_chain(net):
      if not net.has_non_key_frames:
        return [chain_predictions(net, gop, i, i, per_frame_out(net, i)) for i in range(n_frames)]
      return chain_predictions(net, gop, 0, target, per_frame_out(net, 0), every_frame=True)

    for di, d in enumerate(distances):
      if d > target:
        continue
      key = target - d
      for name in names:
        net = nets[name]
        frame = key if net.has_non_key_frames else target  # the per-frame CNN always sees the scored frame
        if tc_motion is not None and key == 0 and net.has_non_key_frames:
          chains[name] = whole_chain(net)  # the d = target chain, every frame kept
          pred = chains[name][-1].numpy()
        else:
          pred = chain_predictions(net, gop, frame, target, per_frame_out(net, frame)).numpy()
        c = metrics.confusion_matrix(gt, pred, k)
        conf[name][di] += c
        this_gop[name][di] += c
        if d == draw:
          taplab[name] += c
        if prediction_writer:
          prediction_writer(name, d, gop, pred, d == draw)
    for name in names:
      per_gop[name].append(this_gop[name])
    if tc_motion is not None:
      motions = [tc_motion(gop, t) for t in range(1, n_frames)]
      for name in names:
        preds = chains[name] if name in chains else whole_chain(nets[name])
        for t in range(1, n_frames):
          tc[name].add(preds[t - 1].numpy(), preds[t].numpy(), *motions[t - 1])
    count += 1
    if progress:
      progress()
  return {"confusion": conf, "per_gop": {n: np.stack(v) if v else np.zeros((0, len(distances), k, k), np.int64)
                                          for n, v in per_gop.items()}, "taplab": taplab, "distances": list(distances), "sequences": count,
          "taplab_draws": draws, "dataset": info,
          **({"tc_counts": {n: v.counts for n, v in tc.items()}} if tc_motion is not None else {})}

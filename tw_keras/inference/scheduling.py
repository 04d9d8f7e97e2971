"""Key-frame schedulers compared: mIoU against average cost per frame, each GOP record
streamed front to back through the deployed segmenter (`runner.StreamSegmenter`, batch norms
folded), every labelled frame scored."""

from typing import Dict, Iterable, Sequence

import numpy as np

from tw_keras.data import features
from tw_keras.evaluation import metrics
from tw_keras.inference import runner
from tw_keras.model import twnet


def evaluate_schedulers(net: twnet.TWNet, gops: Iterable[Dict], specs: Sequence[str],
                        key_cost: float = 1.0, non_key_cost: float = 1.0, tc_motion=None) -> Dict[str, object]:
  """mIoU against average cost per frame for each key-frame scheduler.

  Each GOP record is streamed front to back through a `runner.StreamSegmenter` (the deployed
  path: batch norms folded); every labelled frame is scored. Cost per frame = (per-frame CNN calls * key_cost + non-key-frame
  calls * non_key_cost) / frames; an adaptive re-computation pays both.

  `tc_motion` (as `protocol.evaluate`'s): temporal consistency of the streamed predictions,
  every consecutive pair of frames.

  Returns:
    {spec: {"miou", "category_miou", "temporal_consistency", "key_frame_rate",
            "cost_per_frame", "frames"}}.
  """
  gops = list(gops)
  out = {}
  first = None  # one segmenter (networks folded and compiled once), re-scheduled per spec
  for spec in specs:
    if first is None:
      # The residual in the graph: the records hold the compact inputs only (`dataset`).
      seg = first = runner.StreamSegmenter(net, spec, residual_on="graph")
    else:
      seg = first.with_scheduler(spec)
    k = net.config.num_classes
    conf = np.zeros((k, k), np.int64)
    tc = metrics.ConsistencyCounts(k)
    frames = keys = non_keys = 0
    for gop in gops:
      seg.reset()
      n = int(gop[features.CLIP_IMAGES].shape[0])
      types = [t.decode() for t in gop[features.CLIP_PICT_TYPES].numpy()]
      previous = None
      for t in range(n):
        pred, _ = seg(gop[features.CLIP_IMAGES][t].numpy(), gop[features.CLIP_MOTION_GRID][t].numpy(), types[t], t)
        if bool(gop[features.CLIP_HAS_LABEL][t]):
          conf += metrics.confusion_matrix(gop[features.CLIP_LABELS][t].numpy(), pred, k)
        if tc_motion is not None and previous is not None:
          tc.add(previous, pred, *tc_motion(gop, t))
        previous = pred
      frames += n
      keys += seg.key_frames
      non_keys += seg.non_key_frames
    s = metrics.summarize(conf, net.dataset)
    out[spec] = {"miou": s["miou"], "category_miou": s["category_miou"], "frames": frames,
                 "temporal_consistency": tc.value if tc_motion is not None else None,
                 "key_frame_rate": round(keys / max(frames, 1), 3),
                 "cost_per_frame": round((keys * key_cost + non_keys * non_key_cost) / max(frames, 1), 4)}
  return out

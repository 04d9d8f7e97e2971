"""The key-frame scheduler study: schedulers compared by mIoU against average cost per frame,
each GOP record streamed front to back through the deployed segmenter
(`runner.StreamSegmenter`, batch norms folded), every labelled frame scored.

`add_to_results` runs it after the evaluation job (`evaluation.job`) on the same records and
adds its table to that job's results; entry points call it (evaluation never imports
inference). The streaming segmenter runs on the codec's motion, so the study does too
(`applies`).
"""

import json
import os
from typing import Dict, Iterable, Sequence

import numpy as np

from tw_keras import fileio
from tw_keras.data import dataset, features
from tw_keras.evaluation import job, metrics, timing
from tw_keras.inference import runner
from tw_keras.model import model_dir as model_dir_lib
from tw_keras.model import models, twnet


def applies(flow: str) -> bool:
  """Whether the study can run beside an evaluation on `flow`: the segmenter streams the
  codec's own motion, so only with "codec"."""
  return flow == "codec"


def add_to_results(data_dir: str, model_dir: str, output_dir: str, specs: Sequence[str], variant: str,
                   split: str = "val", max_sequences: int = 0, flow: str = "codec", flow_root=None) -> Dict:
  """Runs the study of `specs` on `variant` of `model_dir` over the records the evaluation job
  scored, adds {"schedulers": {"variant", "cost_unit", "results"}} to its `results.json` and
  the table to its `results.md`; returns the updated report. Costs are GMACs at the records'
  padded size (`timing.count_flops`)."""
  if not applies(flow):
    raise ValueError(f"the schedulers run the streaming segmenter on the codec's motion, not {flow!r}: "
                     "give no schedulers (--schedulers=) with another flow source")
  results = os.path.join(output_dir, "results.json")
  with open(results) as f:
    rep = json.load(f)
  net = model_dir_lib.load(model_dir, variant)
  files = dataset.shard_files(data_dir, split)
  gops = dataset.gop_dataset(files)
  if max_sequences:
    gops = gops.take(max_sequences)
  first = next(iter(dataset.gop_dataset(files).take(1)))
  h, w = models.input_size(*first[features.CLIP_IMAGES].shape[1:3])
  shapes = lambda v: [x.shape for x in timing.random_inputs(net.config, v, h, w)]
  key_cost = timing.count_flops(net.per_frame, shapes(None)) / 2e9
  nk_cost = timing.count_flops(net.nkfc, shapes(net.variant)) / 2e9
  rep["schedulers"] = {"variant": variant, "cost_unit": f"GMACs at {w}x{h}",
                       "results": evaluate_schedulers(net, gops, specs, key_cost, nk_cost, job.tc_motion(flow_root)[0])}
  fileio.write_json(results, rep, indent=1)
  job.write_markdown(rep, output_dir)
  return rep


def evaluate_schedulers(net: twnet.TWNet, gops: Iterable[Dict], specs: Sequence[str],
                        key_cost: float = 1.0, non_key_cost: float = 1.0, tc_motion=None) -> Dict[str, object]:
  """mIoU against average cost per frame for each key-frame scheduler.

  Each GOP record is streamed front to back through a `runner.StreamSegmenter` (the deployed
  path: batch norms folded); every labelled frame is scored. Cost per frame = (per-frame CNN calls * key_cost + non-key-frame
  calls * non_key_cost) / frames; an adaptive re-computation pays both.

  `tc_motion` (as `distance_protocol.evaluate`'s): temporal consistency of the streamed predictions,
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
      seg = first = runner.StreamSegmenter(net, spec)
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

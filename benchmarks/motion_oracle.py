"""The Table 9 analogue, the oracle split and temporal consistency, from one model's evaluations
under each flow source (issue 21; docs/motion/README.md).

    for f in codec dis gt; do python -m experiments.evaluate --data_dir=D --model_dir=M --flow=$f \
        --output_dir=runs/oracle/$f --write_pngs=false; done
    python benchmarks/motion_oracle.py --eval_root=runs/oracle --data_dir=D --model_dir=M

Prints markdown:
  1. mIoU (mean over d = 0..11) of Layer1 warp-only, fine-tuned and CFR+RGA with each motion,
     and the streaming segmenter's FPS per source (GOP schedule, Layer1 warp, the val frames
     fed as a stream, this machine; DIS's time included, as Table 9 counts FlowNet's);
  2. the oracle split per variant: what better motion buys (exact - codec) and what is left
     to correction (per-frame - exact);
  3. temporal consistency of every variant (and scheduler) under each source.
"""

import json
import os
import sys
import time

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tw_keras import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("eval_root", "runs/oracle", "Holds codec/, dis/ and gt/ (experiments.evaluate --output_dir).")
flags.DEFINE_string("data_dir", None, "The records evaluated (the FPS run streams their val frames).")
flags.DEFINE_string("model_dir", "weights/benchmark", "The model evaluated.")
flags.DEFINE_string("fps_variant", "layer1_warp", "The variant whose FPS is measured per source.")
flags.DEFINE_integer("fps_gops", 4, "Val GOPs streamed per FPS measurement.")

SOURCES = ("codec", "dis", "gt")
ROWS = ("layer1_warp", "layer1_ft", "layer1_cfr", "layer1_cfr_rga", "layer2_warp", "layer2_cfr_rga", "clockwork",
        "warp_scores")


def stream_fps(model_dir, variant, data_dir, flow, gops):
  """Frames/s of the streaming segmenter (GOP schedule) on the first `gops` val GOPs."""
  from experiments.segment_video import build_segmenter  # pylint: disable=g-import-not-at-top
  from tw_keras.data import dataset, features  # pylint: disable=g-import-not-at-top
  seg = build_segmenter(model_dir, variant, "gop", flow=flow)
  clips = [(g[features.CLIP_IMAGES].numpy(), g[features.CLIP_MOTION_GRID].numpy())
           for g in dataset.gop_dataset(dataset.shard_files(data_dir, "val")).take(gops)]
  for timed in (False, True):  # the first pass traces
    seg.reset()
    n, t = 0, time.perf_counter()
    for images, grids in clips:
      for i, (rgb, grid) in enumerate(zip(images, grids)):
        seg(rgb, grid, "I" if i == 0 else "P", n)
        n += 1
  return n / (time.perf_counter() - t)


def main(_):
  reps = {}
  for f in SOURCES:
    path = os.path.join(FLAGS.eval_root, f, "results.json")
    with open(path) as fh:
      reps[f] = json.load(fh)
  miou = lambda f, v: reps[f]["variants"].get(v, {}).get("mean_miou_over_d")
  tc = lambda f, v: reps[f]["variants"].get(v, {}).get("temporal_consistency")
  per_frame = miou("codec", "per_frame")
  fps = {f: stream_fps(FLAGS.model_dir, FLAGS.fps_variant, FLAGS.data_dir, f, FLAGS.fps_gops)
         for f in ("codec", "dis")} if FLAGS.data_dir else {}
  rows = [v for v in ROWS if miou("codec", v) is not None]
  seq = reps["codec"]["sequences"]
  print(f"Model {FLAGS.model_dir}, {seq} val sequences; per-frame CNN {per_frame} mIoU.\n")
  print(f"1. mIoU (mean over d = 0..11) by motion; FPS of {FLAGS.fps_variant} streamed (GOP schedule):\n")
  layer1 = [v for v in ("layer1_warp", "layer1_ft", "layer1_cfr_rga") if v in rows]
  print("| motion | " + " | ".join(layer1) + " | FPS |\n|---|" + "---|" * (len(layer1) + 1))
  names = {"codec": "codec vectors (8x8 blocks)", "dis": "DIS optical flow", "gt": "exact flow (oracle)"}
  for f in SOURCES:
    rate = f"{fps[f]:.1f}" if f in fps else "n/a (read from disk)"
    print(f"| {names[f]} | " + " | ".join(str(miou(f, v)) for v in layer1) + f" | {rate} |")
  print("\n2. The oracle split: what exact motion buys, and what only correction can repair:\n")
  print("| variant | codec | DIS | exact | exact - codec (motion) | per-frame - exact (left to correction) |\n"
        "|---|---|---|---|---|---|")
  for v in rows:
    c, d, g = miou("codec", v), miou("dis", v), miou("gt", v)
    print(f"| {v} | {c} | {d} | {g} | {g - c:+.2f} | {per_frame - g:+.2f} |")
  print(f"\n3. Temporal consistency (%; {reps['codec']['tc_motion']}), by the motion the network warped with:\n")
  print("| variant | codec | DIS | exact |\n|---|---|---|---|")
  for v in ["per_frame"] + rows:
    print(f"| {v} | " + " | ".join(str(tc(f, v)) for f in SOURCES) + " |")
  sched = reps["codec"].get("schedulers")
  if sched:
    print(f"\nSchedulers ({sched['variant']}, codec motion): " + ", ".join(
        f"{s}: mIoU {r['miou']}, TC {r.get('temporal_consistency')}, key rate {r['key_frame_rate']}"
        for s, r in sched["results"].items()))


if __name__ == "__main__":
  cli.run(main)

r"""How good is each motion: end-point error of the codec's block vectors and of DIS optical
flow against the built-in benchmark's exact flow, on the pixels visible in both frames.

  python -m data_prep.build_tfrecords --dataset=synthetic --splits=val --synthetic_flow --output_dir=epe_data
  python benchmarks/motion_epe.py --data_dir=epe_data --output=docs/motion/epe_256x512.json

EPE(p) = |motion(p) - exact(p)| in pixels, where motion is the codec's 8x8-block vector of p's
block (quarter pixels, as the network gets it) or DIS's per-pixel flow (`flow_sources.DIS_PRESET`),
both previous -> current on the current frame's pixels. Every P-frame of every record is scored;
the breakdown is by class (the frame's label), by category, and by |exact motion|. Also: the
photometric error of warping the previous decoded frame by each motion (and by none), mean
|RGB difference| to the current frame on the same pixels, and DIS's time per frame (one run).
"""

import json
import os
import sys
import time

import cv2
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tw_keras import cli  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
BINS = (0, 0.5, 1, 2, 4, 8, 16, np.inf)  # |exact motion| in pixels


def define_flags():
  flags.DEFINE_string("data_dir", None, "Records of the benchmark rendered with --synthetic_flow.", required=True)
  flags.DEFINE_string("flow_root", None, "The benchmark's root (default DATA_DIR/synthetic_cityscapes).")
  flags.DEFINE_string("split", "val", "Split.")
  flags.DEFINE_string("output", None, "Optional JSON of the tables.")


class Tally:
  """Sums of EPE and pixel counts per key."""

  def __init__(self):
    self.sum, self.count = {}, {}

  def add(self, key, epe):
    self.sum[key] = self.sum.get(key, 0.0) + float(epe.sum())
    self.count[key] = self.count.get(key, 0) + int(epe.size)

  def mean(self):
    return {k: round(self.sum[k] / self.count[k], 3) for k in self.sum if self.count[k]}


def main(argv):
  del argv
  from tw_keras import dataset_info  # pylint: disable=g-import-not-at-top
  from tw_keras.data import dataset, features, flow_sources, synthetic  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import distance_protocol  # pylint: disable=g-import-not-at-top
  root = FLAGS.flow_root or synthetic.default_root(FLAGS.data_dir)
  info = dataset.dataset_info_of(FLAGS.data_dir)
  tallies = {s: {"all": Tally(), "class": Tally(), "category": Tally(), "motion": Tally()} for s in ("codec", "dis")}
  dis_seconds, frames, valid_share = 0.0, 0, []
  photometric = {s: Tally() for s in ("zero", "codec", "dis", "exact")}
  for gop in dataset.gop_dataset(dataset.shard_files(FLAGS.data_dir, FLAGS.split)):
    images = gop[features.CLIP_IMAGES].numpy()
    labels = gop[features.CLIP_LABELS].numpy()
    seq = gop[features.CLIP_SEQUENCE_ID].numpy().decode()
    for t in range(1, images.shape[0]):
      exact, valid = flow_sources.exact_flow(root, seq, int(gop[features.CLIP_FRAME_INDEX][t]))
      start = time.perf_counter()
      dis = flow_sources.dis_motion(images[t - 1], images[t])
      dis_seconds += time.perf_counter() - start
      frames += 1
      valid_share.append(valid.mean())
      magnitude = np.linalg.norm(exact, axis=-1)
      lab = labels[t]
      codec = distance_protocol.codec_motion(gop, t)[0]
      h, w = valid.shape
      gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
      for name, motion in (("zero", 0 * exact), ("codec", codec), ("dis", dis), ("exact", exact)):
        warped = cv2.remap(images[t - 1].astype(np.float32), gx - motion[..., 0], gy - motion[..., 1],
                           cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        photometric[name].add("all", np.abs(warped - images[t].astype(np.float32)).mean(-1)[valid])
      for name, motion in (("codec", codec), ("dis", dis)):
        epe = np.linalg.norm(motion - exact, axis=-1)
        tally = tallies[name]
        tally["all"].add("all", epe[valid])
        for c in np.unique(lab[valid]):
          if c == dataset_info.IGNORE_LABEL:
            continue
          m = valid & (lab == c)
          tally["class"].add(info.class_names[c], epe[m])
          tally["category"].add(info.classes[c].category, epe[m])
        for lo, hi in zip(BINS[:-1], BINS[1:]):
          m = valid & (magnitude >= lo) & (magnitude < hi)
          if m.any():
            tally["motion"].add(f"{lo:g}-{hi:g} px", epe[m])
  out = {s: {k: t.mean() for k, t in tally.items()} for s, tally in tallies.items()}
  out["frames"], out["valid_share"] = frames, round(float(np.mean(valid_share)), 3)
  out["warp_error"] = {name: t.mean()["all"] for name, t in photometric.items()}
  out["dis_ms_per_frame"] = round(1000 * dis_seconds / max(frames, 1), 2)
  h, w = gop[features.CLIP_IMAGES].shape[1:3]
  out["size"] = f"{w}x{h}"
  out["codec_cell"] = cell = int(gop[features.CLIP_MOTION_CELL])
  report = os.path.join(FLAGS.data_dir, features.BUILD_REPORT)
  out["codec_name"] = json.load(open(report)).get("codec", "mpeg4") if os.path.exists(report) else "mpeg4"
  print(f"{frames} P-frames at {w}x{h}; {100 * out['valid_share']:.1f}% of pixels visible in both frames; "
        f"DIS {out['dis_ms_per_frame']} ms/frame")
  print("warp error, mean |RGB| on visible pixels: " + ", ".join(f"{k} {v}" for k, v in out["warp_error"].items()))
  print(f"\n| EPE (px) | codec: {out['codec_name']} ({cell}x{cell} blocks) | DIS |\n|---|---|---|")
  for group in ("all", "category", "motion", "class"):
    for key in out["codec"][group]:
      print(f"| {group if group == 'all' else f'{group}: {key}'} | {out['codec'][group][key]} | "
            f"{out['dis'][group].get(key, '-')} |")
  if FLAGS.output:
    from tw_keras import fileio  # pylint: disable=g-import-not-at-top
    fileio.write_json(FLAGS.output, out)


if __name__ == "__main__":
  define_flags()
  cli.run(main)

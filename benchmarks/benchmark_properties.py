r"""Does the built-in benchmark measure up? Prints its three properties (issue: benchmark).

    # 1. motion statistics only (renders fresh snippets, or reads a rendered root):
    python benchmarks/benchmark_properties.py --synthetic_root=tw_data/synthetic_cityscapes
    # 1-3, with the study's models (docs/study_cpu.sh):
    python benchmarks/benchmark_properties.py --synthetic_root=W/data/synthetic_cityscapes \
        --data_dir=W/data --model_dir=W/model --no_context_dir=W/no_context

1. Motion statistics: every snippet is transcoded to the canonical stream (GOP 12, 17 fps)
   and decoded; over all 8x8 blocks of all P-frames, |motion| in per mille of the frame
   width: p50/p90/p99, and the fraction of zero-or-intra blocks. Real Cityscapes driving
   footage (measured in the benchmark issue): p50 0.7-1.0, p90 10.6-13.1, p99 21.5, zero
   0.41-0.45. Pass: p90 and p99 each within +-30% of that row.
2. Alignment matters (val split, key frame 11 frames before the scored frame):
   Layer1 warp-only >= 4 mIoU points below per-frame; Clockwork (cached, unwarped) >= 3
   points below Layer1 warp-only; Layer3 (pure warping) below Layer1 warp-only.
3. Context matters: the no-context model (`--deep_context=false`, same preset and steps)
   >= 10 mIoU points below the per-frame CNN. Also printed with --synthetic_root: what local
   colour alone scores, a lookup from each pixel's quantised RGB to the class most often seen
   with that colour in the train split, scored on the val split of --val_root.
"""

import glob
import os
import sys

from absl import flags


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("synthetic_root", None, "Rendered benchmark root (Cityscapes layout); default: render fresh.")
flags.DEFINE_string("split", "train", "Split whose snippets give the motion statistics.")
flags.DEFINE_integer("sequences", 24, "Snippets to render when --synthetic_root is not given.")
flags.DEFINE_string("size", "256x512", "HxW to render when --synthetic_root is not given.")
flags.DEFINE_string("data_dir", None, "Prepared TFRecords (for properties 2 and 3).")
flags.DEFINE_string("model_dir", None, "Trained per-frame + stage-2 model directory.")
flags.DEFINE_string("no_context_dir", None, "Trained no-context model directory.")
flags.DEFINE_integer("distance", 11, "Key-frame distance for property 2.")
flags.DEFINE_string("val_root", None, "Rendered root whose val split scores the colour baseline "
                    "(default --synthetic_root; the study: W/data_val24/synthetic_cityscapes).")
flags.DEFINE_string("output", None, "Also write the figures to this JSON file.")



def _snippet_frames():
  """Yields one list of [H, W, 3] RGB frames per snippet (or image paths, rendered root)."""
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  if FLAGS.synthetic_root:
    pattern = os.path.join(FLAGS.synthetic_root, "leftImg8bit_sequence", FLAGS.split, "*", "*_leftImg8bit.png")
    by_seq = {}
    for path in sorted(glob.glob(pattern)):
      by_seq.setdefault(os.path.basename(path).rsplit("_", 2)[0], []).append(path)
    if not by_seq:
      sys.exit(f"error: {FLAGS.synthetic_root}: no {FLAGS.split} frames in Cityscapes layout")
    yield from by_seq.values()
    return
  h, w = (int(v) for v in FLAGS.size.split("x"))
  config = synthetic.SyntheticConfig(height=h, width=w, sequences=((FLAGS.split, FLAGS.sequences),))
  for split, _, seq in synthetic.snippets(config):
    yield [rgb for rgb, _ in synthetic.render_snippet(config, split, seq)]


def _within(value, lo, hi, tolerance=0.3):
  return lo * (1 - tolerance) <= value <= hi * (1 + tolerance)


def model_scores():
  """{name: mIoU at --distance} for per_frame, layer1_warp, clockwork, layer3 (+ no_context)."""
  from tw_keras.data import dataset  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import distance_protocol, metrics  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  names = ["per_frame", "layer1_warp", "clockwork", "layer3"]
  nets = model_dir_lib.load_all(FLAGS.model_dir, names)
  files = dataset.shard_files(FLAGS.data_dir, "val")
  result = distance_protocol.evaluate(nets, dataset.gop_dataset(files), [FLAGS.distance])
  scores = {n: float(metrics.mean_iou(result["confusion"][n][0]) * 100) for n in names}
  if FLAGS.no_context_dir:
    no_context = model_dir_lib.load(FLAGS.no_context_dir, "per_frame")
    result = distance_protocol.evaluate({"per_frame": no_context}, dataset.gop_dataset(files), [FLAGS.distance])
    scores["no_context"] = float(metrics.mean_iou(result["confusion"]["per_frame"][0]) * 100)
  return scores


def main(argv):
  del argv
  out = {}
  from tw_keras.evaluation import baselines  # pylint: disable=g-import-not-at-top
  from tw_keras.video import motion_statistics as motion_lib  # pylint: disable=g-import-not-at-top
  real = motion_lib.REAL_FOOTAGE
  stats = motion_lib.motion_statistics(_snippet_frames())
  out["motion"] = stats
  ok1 = _within(stats["p90"], *real["p90"]) and _within(stats["p99"], *real["p99"])
  print(f"1. motion (per mille of width, {stats['snippets']} snippets, {stats['blocks']} P-frame blocks): "
        f"p50 {stats['p50']:.2f}  p90 {stats['p90']:.2f}  p99 {stats['p99']:.2f}  zero-or-intra "
        f"{stats['zero']:.3f}")
  print(f"   real footage: p50 0.7-1.0  p90 10.6-13.1  p99 21.5  zero 0.41-0.45 -> "
        f"p90 and p99 within +-30%: {'PASS' if ok1 else 'FAIL'}")
  if FLAGS.model_dir and FLAGS.data_dir:
    s = model_scores()
    out["miou_at_distance"] = {"distance": FLAGS.distance, **s}
    d = FLAGS.distance
    checks = [
        (f"per_frame - layer1_warp at d={d} >= 4", s["per_frame"] - s["layer1_warp"] >= 4),
        (f"layer1_warp - clockwork at d={d} >= 3", s["layer1_warp"] - s["clockwork"] >= 3),
        (f"layer3 < layer1_warp at d={d}", s["layer3"] < s["layer1_warp"]),
    ]
    print(f"2. alignment (mIoU at d={d}): " + "  ".join(f"{k} {v:.1f}" for k, v in s.items() if k != "no_context"))
    for text, ok in checks:
      print(f"   {text}: {'PASS' if ok else 'FAIL'}")
    if "no_context" in s:
      ok3 = s["per_frame"] - s["no_context"] >= 10
      print(f"3. context: per_frame {s['per_frame']:.1f}  no_context {s['no_context']:.1f} -> gap >= 10: "
            f"{'PASS' if ok3 else 'FAIL'}")
  if FLAGS.synthetic_root and not os.path.isdir(os.path.join(FLAGS.synthetic_root, "gtFine", "train")):
    print(f"3. local colour alone: skipped ({FLAGS.synthetic_root} has no labelled train split to fit it on)")
  elif FLAGS.synthetic_root:
    out["colour_baseline_miou"] = baselines.colour_baseline(FLAGS.synthetic_root, FLAGS.val_root or FLAGS.synthetic_root)
    print(f"3. local colour alone (quantised RGB -> most frequent train class), val mIoU: "
          f"{out['colour_baseline_miou']:.1f}")
  if FLAGS.output:
    from tw_keras import fileio  # pylint: disable=g-import-not-at-top
    fileio.write_json(FLAGS.output, out)


if __name__ == "__main__":
  cli.run(main)

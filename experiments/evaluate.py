r"""Evaluation by key-frame distance: every variant in one harness (docs/CONVENTIONS.md protocol).

  python -m experiments.evaluate --data_dir=tw_data --model_dir=runs/cpu --output_dir=runs/cpu/eval

For each val GOP (frames 8..19) and d = 0..11, the key frame is 19 - d and the chain runs to
frame 19, which is scored. Writes to --output_dir:

  results.json            mIoU / category mIoU per d, mean over d, TapLab's seeded draw,
                          per-class and per-category IoU (pooled over d)
  results.md              the per-distance table
  miou_vs_distance.png    the plot
  labelids/gt/*_gtFine_labelIds.png and labelids/{variant}/*_leftImg8bit.png
                          official labelId PNGs of frame 19, predictions at TapLab's drawn d,
                          for the `cityscapesscripts` evaluator

Variants: `per_frame`, and every NKFC/baseline whose stage-2 weights exist in --model_dir;
variants with nothing to train (`*_warp`, `warp_scores`) are always evaluated.
"""

import os

from absl import flags

from tw_keras import cli

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("data_dir", None, "TFRecord shards.", required=True)
  flags.DEFINE_string("model_dir", None, "Trained model directory (experiments.train).", required=True)
  flags.DEFINE_string("output_dir", None, "Where results go (default MODEL_DIR/eval).")
  flags.DEFINE_string("split", "val", "Split to evaluate.")
  flags.DEFINE_list("variants", None, "Variants (default: per_frame + all available).")
  flags.DEFINE_list("distances", [str(d) for d in range(12)], "Key-frame distances.")
  flags.DEFINE_integer("max_sequences", 0, "Evaluate at most this many GOPs (0 = all).")
  flags.DEFINE_bool("write_pngs", True, "Write label PNGs of the scored frames (Cityscapes: labelIds for the official evaluator).")
  flags.DEFINE_list("schedulers", ["gop", "fixed:4", "adaptive:score=0.3", "every"],
                    "Key-frame schedulers to compare (mIoU against cost per frame); empty = skip.")
  flags.DEFINE_string("scheduler_variant", "layer1_cfr_rga", "Non-key-frame model used by the schedulers.")
  flags.DEFINE_enum("flow", "codec", ["codec", "dis", "gt"], "Non-key frames' motion: the codec's vectors, "
                    "OpenCV's DIS optical flow, or the built-in benchmark's exact flow (--flow_root). The schedulers "
                    "run on the codec's motion only, so another flow skips them.")
  flags.DEFINE_string("flow_root", None, "--flow=gt: the benchmark's root with its flow/ folder "
                      "(build_tfrecords --dataset=synthetic --synthetic_flow; default DATA_DIR/synthetic_cityscapes).")


def main(argv):
  del argv
  out = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "eval")
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  model_dir_lib.load_model_config(FLAGS.model_dir)  # a model directory, before anything is made in it
  fileio.check_output_dir(out, "results directory")  # before any work
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import comparisons, job, report  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import scheduler_study  # pylint: disable=g-import-not-at-top
  flow_root = FLAGS.flow_root or synthetic.default_root(FLAGS.data_dir)
  rep = job.evaluate_model_dir(FLAGS.data_dir, FLAGS.model_dir, out, FLAGS.split, FLAGS.variants,
                               [int(d) for d in FLAGS.distances], FLAGS.max_sequences, FLAGS.write_pngs,
                               flow=FLAGS.flow, flow_root=flow_root)
  variants = FLAGS.variants or rep["variants"]
  if FLAGS.schedulers and scheduler_study.applies(FLAGS.flow) and FLAGS.scheduler_variant in variants:
    rep = scheduler_study.add_to_results(FLAGS.data_dir, FLAGS.model_dir, out, FLAGS.schedulers,
                                         FLAGS.scheduler_variant, FLAGS.split, FLAGS.max_sequences, FLAGS.flow,
                                         flow_root)
  print(report.markdown_table(rep))
  if rep.get("comparisons", {}).get("differences"):
    print("\n" + comparisons.markdown(rep["comparisons"]))
  if "schedulers" in rep:
    print("\n" + report.scheduler_table(rep["schedulers"]["results"], rep["schedulers"]["cost_unit"]))
  print("\ncategory mIoU (pooled over d): " + ", ".join(
      f"{n}={v['pooled_over_d']['category_miou']}" for n, v in rep["variants"].items()))
  print(f"\nresults: {out}/results.json, {out}/results.md, plot: {out}/miou_vs_distance.png")


if __name__ == "__main__":
  define_flags()
  cli.run(main)

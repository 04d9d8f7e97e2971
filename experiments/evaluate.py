r"""Evaluation by key-frame distance: every variant in one harness (REFERENCE.md protocol).

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
import time

from absl import flags

import tqdm

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
  flags.DEFINE_bool("write_pngs", True, "Write labelId PNGs for the official evaluator.")
  flags.DEFINE_list("schedulers", ["gop", "fixed:4", "adaptive:score=0.3", "every"],
                    "Key-frame schedulers to compare (mIoU against cost per frame); empty = skip.")
  flags.DEFINE_string("scheduler_variant", "layer1_cfr_rga", "Non-key-frame model used by the schedulers.")


def available_variants(model_dir):
  from tw_keras import config as config_lib, train_lib  # pylint: disable=g-import-not-at-top
  names = ["per_frame"]
  for name, v in config_lib.VARIANTS.items():
    if v.kind == "per_frame":
      continue
    trained = os.path.exists(os.path.join(model_dir, "stage2", name, train_lib.STAGE2_WEIGHTS))
    if trained or not v.trainable:
      names.append(name)
  return names


def run_evaluation(data_dir, model_dir, output_dir, split="val", variants=None, distances=range(12),
                   max_sequences=0, write_pngs=True, quiet=False, schedulers=(),
                   scheduler_variant="layer1_cfr_rga"):
  """Library entry (also used by the demo). Returns the report dictionary."""
  from tw_keras import dataset, evaluation, train_lib  # pylint: disable=g-import-not-at-top
  variants = variants or available_variants(model_dir)
  _, per_frame, nkfcs = train_lib.load_trained(model_dir, variants)
  files = dataset.shard_files(data_dir, split)
  gops = dataset.gop_dataset(files)
  if max_sequences:
    gops = gops.take(max_sequences)
  os.makedirs(output_dir, exist_ok=True)
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  final_png_dir = os.path.join(output_dir, "labelids")
  written = set()
  png_dir = fileio.temporary_name(final_png_dir)

  def writer(name, d, gop, pred, drawn):
    if not drawn:
      return
    stem = evaluation.label_png_name(gop, -1)
    evaluation.write_label_png(os.path.join(png_dir, name), stem, pred, "_leftImg8bit.png")
    if stem not in written:
      evaluation.write_label_png(os.path.join(png_dir, "gt"), stem, gop["labels"][-1].numpy(),
                                 "_gtFine_labelIds.png")
      written.add(stem)

  t = time.time()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # Label PNGs go to a temporary directory that replaces `labelids/` only when all is done.
  with fileio.atomic_path(final_png_dir) as tmp_png_dir:
    assert tmp_png_dir == png_dir
    try:
      with tqdm.tqdm(desc="evaluate", unit="seq", disable=quiet or None) as bar:
        result = evaluation.evaluate(per_frame, nkfcs, gops, list(distances),
                                     prediction_writer=writer if write_pngs else None,
                                     progress=lambda: bar.update(1))
    except tf.errors.OpError:
      dataset.raise_if_corrupt(files)  # names the bad shard
      raise
  rep = evaluation.report(result)
  rep["seconds"] = round(time.time() - t, 1)
  rep["model_dir"], rep["split"] = model_dir, split
  sched_md = ""
  if schedulers and scheduler_variant in nkfcs:
    from tw_keras import config as config_lib, models  # pylint: disable=g-import-not-at-top
    first = next(iter(dataset.gop_dataset(files).take(1)))
    h, w = first["images"].shape[1:3]
    h, w = -(-h // 32) * 32, -(-w // 32) * 32
    variant = config_lib.VARIANTS[scheduler_variant]
    model_config = train_lib.load_model_config(model_dir)
    from tw_keras import timing  # pylint: disable=g-import-not-at-top
    shapes = lambda v: [x.shape for x in timing.random_inputs(model_config, v, h, w)]
    key_cost = models.count_flops(per_frame, shapes(None)) / 2e9
    nk_cost = models.count_flops(nkfcs[scheduler_variant], shapes(variant)) / 2e9
    rep["schedulers"] = {"variant": scheduler_variant, "cost_unit": f"GMACs at {w}x{h}",
                         "results": evaluation.evaluate_schedulers(per_frame, nkfcs[scheduler_variant], variant,
                                                                   gops, schedulers, key_cost, nk_cost)}
    sched_md = (f"\n\nKey-frame schedulers ({scheduler_variant} on non-key frames):\n\n" +
                evaluation.scheduler_table(rep["schedulers"]["results"], rep["schedulers"]["cost_unit"]))
  fileio.write_json(os.path.join(output_dir, "results.json"), rep, indent=1)
  table = evaluation.markdown_table(rep)
  fileio.write_text(os.path.join(output_dir, "results.md"),
                    f"mIoU (%) by key-frame distance, {rep['sequences']} sequences of {split}\n\n{table}{sched_md}\n")
  evaluation.plot(rep, os.path.join(output_dir, "miou_vs_distance.png"))
  return rep


def main(argv):
  del argv
  out = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "eval")
  rep = run_evaluation(FLAGS.data_dir, FLAGS.model_dir, out, FLAGS.split, FLAGS.variants,
                       [int(d) for d in FLAGS.distances], FLAGS.max_sequences, FLAGS.write_pngs,
                       schedulers=FLAGS.schedulers, scheduler_variant=FLAGS.scheduler_variant)
  from tw_keras import evaluation  # pylint: disable=g-import-not-at-top
  print(evaluation.markdown_table(rep))
  if "schedulers" in rep:
    print("\n" + evaluation.scheduler_table(rep["schedulers"]["results"], rep["schedulers"]["cost_unit"]))
  print("\ncategory mIoU (pooled over d): " + ", ".join(
      f"{n}={v['pooled_over_d']['category_miou']}" for n, v in rep["variants"].items()))
  print(f"\nresults: {out}/results.json, {out}/results.md, plot: {out}/miou_vs_distance.png")


if __name__ == "__main__":
  define_flags()
  cli.run(main)

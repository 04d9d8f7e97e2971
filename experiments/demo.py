r"""The one-command demo on the built-in synthetic benchmark (the README's main job).

  python -m experiments.demo --output_dir=runs/demo

Steps, each timed:
  1. render the synthetic, labelled, Cityscapes-layout benchmark;
  2. prepare sharded TFRecords (canonical MPEG-4 GOPs, motion vectors, residuals);
  3. train stage 1 (per-frame CNN) and stage 2 (non-key-frame variants), small preset;
  4. evaluate every variant by key-frame distance, and the key-frame schedulers;
  5. segment a held-out synthetic video (H.264 with B-frames, like a user's file);
  6. export the SavedModel for TF Serving and check it against the in-memory model.
These six are a *smoke run*: a tiny model trained for minutes proves that the pipeline runs on
this machine, and its table is noise. Then, with the released weights (`weights/benchmark`,
trained once with the study's recipe, README "Released weights"):
  7. evaluate them on the benchmark's val split at 256x512, and segment the held-out video
     at 256x512 with them.
Rerunning resumes: finished shards and checkpoints are reused.
"""

import os
import time

from absl import flags

from tw_keras import cli


FLAGS = flags.FLAGS
RELEASED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "benchmark")
SMOKE_NOTE = ("Smoke run: a tiny model trained for minutes at low resolution. It proves that the pipeline "
              "runs on this machine; its numbers are noise (an under-trained model, 8 val snippets), not a "
              "result -- the per-frame row can come out below the warped ones.")


def define_flags():
  flags.DEFINE_string("output_dir", "runs/demo", "Where everything goes.")
  flags.DEFINE_string("preset", "tiny", "Training preset.")
  flags.DEFINE_integer("height", 128, "Synthetic frame height.")
  flags.DEFINE_integer("width", 256, "Synthetic frame width.")
  flags.DEFINE_integer("train_sequences", 24, "Synthetic training snippets.")
  flags.DEFINE_integer("val_sequences", 8, "Synthetic validation snippets.")
  flags.DEFINE_list("variants", ["layer1_cfr_rga", "clockwork"],
                    "Stage-2 variants of the smoke run (the untrained baselines are evaluated too; the "
                    "released weights of step 7 hold every row).")
  flags.DEFINE_integer("seed", 0, "Seed for data and training.")
  flags.DEFINE_integer("stage1_steps", 1000, "Stage-1 steps of the smoke run (the preset's own: 0). Half the "
                       "tiny preset's 2000 keeps the demo within 10 minutes on 2 cores with step 7.")
  flags.DEFINE_integer("workers", os.cpu_count() or 1, "Data preparation processes.")
  flags.DEFINE_string("released", RELEASED, "Released weights to evaluate after the smoke run; empty: skip.")


def _write_heldout_video(path, height, width, seed):
  """A held-out synthetic snippet ('test' split), written as H.264 with B-frames."""
  from tw_keras.video import writer  # pylint: disable=g-import-not-at-top
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  config = synthetic.SyntheticConfig(height=height, width=width, seed=seed)
  writer = writer.VideoWriter(path, 17, width, height, b_frames=2)
  for rgb, _ in synthetic.render_snippet(config, "test", 0):
    writer.write(rgb)
  writer.close()


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.data import build  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job, report as report_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import export, runner, scheduler_study, segment  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.model import models  # pylint: disable=g-import-not-at-top
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top

  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  out = os.path.abspath(FLAGS.output_dir)
  fileio.check_output_dir(out, "demo output directory")  # before any work
  data_dir = os.path.join(out, "data")
  model_dir = os.path.join(out, "model")
  times = {}
  t0 = time.time()

  def step(name):
    times[name] = round(time.time() - t0 - sum(times.values()), 1)
    print(f"[demo] {name}: {times[name]} s", flush=True)

  report = build.build(build.BuildConfig(
      dataset="synthetic", output_dir=data_dir, workers=FLAGS.workers, synthetic_height=FLAGS.height,
      synthetic_width=FLAGS.width, synthetic_train=FLAGS.train_sequences, synthetic_val=FLAGS.val_sequences,
      seed=FLAGS.seed))
  times["1+2. render synthetic benchmark + prepare TFRecords"] = round(time.time() - t0, 1)
  print(f"[demo] render {report.get('synthetic_render_seconds')} s, TFRecords "
        f"{sum(s['seconds'] for s in report['splits'].values()):.1f} s", flush=True)

  preset = config_lib.TRAIN_PRESETS[FLAGS.preset]
  stages.train_stage1(preset.model, preset, data_dir, model_dir, seed=FLAGS.seed, steps=FLAGS.stage1_steps or None)
  for name in FLAGS.variants:
    stages.train_stage2(name, preset, data_dir, model_dir, seed=FLAGS.seed)
  step("3. train stage 1 + stage 2")

  eval_dir = os.path.join(out, "eval")
  job.evaluate_model_dir(data_dir, model_dir, eval_dir)
  rep = scheduler_study.add_to_results(data_dir, model_dir, eval_dir, ["gop", "fixed:4", "adaptive:score=0.3", "every"],
                                       "layer1_cfr_rga")
  step("4. evaluate by key-frame distance")

  heldout = os.path.join(out, "heldout_input.mp4")
  _write_heldout_video(heldout, FLAGS.height, FLAGS.width, FLAGS.seed)
  net = model_dir_lib.load(model_dir, "layer1_cfr_rga")
  overlay = os.path.join(out, "heldout_segmented.mp4")
  stats = segment.segment_video(heldout, runner.StreamSegmenter(net, "gop"), overlay)
  step("5. segment held-out video")

  saved = export.export(net, os.path.join(out, "saved_model", "1"))
  loaded = tf.saved_model.load(saved)
  probe = tf.constant(np.random.default_rng(0).integers(0, 255, (1, FLAGS.height, FLAGS.width, 3)), tf.uint8)
  served = loaded.signatures["key_frame"](image=probe)[models.PRED_LOGITS].numpy()
  local = net.per_frame(tf.cast(probe, tf.float32), training=False)[models.PRED_LOGITS].numpy()
  step("6. export SavedModel")

  released = None
  if FLAGS.released and FLAGS.released == RELEASED and not os.path.exists(os.path.join(RELEASED, "manifest.json")):
    print(f"[demo] no released weights in {RELEASED} (see README, \"Released weights\"): step 7 skipped", flush=True)
  elif FLAGS.released:
    released = _released(FLAGS.released, out, FLAGS.workers, FLAGS.seed)
  if released:
    step("7. released weights: evaluate + segment at 256x512")

  print("\n" + SMOKE_NOTE + "\n\n" + report_lib.markdown_table(rep))
  if "schedulers" in rep:
    print("\n" + report_lib.scheduler_table(rep["schedulers"]["results"], rep["schedulers"]["cost_unit"]))
  print(f"\nheld-out video: {stats.line()}")
  print(f"SavedModel check: max |served - in-memory| logits = {np.abs(served - local).max():.2e}")
  if released:
    rel_rep, rel_dir, rel_stats, rel_overlay = released
    print(f"\nReleased models ({FLAGS.released}, the study's recipe; manifest.json says how they were made) on "
          f"the benchmark's {rel_rep['sequences']} val snippets at 256x512:\n\n" + report_lib.markdown_table(rel_rep))
    print(f"\nheld-out video at 256x512, released {rel_stats[0]}: {rel_stats[1].line()}")
  print("\nstep times (s): " + "; ".join(f"{k} {v}" for k, v in times.items()) + f"; total {time.time() - t0:.1f}")
  print(f"\nresults table: {eval_dir}/results.md (JSON: results.json)\nplot:          {eval_dir}/miou_vs_distance.png"
        f"\noverlay video: {overlay}\nSavedModel:    {saved}\nTensorBoard:   tensorboard --logdir {model_dir}")
  if released:
    print(f"released:      {rel_dir}/results.md, {rel_dir}/miou_vs_distance.png, overlay {rel_overlay}")


def _released(weights, out, workers, seed, height=256, width=512):
  """Step 7: the released models on the val split at their resolution, and the held-out video
  segmented by them. Returns (report, eval dir, (variant, stats), overlay path)."""
  from tw_keras.data import build  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import runner, segment  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  data = os.path.join(out, "released_data")
  build.build(build.BuildConfig(dataset="synthetic", output_dir=data, splits=("val",), workers=workers,
                                synthetic_height=height, synthetic_width=width, seed=seed), log=lambda line: None)
  eval_dir = os.path.join(out, "released_eval")
  variants = model_dir_lib.available_variants(weights)
  rep = job.evaluate_model_dir(data, weights, eval_dir, variants=variants, write_pngs=False)
  name = next(v for v in ("layer1_cfr_rga", "layer1_warp") if v in variants)
  heldout = os.path.join(out, "heldout_input_256x512.mp4")
  _write_heldout_video(heldout, height, width, seed)
  overlay = os.path.join(out, "heldout_segmented_released.mp4")
  stats = segment.segment_video(heldout, runner.StreamSegmenter(model_dir_lib.load(weights, name), "gop"), overlay)
  return rep, eval_dir, (name, stats), overlay


if __name__ == "__main__":
  define_flags()
  cli.run(main)

"""The one-command demo on the built-in synthetic benchmark (the README's main job), as a
library call: `run(DemoConfig(...))` chains every folder of the library, so `jobs/` sits
right of all of them (it imports from every folder; none imports it).

Steps, each timed:
  1. render the synthetic, labelled, Cityscapes-layout benchmark;
  2. prepare sharded TFRecords (canonical MPEG-4 GOPs, motion vectors, residuals);
  3. train stage 1 (per-frame CNN) and stage 2 (non-key-frame variants), small preset;
  4. evaluate every variant by key-frame distance, and the key-frame schedulers;
  5. segment a held-out synthetic video (H.264 with B-frames, like a user's file);
  6. export the SavedModel for TF Serving and check it against the in-memory model.
These six are a *smoke run*: a tiny model trained for minutes proves that the pipeline runs on
this machine, and its table is noise. Then, with released weights (`weights/benchmark`,
trained once with the study's recipe, README "Released weights"):
  7. evaluate them on the benchmark's val split at 256x512, and segment the held-out video
     at 256x512 with them.
Rerunning resumes: finished shards and checkpoints are reused.
"""

import dataclasses
import os
import time
from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf

from tw_keras import config as config_lib, fileio
from tw_keras.data import build, synthetic
from tw_keras.evaluation import job, report as report_lib
from tw_keras.inference import export, runner, scheduler_study, segment
from tw_keras.model import model_dir as model_dir_lib
from tw_keras.model import models
from tw_keras.train import stages
from tw_keras.video import writer as writer_lib

SMOKE_NOTE = ("Smoke run: a tiny model trained for minutes at low resolution. It proves that the pipeline "
              "runs on this machine; its numbers are noise (an under-trained model, 8 val snippets), not a "
              "result -- the per-frame row can come out below the warped ones.")
SCHEDULERS = ("gop", "fixed:4", "adaptive:score=0.3", "every")


@dataclasses.dataclass(frozen=True)
class DemoConfig:
  """Attributes (the entry point's flags): output_dir; preset (training preset); height,
  width (the synthetic frames); train_sequences, val_sequences; variants (stage-2 variants of
  the smoke run); seed; stage1_steps (0: the preset's own); workers (data preparation
  processes); released (released weights for step 7; None: skip); skip_missing_release (a
  `released` without its manifest skips step 7 with a note, instead of failing)."""
  output_dir: str = "runs/demo"
  preset: str = "tiny"
  height: int = 128
  width: int = 256
  train_sequences: int = 24
  val_sequences: int = 8
  variants: Tuple[str, ...] = ("layer1_cfr_rga", "clockwork")
  seed: int = 0
  stage1_steps: int = 1000
  workers: int = os.cpu_count() or 1
  released: Optional[str] = None
  skip_missing_release: bool = True


def write_heldout_video(path, height, width, seed):
  """A held-out synthetic snippet ('test' split), written as H.264 with B-frames."""
  config = synthetic.SyntheticConfig(height=height, width=width, seed=seed)
  video = writer_lib.VideoWriter(path, 17, width, height, b_frames=2)
  for rgb, _ in synthetic.render_snippet(config, "test", 0):
    video.write(rgb)
  video.close()


def run(cfg: DemoConfig, log=print) -> Dict[str, object]:
  """Runs steps 1-7; returns what `summary` prints (reports, stats, paths, step times)."""
  out = os.path.abspath(cfg.output_dir)
  fileio.check_output_dir(out, "demo output directory")  # before any work
  data_dir, model_dir = os.path.join(out, "data"), os.path.join(out, "model")
  times = {}
  t0 = time.time()

  def step(name):
    times[name] = round(time.time() - t0 - sum(times.values()), 1)
    log(f"[demo] {name}: {times[name]} s")

  report = build.build(build.BuildConfig(
      dataset="synthetic", output_dir=data_dir, workers=cfg.workers, synthetic_height=cfg.height,
      synthetic_width=cfg.width, synthetic_train=cfg.train_sequences, synthetic_val=cfg.val_sequences,
      seed=cfg.seed))
  times["1+2. render synthetic benchmark + prepare TFRecords"] = round(time.time() - t0, 1)
  log(f"[demo] render {report.get('synthetic_render_seconds')} s, TFRecords "
      f"{sum(s['seconds'] for s in report['splits'].values()):.1f} s")

  preset = config_lib.TRAIN_PRESETS[cfg.preset]
  stages.train_stage1(preset.model, preset, data_dir, model_dir, seed=cfg.seed, steps=cfg.stage1_steps or None)
  for name in cfg.variants:
    stages.train_stage2(name, preset, data_dir, model_dir, seed=cfg.seed)
  step("3. train stage 1 + stage 2")

  eval_dir = os.path.join(out, "eval")
  job.evaluate_model_dir(data_dir, model_dir, eval_dir)
  rep = scheduler_study.add_to_results(data_dir, model_dir, eval_dir, list(SCHEDULERS), "layer1_cfr_rga")
  step("4. evaluate by key-frame distance")

  heldout = os.path.join(out, "heldout_input.mp4")
  write_heldout_video(heldout, cfg.height, cfg.width, cfg.seed)
  net = model_dir_lib.load(model_dir, "layer1_cfr_rga")
  overlay = os.path.join(out, "heldout_segmented.mp4")
  stats = segment.segment_video(heldout, runner.StreamSegmenter(net, "gop"), overlay)
  step("5. segment held-out video")

  saved = export.export(net, os.path.join(out, "saved_model", "1"))
  loaded = tf.saved_model.load(saved)
  probe = tf.constant(np.random.default_rng(0).integers(0, 255, (1, cfg.height, cfg.width, 3)), tf.uint8)
  served = loaded.signatures["key_frame"](image=probe)[models.PRED_LOGITS].numpy()
  local = net.per_frame(tf.cast(probe, tf.float32), training=False)[models.PRED_LOGITS].numpy()
  step("6. export SavedModel")

  released = None
  if cfg.released and cfg.skip_missing_release and not os.path.exists(os.path.join(cfg.released, "manifest.json")):
    log(f"[demo] no released weights in {cfg.released} (see README, \"Released weights\"): step 7 skipped")
  elif cfg.released:
    released = released_step(cfg.released, out, cfg.workers, cfg.seed)
    step("7. released weights: evaluate + segment at 256x512")
  return {"report": rep, "stats": stats, "serving_error": float(np.abs(served - local).max()), "released": released,
          "times": times, "seconds": time.time() - t0, "eval_dir": eval_dir, "overlay": overlay, "saved": saved,
          "model_dir": model_dir, "weights": cfg.released}


def released_step(weights, out, workers, seed, height=256, width=512):
  """Step 7: the released models on the val split at their resolution, and the held-out video
  segmented by them. Returns (report, eval dir, (variant, stats), overlay path)."""
  data = os.path.join(out, "released_data")
  build.build(build.BuildConfig(dataset="synthetic", output_dir=data, splits=("val",), workers=workers,
                                synthetic_height=height, synthetic_width=width, seed=seed), log=lambda line: None)
  eval_dir = os.path.join(out, "released_eval")
  variants = model_dir_lib.available_variants(weights)
  rep = job.evaluate_model_dir(data, weights, eval_dir, variants=variants, write_pngs=False)
  name = next(v for v in ("layer1_cfr_rga", "layer1_warp") if v in variants)
  heldout = os.path.join(out, "heldout_input_256x512.mp4")
  write_heldout_video(heldout, height, width, seed)
  overlay = os.path.join(out, "heldout_segmented_released.mp4")
  stats = segment.segment_video(heldout, runner.StreamSegmenter(model_dir_lib.load(weights, name), "gop"), overlay)
  return rep, eval_dir, (name, stats), overlay


def summary(result: Dict[str, object]) -> str:
  """What the demo prints at the end: the smoke run's tables, the held-out video, the
  SavedModel check, the released weights' table, the step times and where everything is."""
  rep = result["report"]
  lines = ["", SMOKE_NOTE, "", report_lib.markdown_table(rep)]
  if "schedulers" in rep:
    lines += ["", report_lib.scheduler_table(rep["schedulers"]["results"], rep["schedulers"]["cost_unit"])]
  lines += ["", f"held-out video: {result['stats'].line()}",
            f"SavedModel check: max |served - in-memory| logits = {result['serving_error']:.2e}"]
  released = result["released"]
  if released:
    rel_rep, rel_dir, rel_stats, rel_overlay = released
    lines += ["", f"Released models ({result['weights']}, the study's recipe; manifest.json says how they were made) "
                  f"on the benchmark's {rel_rep['sequences']} val snippets at 256x512:", "",
              report_lib.markdown_table(rel_rep), "",
              f"held-out video at 256x512, released {rel_stats[0]}: {rel_stats[1].line()}"]
  times = result["times"]
  lines += ["", "step times (s): " + "; ".join(f"{k} {v}" for k, v in times.items()) +
            f"; total {result['seconds']:.1f}", "",
            f"results table: {result['eval_dir']}/results.md (JSON: results.json)",
            f"plot:          {result['eval_dir']}/miou_vs_distance.png",
            f"overlay video: {result['overlay']}", f"SavedModel:    {result['saved']}",
            f"TensorBoard:   tensorboard --logdir {result['model_dir']}"]
  if released:
    lines.append(f"released:      {released[1]}/results.md, {released[1]}/miou_vs_distance.png, overlay {released[3]}")
  return "\n".join(lines)

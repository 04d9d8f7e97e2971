r"""TFRecord preparation throughput: the local pool against Beam's DirectRunner (and DaskRunner
on a running Dask scheduler, `--dask_scheduler`), and a
Cityscapes-scale estimate from measured per-frame costs.

  python benchmarks/prep_throughput.py --input_dir=tw_data/synthetic_cityscapes

1. Converts the same Cityscapes-layout tree (default: the default synthetic benchmark,
   rendered once into a temporary directory) with the local pool and with DirectRunner
   (multi-processing, the same number of workers), alternately, `--repeats` times each, and
   prints frames/s and the ratio (rendering excluded).
2. Prepares a textured 2048x1024 clip (`--full_frames` frames) on one worker and prints the
   seconds and bytes per frame at Cityscapes' size.
3. From those, a paper estimate of preparing Cityscapes' `leftImg8bit_sequence` (5000
   snippets of 30 frames; or the 12 GOP frames 8..19 per snippet the paper's protocol uses):
   frames, TB written, core-hours, and the workers that make it an 8-hour job.
"""

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tw_keras import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("input_dir", None, "Cityscapes-layout tree to convert (default: render the default benchmark).")
flags.DEFINE_integer("workers", os.cpu_count() or 1, "Worker processes for both drivers.")
flags.DEFINE_integer("repeats", 2, "Timed runs per driver (alternating).")
flags.DEFINE_integer("full_frames", 24, "Frames of the full-size clip for the per-frame cost.")
flags.DEFINE_string("full_size", "1024x2048", "HxW of that clip (Cityscapes' size).")
flags.DEFINE_string("dask_scheduler", None, "Also time Beam's DaskRunner on this Dask scheduler "
                    "(tcp://HOST:PORT), e.g. a `dask scheduler` with `--workers` one-thread `dask worker`s.")

CITYSCAPES_SNIPPETS = 2975 + 500 + 1525  # train + val + test sequences of leftImg8bit_sequence
NIGHT_HOURS = 8


def _build(args, out):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  t = time.perf_counter()
  r = subprocess.run([sys.executable, "-m", "data_prep.build_tfrecords", f"--output_dir={out}", *args],
                     cwd=ROOT, env=env, capture_output=True, text=True)
  if r.returncode:
    raise RuntimeError(r.stderr.strip().splitlines()[-1])
  return time.perf_counter() - t


def _frames(out):
  import json  # pylint: disable=g-import-not-at-top
  with open(os.path.join(out, "build_report.json")) as f:
    info = json.load(f)
  splits = info["splits"].values()
  return sum(s["frames"] for s in splits), sum(s["bytes"] for s in splits)


def main(_):
  work = tempfile.mkdtemp(prefix="tw_keras_prep_bench_")
  try:
    root = FLAGS.input_dir
    if not root:
      print("rendering the default benchmark once (not timed) ...", flush=True)
      _build(["--dataset=synthetic", f"--workers={FLAGS.workers}"], os.path.join(work, "render"))
      from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
      root = synthetic.default_root(os.path.join(work, "render"))
    common = ["--dataset=cityscapes", f"--input_dir={root}", f"--workers={FLAGS.workers}"]
    beam = ["--runner=DirectRunner",
            f"--beam_args=--direct_num_workers={FLAGS.workers} --direct_running_mode=multi_processing"]
    drivers = [("local pool", []), ("Beam DirectRunner", beam)]
    if FLAGS.dask_scheduler:
      drivers.append(("Beam DaskRunner", ["--runner=DaskRunner",
                                          f"--beam_args=--dask_client_address={FLAGS.dask_scheduler}"]))
    times = {name: [] for name, _ in drivers}
    frames = 0
    for r in range(FLAGS.repeats):
      for name, extra in drivers:
        out = os.path.join(work, f"out_{r}_{len(times[name])}_{name.split()[0]}")
        times[name].append(_build(common + extra, out))  # whole command: start-up included
        frames, _ = _frames(out)
        shutil.rmtree(out)
    print(f"\n{frames} frames, {FLAGS.workers} workers, best of {FLAGS.repeats} (whole command, TF start-up included):")
    print("| driver | seconds | frames/s |\n|---|---|---|")
    best = {k: min(v) for k, v in times.items()}
    for name, t in best.items():
      print(f"| {name} | {t:.1f} | {frames / t:.1f} |")
    for name in times:
      if name != "local pool":
        print(f"{name.split()[1]} / local pool throughput: {best['local pool'] / best[name]:.2f}x")

    # Per-frame cost at Cityscapes' size, one worker.
    from clips import make_clip  # pylint: disable=g-import-not-at-top  (benchmarks/clips.py)
    videos = os.path.join(work, "videos")
    os.makedirs(videos)
    fh, fw = map(int, FLAGS.full_size.split("x"))
    make_clip(os.path.join(videos, "clip.mp4"), fh, fw, FLAGS.full_frames)
    out = os.path.join(work, "full")
    seconds = _build(["--dataset=video", f"--input_dir={videos}", "--workers=1"], out)
    n, size = _frames(out)
    per_frame_s, per_frame_b = seconds / n, size / n
    print(f"\n{fw}x{fh} textured clip, {n} frames, 1 worker: {per_frame_s:.3f} s/frame "
          f"(whole command), {per_frame_b / 2**20:.2f} MiB/frame in TFRecords")
    print("\nCityscapes-scale estimate (leftImg8bit_sequence, 5000 snippets):")
    print("| frames prepared | frames | TB written | core-hours | workers for 8 h |\n|---|---|---|---|---|")
    for what, per_snippet in (("all 30 per snippet", 30), ("GOP frames 8..19 (the paper's protocol)", 12)):
      total = CITYSCAPES_SNIPPETS * per_snippet
      core_hours = total * per_frame_s / 3600
      print(f"| {what} | {total} | {total * per_frame_b / 1e12:.2f} | {core_hours:.1f} | "
            f"{math.ceil(core_hours / NIGHT_HOURS)} |")
  finally:
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  cli.run(main)

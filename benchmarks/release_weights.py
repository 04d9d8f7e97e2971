r"""Packs a trained model directory as released weights, with a manifest.

  python benchmarks/release_weights.py --model_dir=runs/release/model --data_dir=runs/release/data \
      --output_dir=weights/benchmark --command="bash docs/release_weights.sh runs/release"

Copies the ordinary model-directory files that inference needs (`model_config.json`,
`dataset.json`, `stage1/per_frame.weights.h5`, `stage2/{variant}/nkfc.weights.h5`; no
optimizer checkpoints, no TensorBoard logs) and writes `manifest.json`:

  command, commit      what made them (`--commit`, default this checkout's, "+dirty" if modified)
  scored_at            the checkout that scored them (the records' encoder is this one's)
  data                 the records they were trained and scored on
  files                sha256 of every file
  val_miou             mean mIoU over d = 0..11 of every variant on the val split
  val_temporal_consistency   TC (percent) of every variant there, on `temporal_consistency_motion`
  check                the same on the benchmark's first `--check_sequences` val snippets, rendered
                       from its seed once, here, and shipped as records in `check/` (their sha256 in
                       `check.records`): what tests/test_released_weights.py reproduces. The records,
                       not the seed: the rendered bytes depend on the CPU's SIMD level (NumPy's
                       float32 transcendental kernels), so a check rendered on each machine moved
                       by up to 0.14 mIoU between AVX2 and AVX-512 machines.

With --camvid_root (a per-frame CNN trained on SegNet's CamVid): `val` and `test` (mIoU,
per-class IoU, pixel accuracy), `selected` (the step chosen on val) and `check` (the mIoU on
--check_frames test frames, built from the user's own copy: CamVid is never shipped).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tw_keras import cli  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
MANIFEST = "manifest.json"


def define_flags():
  flags.DEFINE_string("model_dir", None, "The trained model directory.", required=True)
  flags.DEFINE_string("data_dir", None, "Its records (the val split is scored).", required=True)
  flags.DEFINE_string("output_dir", "weights/benchmark", "Where the released model directory goes.")
  flags.DEFINE_string("command", "", "The command that trained the model (recorded in the manifest).")
  flags.DEFINE_string("commit", None, "The commit that trained them (default: this checkout's).")
  flags.DEFINE_integer("check_sequences", 2, "Val GOPs the reproducibility test scores (the benchmark).")
  flags.DEFINE_string("per_frame_weights", None, "Release these per-frame CNN weights instead of the model "
                      "directory's last ones (e.g. MODEL_DIR/stage1/best_val.weights.h5: selected on val).")
  flags.DEFINE_string("camvid_root", None, "Records of SegNet's CamVid: score val and test, and check on the "
                      "first --check_frames test frames of this tree (instead of rendering the benchmark).")
  flags.DEFINE_integer("check_frames", 8, "CamVid test frames the reproducibility test scores.")
  flags.DEFINE_string("trained_on", "", "What the weights were trained on, and their licence (the manifest).")


def sha256(path):
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def commit():
  here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  run = lambda *a: subprocess.run(["git", *a], cwd=here, capture_output=True, text=True).stdout.strip()
  return run("rev-parse", "HEAD") + ("+dirty" if run("status", "--porcelain", "--untracked-files=no") else "")


def main(argv):
  del argv
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  src, out = FLAGS.model_dir, FLAGS.output_dir
  model_dir_lib.load_model_config(src)  # a model directory, before anything is written
  fileio.check_output_dir(out, "release directory")
  variants = model_dir_lib.available_variants(src)
  files = [model_dir_lib.MODEL_CONFIG, "dataset.json",
           os.path.relpath(model_dir_lib.per_frame_weights(src), src)]
  files += [os.path.relpath(model_dir_lib.nkfc_weights(src, v), src) for v in variants
            if os.path.exists(model_dir_lib.nkfc_weights(src, v))]
  origin = {rel: os.path.join(src, rel) for rel in files}
  if FLAGS.per_frame_weights:
    origin[files[2]] = FLAGS.per_frame_weights
  for rel in files:
    if not os.path.exists(origin[rel]):
      raise FileNotFoundError(f"{origin[rel]}: missing from the model directory")
    os.makedirs(os.path.dirname(os.path.join(out, rel)) or out, exist_ok=True)
    with fileio.atomic_path(os.path.join(out, rel)) as tmp:
      shutil.copyfile(origin[rel], tmp)
  scratch = os.path.join(src, "release_eval")
  if FLAGS.camvid_root:
    return release_camvid(src, out, files, scratch)
  full = job.evaluate_model_dir(FLAGS.data_dir, out, os.path.join(scratch, "val"), variants=variants,
                                write_pngs=False, quiet=True,
                                flow_root=synthetic.default_root(FLAGS.data_dir))
  check_data, check_records = benchmark_check_records(out, FLAGS.check_sequences, scratch)
  check = job.evaluate_model_dir(check_data, out, os.path.join(scratch, "check"), variants=variants,
                                 write_pngs=False, quiet=True)
  from tw_keras.data import dataset  # pylint: disable=g-import-not-at-top
  manifest = {
      "command": FLAGS.command, "commit": FLAGS.commit or commit(), "scored_at": commit(),
      "data": {"dataset": dataset.dataset_info_of(FLAGS.data_dir).name, "val_sequences": full["sequences"],
               "render": "python -m data_prep.build_tfrecords --dataset=synthetic (256x512, seed 0)"},
      "files": {rel: sha256(os.path.join(out, rel)) for rel in files},
      "val_miou": {v: full["variants"][v]["mean_miou_over_d"] for v in variants},
      "val_temporal_consistency": {v: full["variants"][v]["temporal_consistency"] for v in variants},
      "temporal_consistency_motion": full["tc_motion"],
      "check": {"val_sequences": check["sequences"], "records": check_records,
                "miou": {v: check["variants"][v]["mean_miou_over_d"] for v in variants}},
  }
  fileio.write_json(os.path.join(out, MANIFEST), manifest)
  size = sum(os.path.getsize(os.path.join(out, rel)) for rel in files)
  print(json.dumps(manifest["val_miou"], indent=1))
  print(f"{len(files)} files, {size / 2**20:.2f} MiB, manifest: {os.path.join(out, MANIFEST)}")


CHECK_DIR = "check"


def benchmark_check_records(out, sequences, scratch):
  """The check set, rendered once from the benchmark's seed into `out/check/` (the records and
  their descriptor). Returns (its directory, {file: sha256})."""
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  from tw_keras.data import build, dataset  # pylint: disable=g-import-not-at-top
  rendered = os.path.join(scratch, "check_data")
  shutil.rmtree(rendered, ignore_errors=True)  # rendered and encoded by this checkout, never resumed
  build.build(build.BuildConfig(dataset="synthetic", output_dir=rendered, splits=("val",), synthetic_val=sequences),
              log=lambda line: None)
  check_dir = os.path.join(out, CHECK_DIR)
  shutil.rmtree(check_dir, ignore_errors=True)
  os.makedirs(check_dir)
  for path in dataset.shard_files(rendered, "val") + [os.path.join(rendered, "dataset.json")]:
    with fileio.atomic_path(os.path.join(check_dir, os.path.basename(path))) as tmp:
      shutil.copyfile(path, tmp)
  return check_dir, {n: sha256(os.path.join(check_dir, n)) for n in sorted(os.listdir(check_dir))}


def release_camvid(src, out, files, scratch):
  """The manifest of a per-frame CNN trained on SegNet's CamVid: its selection on val, its
  score on the 233 test frames (mIoU, per-class IoU, pixel accuracy), and the check set: the
  first --check_frames test frames, built from --camvid_root as the test builds them."""
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.train import loop  # pylint: disable=g-import-not-at-top
  scores = {}
  for split in ("val", "test"):
    rep = job.evaluate_model_dir(FLAGS.data_dir, out, os.path.join(scratch, split), split=split, variants=["per_frame"],
                                 distances=[0], write_pngs=False, quiet=True)
    pooled = rep["variants"]["per_frame"]["pooled_over_d"]
    scores[split] = {"frames": rep["sequences"], "miou": pooled["miou"],
                     "miou_ci95": rep["variants"]["per_frame"]["mean_miou_over_d_ci95"],
                     "pixel_accuracy": pooled["pixel_accuracy"],
                     "class_iou": pooled["class_iou"], "category_iou": pooled["category_iou"]}
  check = camvid_check(out, FLAGS.camvid_root, FLAGS.check_frames, os.path.join(scratch, "check"))
  manifest = {
      "command": FLAGS.command, "commit": FLAGS.commit or commit(), "scored_at": commit(),
      "trained_on": FLAGS.trained_on,
      "data": {"dataset": "camvid", "records": "python -m data_prep.build_tfrecords --dataset=camvid "
                                               "--input_dir=CAMVID --splits=train,val,test --output_dir=DATA"},
      "selected": loop.read_best(FLAGS.per_frame_weights) if FLAGS.per_frame_weights else None,
      "files": {rel: sha256(os.path.join(out, rel)) for rel in files},
      "val": scores["val"], "test": scores["test"], "check": check,
  }
  fileio.write_json(os.path.join(out, MANIFEST), manifest)
  size = sum(os.path.getsize(os.path.join(out, rel)) for rel in files)
  print(json.dumps({k: {"miou": v["miou"], "pixel_accuracy": v["pixel_accuracy"]} for k, v in scores.items()}))
  print(f"check: {check}")
  print(f"{len(files)} files, {size / 2**20:.2f} MiB, manifest: {os.path.join(out, MANIFEST)}")


def camvid_check(model_dir, camvid_root, count, work_dir):
  """{"test_frames", "names", "miou"}: the per-frame mIoU of `model_dir` on the first `count`
  test frames of SegNet's CamVid at `camvid_root`, through the whole path (records, then the
  evaluation job). tests/test_released_camvid.py runs the same."""
  from tw_keras.data import build, layouts  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  shutil.rmtree(work_dir, ignore_errors=True)
  names = layouts.camvid_subset(camvid_root, "test", count, os.path.join(work_dir, "camvid"))
  build.build(build.BuildConfig(dataset="camvid", input_dir=os.path.join(work_dir, "camvid"),
                                output_dir=os.path.join(work_dir, "data"), splits=("test",), workers=1),
              log=lambda line: None)
  rep = job.evaluate_model_dir(os.path.join(work_dir, "data"), model_dir, os.path.join(work_dir, "eval"), split="test",
                               variants=["per_frame"], distances=[0], write_pngs=False, quiet=True)
  return {"test_frames": count, "names": names, "miou": rep["variants"]["per_frame"]["pooled_over_d"]["miou"]}


if __name__ == "__main__":
  define_flags()
  cli.run(main)

r"""Adds the stage-2 variants trained on CamVid to the CamVid release (weights/camvid).

  python benchmarks/release_camvid_stage2.py --model_dir=runs/camvid_stage2/model \
      --eval_dir=runs/camvid_stage2/eval --camvid_root=../shared/camvid --release_dir=weights/camvid

What it does, in order:
1. checks that the stage-2 model directory's frozen per-frame CNN is the release's (sha256);
2. copies each trained variant's `stage2/{variant}/nkfc.weights.h5` and `motion.json`;
3. re-scores the per-frame CNN on val, test and its check frames as the segmenter runs it
   (frames edge-padded to a multiple of 32; the first release scored unpadded 480x360
   frames, which no deployed path runs) and keeps the earlier numbers beside the new ones;
4. writes the Table 10-11 analogue (the evaluation job's results on the 15 Hz val run, with
   the paired intervals of `evaluation.comparisons`) into the manifest's `stage2`;
5. writes `default_variant.json` (what `segment_video --checkpoint=weights/camvid` runs);
6. scores the stage-2 check: `--check_variant` on the first `--check_frames` frames of the
   val run (a video: 2 GOPs of 12), built from --camvid_root as tests/test_released_camvid.py
   builds them.
"""

import json
import os
import shutil
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tw_keras import fileio  # pylint: disable=wrong-import-position
from release_weights import camvid_check, commit, sha256  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
MANIFEST = "manifest.json"


def define_flags():
  flags.DEFINE_string("model_dir", None, "The stage-2 model directory (a copy of the release's stage 1).", required=True)
  flags.DEFINE_string("eval_dir", None, "Its evaluation on the val run (experiments.evaluate output).", required=True)
  flags.DEFINE_string("data_dir", "runs/camvid_records", "The CamVid records (val and test) the per-frame CNN is "
                      "re-scored on.")
  flags.DEFINE_string("camvid_root", "../shared/camvid", "SegNet's CamVid (the check sets).")
  flags.DEFINE_string("release_dir", "weights/camvid", "The release to extend.")
  flags.DEFINE_string("default_variant", "layer1_cfr_rga", "What segment_video runs by default.")
  flags.DEFINE_string("default_why", "the paper's best row", "Why (recorded).")
  flags.DEFINE_string("check_variant", "layer1_cfr_rga", "The variant the reproduction test rescores.")
  flags.DEFINE_integer("check_frames", 13, "First frames of the val run in the stage-2 check (13 = 2 GOPs).")
  flags.DEFINE_string("command", "bash docs/camvid_stage2.sh", "The command that trained and scored them.")
  flags.DEFINE_string("recipe", "", "The stage-2 recipe in words (recorded).")


def per_frame_scores(release_dir, data_dir, scratch):
  """{val, test}: the per-frame CNN at d = 0, as the evaluation job (and the segmenter) run it."""
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  out = {}
  for split in ("val", "test"):
    rep = job.evaluate_model_dir(data_dir, release_dir, os.path.join(scratch, split), split=split,
                                 variants=["per_frame"], distances=[0], write_pngs=False, quiet=True)
    v = rep["variants"]["per_frame"]
    out[split] = {"frames": rep["sequences"], "miou": v["pooled_over_d"]["miou"], "miou_ci95": v["mean_miou_over_d_ci95"],
                  "pixel_accuracy": v["pooled_over_d"]["pixel_accuracy"], "class_iou": v["pooled_over_d"]["class_iou"],
                  "category_iou": v["pooled_over_d"]["category_iou"]}
  return out


def stage2_check(model_dir, camvid_root, variant, frames, work_dir):
  """{"variant", "val_frames", "names", "mean_miou_over_d"}: `variant` of `model_dir` on the
  first `frames` frames of SegNet's val run (GOPs of 12 ending at each frame from the 12th),
  through the whole path (records, then the evaluation job at every d).
  tests/test_released_camvid.py runs the same."""
  from tw_keras.data import build, layouts  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  shutil.rmtree(work_dir, ignore_errors=True)
  names = layouts.camvid_subset(camvid_root, "val", frames, os.path.join(work_dir, "camvid"), consecutive=True)
  build.build(build.BuildConfig(dataset="camvid", input_dir=os.path.join(work_dir, "camvid"),
                                output_dir=os.path.join(work_dir, "data"), splits=("val",), workers=1),
              log=lambda line: None)
  rep = job.evaluate_model_dir(os.path.join(work_dir, "data"), model_dir, os.path.join(work_dir, "eval"), split="val",
                               variants=[variant], write_pngs=False, quiet=True)
  return {"variant": variant, "val_frames": frames, "gops": rep["sequences"], "names": [names[0], names[-1]],
          "mean_miou_over_d": rep["variants"][variant]["mean_miou_over_d"]}


def table(rep):
  """The manifest's stage-2 table: per variant, the mean over d [CI], per d, human IoU, TC."""
  out = {}
  for name, v in rep["variants"].items():
    out[name] = {"mean_miou_over_d": v["mean_miou_over_d"], "ci95": v["mean_miou_over_d_ci95"],
                 "miou_per_distance": v["miou_per_distance"],
                 "category_iou_pooled": v["pooled_over_d"]["category_iou"],
                 "class_iou_pooled": v["pooled_over_d"]["class_iou"],
                 "temporal_consistency": v.get("temporal_consistency")}
  return out


def main(argv):
  del argv
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  release, src = FLAGS.release_dir, FLAGS.model_dir
  with open(os.path.join(release, MANIFEST)) as f:
    manifest = json.load(f)
  frozen = os.path.relpath(model_dir_lib.per_frame_weights(release), release)
  if sha256(os.path.join(src, frozen)) != manifest["files"][frozen]:
    raise ValueError(f"{src}/{frozen}: not the released per-frame CNN (sha256 differs)")
  with open(os.path.join(FLAGS.eval_dir, "results.json")) as f:
    rep = json.load(f)
  files = dict(manifest["files"])
  for name in rep["variants"]:
    if not config_lib.VARIANTS[name].trainable:
      continue
    for leaf in (model_dir_lib.STAGE2_WEIGHTS, model_dir_lib.STAGE2_MOTION):
      rel = os.path.join("stage2", name, leaf)
      os.makedirs(os.path.dirname(os.path.join(release, rel)), exist_ok=True)
      shutil.copyfile(os.path.join(src, rel), os.path.join(release, rel))
      files[rel] = sha256(os.path.join(release, rel))
  model_dir_lib.save_default_variant(release, FLAGS.default_variant, FLAGS.default_why)
  files[model_dir_lib.DEFAULT_VARIANT] = sha256(os.path.join(release, model_dir_lib.DEFAULT_VARIANT))
  scratch = os.path.join(src, "release_scratch")
  rescored = per_frame_scores(release, FLAGS.data_dir, scratch)
  check = camvid_check(release, FLAGS.camvid_root, manifest["check"]["test_frames"],
                                       os.path.join(scratch, "check"))
  manifest["first_scores_unpadded"] = {
      "note": "the first release scored 480x360 frames unpadded; the segmenter and the evaluation job pad "
              "them to 480x384 (edge rows), as scored above",
      "val": manifest["val"]["miou"], "test": manifest["test"]["miou"], "check": manifest["check"]["miou"]}
  manifest["val"], manifest["test"], manifest["check"] = rescored["val"], rescored["test"], check
  manifest["stage2"] = {
      "command": FLAGS.command, "recipe": FLAGS.recipe, "commit": commit(),
      "scored_on": f"the val run of SegNet's CamVid (0016E5, 15 Hz, {rep['sequences']} GOPs), every d, "
                   f"motion: {rep['flow']}; TC: {rep.get('tc_motion')}",
      "variants": table(rep), "comparisons": rep.get("comparisons"),
      "default_variant": FLAGS.default_variant,
      "check": stage2_check(release, FLAGS.camvid_root, FLAGS.check_variant, FLAGS.check_frames,
                            os.path.join(scratch, "stage2_check")),
  }
  manifest["files"] = files
  fileio.write_json(os.path.join(release, MANIFEST), manifest)
  print(json.dumps({"val": rescored["val"]["miou"], "test": rescored["test"]["miou"], "check": check["miou"],
                    "stage2_check": manifest["stage2"]["check"]}, indent=1))
  size = sum(os.path.getsize(os.path.join(release, rel)) for rel in files)
  print(f"{len(files)} files, {size / 2**20:.2f} MiB in {release}")


if __name__ == "__main__":
  define_flags()
  app.run(main)

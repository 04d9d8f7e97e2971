"""The released CamVid weights (weights/camvid): the files are those the manifest hashes, and
they reproduce the manifest's per-frame mIoU on its check frames of SegNet's CamVid test split,
built from ../shared/camvid through the whole path (records, then the evaluation job). CamVid
is never in the repository (CC BY-NC): the check skips, saying why, where it is absent."""
import os
import sys

import pytest

from helpers import assert_release_files_match, release_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "weights", "camvid")
CAMVID = os.environ.get("TW_CAMVID_ROOT", os.path.join(os.path.dirname(ROOT), "shared", "camvid"))


@pytest.fixture(scope="module")
def manifest():
  return release_manifest(RELEASE)


def test_every_released_file_matches_its_sha256(manifest):
  assert_release_files_match(RELEASE, manifest)
  assert manifest["test"]["frames"] == 233 and "CC BY-NC" in manifest["trained_on"]


def test_released_camvid_weights_reproduce_the_manifest_miou(manifest, tmp_path):
  if not os.path.isdir(os.path.join(CAMVID, "testannot")):
    pytest.skip(f"{CAMVID}: SegNet's CamVid is not here (CC BY-NC, never in the repository; set TW_CAMVID_ROOT)")
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import release_weights  # pylint: disable=g-import-not-at-top
  check = manifest["check"]
  got = release_weights.camvid_check(RELEASE, CAMVID, check["test_frames"], str(tmp_path))
  assert got["names"] == check["names"]
  # Real frames, our own deterministic encoder: only float kernels differ between machines. With
  # TF's Eigen kernels instead of oneDNN, and NumPy's AVX2/AVX-512 off, the check gave the same
  # mIoU to 0.01 (docs/camvid.md); 0.02 leaves room for ~2000 flipped pixels of 1.4 million.
  assert got["miou"] == pytest.approx(check["miou"], abs=0.02), (got, check)


def test_released_stage2_variants_reproduce_their_check_on_the_val_run(manifest, tmp_path):
  """The stage-2 release (`benchmarks/release_camvid_stage2.py`): its default variant is a
  trained TWNet variant, and the check variant scores the manifest's mean over d on the first
  frames of the real 15 Hz val run (2 GOPs), built from ../shared/camvid."""
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  stage2 = manifest["stage2"]
  assert model_dir_lib.default_variant(RELEASE) == stage2["default_variant"] != "per_frame"
  assert stage2["default_variant"] in model_dir_lib.available_variants(RELEASE)
  if not os.path.isdir(os.path.join(CAMVID, "valannot")):
    pytest.skip(f"{CAMVID}: SegNet's CamVid is not here (CC BY-NC, never in the repository; set TW_CAMVID_ROOT)")
  sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
  import release_camvid_stage2  # pylint: disable=g-import-not-at-top
  check = stage2["check"]
  got = release_camvid_stage2.stage2_check(RELEASE, CAMVID, check["variant"], check["val_frames"], str(tmp_path))
  assert got["names"] == check["names"] and got["gops"] == check["gops"]
  assert got["mean_miou_over_d"] == pytest.approx(check["mean_miou_over_d"], abs=0.05), (got, check)

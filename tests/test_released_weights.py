"""The released weights (weights/benchmark): the files are those the manifest hashes, and they
reproduce the manifest's mIoU on the first val snippets of the built-in benchmark, shipped as
records in weights/benchmark/check/ (rendered once: the renderer's bytes depend on the CPU's
SIMD level). A format change that breaks them cannot land unnoticed."""
import hashlib
import os

import pytest

from helpers import assert_release_files_match, release_manifest

RELEASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights", "benchmark")


@pytest.fixture(scope="module")
def manifest():
  return release_manifest(RELEASE)


def test_every_released_file_matches_its_sha256(manifest):
  assert assert_release_files_match(RELEASE, manifest) < 20 * 2**20


def test_released_weights_reproduce_the_manifest_miou(manifest, tmp_path):
  """On the shipped check records (the benchmark's first val snippets, rendered once): the
  rendered bytes depend on the CPU's SIMD level, records do not."""
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  check = os.path.join(RELEASE, "check")
  for name, digest in manifest["check"]["records"].items():  # the records first: say which differs
    with open(os.path.join(check, name), "rb") as f:
      assert hashlib.sha256(f.read()).hexdigest() == digest, f"{check}/{name}: not the shipped check records"
  expected = manifest["check"]["miou"]
  rep = job.evaluate_model_dir(check, RELEASE, str(tmp_path / "eval"), variants=list(expected), write_pngs=False,
                               quiet=True)
  assert rep["sequences"] == manifest["check"]["val_sequences"]
  got = {v: rep["variants"][v]["mean_miou_over_d"] for v in expected}
  # The inputs are fixed bytes; float rounding of another CPU's kernels may flip a rare argmax.
  assert got == pytest.approx(expected, abs=0.05), (got, expected)

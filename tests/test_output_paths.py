"""Every command checks every path it will write before it starts work, and every model
directory exports what it holds (run as a user runs them, at tiny sizes)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from test_entry_points import ROOT, clip, run  # pylint: disable=unused-import


def run_failing(*cmd):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
  r = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-3000:]
  errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1, r.stderr[-3000:]
  return errors[0]


@pytest.mark.parametrize("case", ["unknown_container", "output_is_a_directory", "label_dir_is_a_file",
                                  "output_under_a_file"])
def test_segment_video_checks_its_outputs_before_any_work(case, tiny_model_dir, clip, tmp):
  open(f"{tmp}/afile", "w").write("x")
  args, named = {
      "unknown_container": ([f"--output={tmp}/o.xyz"], f"{tmp}/o.xyz: no video container for the extension '.xyz'"),
      "output_is_a_directory": ([f"--output={tmp}"], f"{tmp}: overlay video is a directory"),
      "label_dir_is_a_file": ([f"--label_dir={tmp}/afile"], f"{tmp}/afile: label directory is a file"),
      "output_under_a_file": ([f"--output={tmp}/afile/o.mp4"], f"{tmp}/afile/o.mp4: cannot write the overlay video"),
  }[case]
  line = run_failing("-m", "experiments.segment_video", f"--checkpoint={tiny_model_dir}", f"--video={clip}", *args)
  assert line.startswith(f"error: {named}"), line
  assert sorted(os.listdir(tmp)) == ["afile"]  # nothing written, no temporaries


@pytest.fixture
def stage1_only_dir(tiny_model_dir, tmp):
  d = os.path.join(tmp, "stage1_only")
  os.makedirs(d)
  shutil.copy(os.path.join(tiny_model_dir, "model_config.json"), d)
  shutil.copytree(os.path.join(tiny_model_dir, "stage1"), os.path.join(d, "stage1"))
  return d


def test_a_stage1_only_model_dir_exports_the_per_frame_cnn(stage1_only_dir, tmp):
  import tensorflow as tf
  from tw_keras.model import model_dir as model_dir_lib
  stdout = run("-m", "experiments.export_saved_model", f"--model_dir={stage1_only_dir}", f"--export_dir={tmp}/sm/1")
  assert "exporting the per-frame CNN alone" in stdout and "signature(s) key_frame:" in stdout, stdout
  loaded = tf.saved_model.load(f"{tmp}/sm/1")
  assert "key_frame" in loaded.signatures and "non_key_frame" not in loaded.signatures
  image = np.random.default_rng(1).integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  served = loaded.signatures["key_frame"](image=tf.constant(image))
  assert set(served) == {"logits", "labels"}
  per_frame = model_dir_lib.load_per_frame(stage1_only_dir)
  np.testing.assert_allclose(served["logits"].numpy(), per_frame(tf.constant(image, tf.float32))["logits"].numpy(),
                             atol=1e-4)
  # Asking for a variant the directory does not hold names the missing file.
  line = run_failing("-m", "experiments.export_saved_model", f"--model_dir={stage1_only_dir}",
                     f"--export_dir={tmp}/sm/2", "--variant=layer1_cfr_rga")
  assert "stage2/layer1_cfr_rga/nkfc.weights.h5: no stage-2 weights" in line, line
  assert not os.path.exists(f"{tmp}/sm/2")


def test_export_replaces_an_earlier_savedmodel_whole_and_refuses_other_directories(stage1_only_dir,
                                                                                  tiny_model_dir, tmp):
  import tensorflow as tf
  target = f"{tmp}/sm/1"
  run("-m", "experiments.export_saved_model", f"--model_dir={stage1_only_dir}", f"--export_dir={target}")
  open(f"{target}/stray.txt", "w").write("from the first export")
  run("-m", "experiments.export_saved_model", f"--model_dir={tiny_model_dir}", f"--export_dir={target}")
  assert "non_key_frame" in tf.saved_model.load(target).signatures  # the new export, whole
  assert not os.path.exists(f"{target}/stray.txt")  # nothing of the old one is mixed in
  assert sorted(os.listdir(f"{tmp}/sm")) == ["1"]  # no temporary or set-aside directory left
  other = f"{tmp}/mine"
  os.makedirs(other)
  open(f"{other}/notes.txt", "w").write("keep me")
  line = run_failing("-m", "experiments.export_saved_model", f"--model_dir={tiny_model_dir}", f"--export_dir={other}")
  assert line.startswith(f"error: {other}: exists and is not a SavedModel"), line
  assert os.listdir(other) == ["notes.txt"]
  line = run_failing("-m", "experiments.export_saved_model", f"--model_dir={tiny_model_dir}",
                     f"--export_dir={other}/notes.txt")
  assert line == f"error: {other}/notes.txt: export directory is a file", line

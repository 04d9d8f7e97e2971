"""Both training stages on tiny inputs: loss decreases, resume continues, freezing holds;
and real multi-worker training with two local processes."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tw_keras import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = config_lib.Preset(
    config_lib.PRESETS["tiny"],
    config_lib.Stage1Config(steps=12, batch_size=2, learning_rate=3e-3, crop=(64, 128), scale_range=(0.9, 1.1)),
    config_lib.Stage2Config(steps=4, batch_size=1, learning_rate=3e-3, clip_length=3),
    eval_every=0, checkpoint_every=2)


@pytest.fixture(scope="module")
def stage1(tiny_records, tmp_path_factory):
  from tw_keras import train_lib
  model_dir = str(tmp_path_factory.mktemp("run"))
  history, model = train_lib.train_stage1(PRESET.model, PRESET, tiny_records, model_dir, progress=False,
                                          eval_split=None, steps=8)
  return model_dir, history, model


def test_stage1_loss_decreases(stage1):
  _, history, _ = stage1
  losses = history["losses"]
  assert len(losses) == 8 and all(np.isfinite(losses))
  assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_stage1_resume_continues_step_count_and_optimizer(stage1, tiny_records):
  from tw_keras import train_lib
  model_dir, _, model = stage1
  before = [w.copy() for w in model.get_weights()]
  history, resumed = train_lib.train_stage1(PRESET.model, PRESET, tiny_records, model_dir, progress=False,
                                            eval_split=None, steps=10)
  assert history["start_step"] == 8 and history["final_step"] == 10 and len(history["losses"]) == 2
  # The resumed model starts from the checkpoint, not from scratch: weights were restored.
  fresh = train_lib.load_per_frame(model_dir)
  assert not all(np.array_equal(a, b) for a, b in zip(before, fresh.get_weights()))
  assert os.path.exists(os.path.join(model_dir, "stage1", "ckpt-10.index"))


def test_stage2_trains_only_the_nkfc_and_resumes(stage1, tiny_records):
  from tw_keras import train_lib
  model_dir, _, _ = stage1
  per_frame_before = train_lib.load_per_frame(model_dir).get_weights()
  history, per_frame, nkfc = train_lib.train_stage2("layer1_cfr_rga", PRESET, tiny_records, model_dir,
                                                    progress=False, eval_split=None, steps=3)
  assert history["final_step"] == 3 and all(np.isfinite(history["losses"]))
  assert set(history["final"]) == {"loss", "cross_entropy", "consistency"}
  for a, b in zip(per_frame_before, per_frame.get_weights()):
    np.testing.assert_array_equal(a, b)  # frozen, BN statistics included
  cfr = nkfc.get_layer("cfr").conv.kernel.numpy()
  assert np.abs(cfr).sum() > 0  # started at zero, trained
  history, _, nkfc2 = train_lib.train_stage2("layer1_cfr_rga", PRESET, tiny_records, model_dir,
                                             progress=False, eval_split=None, steps=4)
  assert history["start_step"] == 3 and history["final_step"] == 4
  _, _, loaded = train_lib.load_trained(model_dir, ["layer1_cfr_rga"])
  np.testing.assert_array_equal(loaded["layer1_cfr_rga"].get_layer("cfr").conv.kernel.numpy(),
                                nkfc2.get_layer("cfr").conv.kernel.numpy())


def test_stage2_consistency_loss_pulls_context_toward_per_frame_features(stage1, tiny_records):
  """With lambda large and CE off (lr on CE irrelevant), the consistency term decreases."""
  from tw_keras import train_lib
  import dataclasses
  model_dir, _, _ = stage1
  preset = dataclasses.replace(PRESET, stage2=dataclasses.replace(PRESET.stage2, learning_rate=1e-2))
  history, _, _ = train_lib.train_stage2("layer2_cfr", preset, tiny_records, model_dir, progress=False,
                                         eval_split=None, steps=6, consistency_weight=100.0)
  assert history["losses"][-1] < history["losses"][0]


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_multi_worker_training_two_local_processes(tiny_records, tmp):
  ports = [_free_port(), _free_port()]
  cluster = {"worker": [f"localhost:{p}" for p in ports]}
  procs = []
  for i in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="",
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
    cmd = [sys.executable, "-m", "experiments.train", "--strategy=multi_worker", "--preset=tiny",
           f"--data_dir={tiny_records}", f"--model_dir={tmp}/mw", "--stage1_steps=3", "--stage2_steps=2",
           "--variants=layer1_cfr_rga", "--noeval", f"--dump_weights={tmp}/worker{i}.npz"]
    procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-3000:]
  w0, w1 = np.load(f"{tmp}/worker0.npz"), np.load(f"{tmp}/worker1.npz")
  assert sorted(w0.files) == sorted(w1.files)
  assert any(k.startswith("stage2/") for k in w0.files)
  for k in w0.files:
    np.testing.assert_array_equal(w0[k], w1[k], err_msg=k)
  # Trained: the weights moved away from the initialisation.
  from tw_keras import models, train_lib
  train_lib.set_seed(0)
  fresh = models.build_per_frame(config_lib.PRESETS["tiny"])
  init = {f"stage1/{v.path}": v.numpy() for v in fresh.weights}
  changed = [k for k in init if k in w0.files and not np.array_equal(init[k], w0[k])]
  assert len(changed) > len(init) // 2
  cfr = [k for k in w0.files if k.startswith("stage2/") and "cfr" in k and "kernel" in k]
  assert cfr and np.abs(w0[cfr[0]]).sum() > 0  # CFR starts at zero
  assert os.path.exists(f"{tmp}/mw/stage2/layer1_cfr_rga/nkfc.weights.h5")


def test_stage1_step_compiles_under_xla(tiny_records, tmp):
  from tw_keras import train_lib
  history, _ = train_lib.train_stage1(PRESET.model, PRESET, tiny_records, tmp, progress=False, eval_split=None,
                                      steps=2, xla=True)
  assert history["final_step"] == 2 and all(np.isfinite(history["losses"]))


def test_mirrored_strategy_with_two_cpu_replicas(tiny_records, tmp):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
  cmd = [sys.executable, "-m", "experiments.train", "--strategy=mirrored", "--cpu_replicas=2", "--preset=tiny",
         f"--data_dir={tiny_records}", f"--model_dir={tmp}/m", "--stage1_steps=3", "--stage2_steps=2",
         "--variants=layer1_cfr_rga", "--noeval", f"--dump_weights={tmp}/w.npz"]
  r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
  summary = json.loads(r.stdout[r.stdout.index("{"):])
  assert summary["stage1"]["final_step"] == 3 and summary["stage2/layer1_cfr_rga"]["final_step"] == 2
  w = np.load(f"{tmp}/w.npz")
  assert all(np.isfinite(w[k]).all() for k in w.files)


def test_stage2_clips_end_on_a_labelled_frame(tiny_records):
  import tensorflow as tf
  from tw_keras import common, dataset, train_lib
  cfg = PRESET.stage2
  batch = next(iter(train_lib.stage2_dataset(tiny_records, "train", cfg, seed=0, cache=False)))
  assert batch[common.CLIP_IMAGES].shape[:2] == (cfg.batch_size, cfg.clip_length)
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(tiny_records, "train"))))
  n = int(gop[common.CLIP_IMAGES].shape[0])
  index = gop[common.CLIP_FRAME_INDEX].numpy()
  starts = {int(dataset.sample_clip(gop, 3, tf.constant([s, 1]))[common.CLIP_FRAME_INDEX][0]) for s in range(40)}
  assert starts == set(index[:n - 2].tolist())  # all labelled: uniform over every start
  # Only the last frame labelled (real Cityscapes): every clip ends on it.
  only_last = dict(gop, **{common.CLIP_HAS_LABEL: tf.range(n) == n - 1})
  for s in range(10):
    c = dataset.sample_clip(only_last, 3, tf.constant([s, 2]))
    assert c[common.CLIP_FRAME_INDEX].numpy().tolist() == index[-3:].tolist()
    assert common.CLIP_HAS_LABEL not in c


def test_resumed_run_matches_an_uninterrupted_one(tiny_records, tmp):
  """8 steps straight == a run killed after its step-4 checkpoint and resumed to 8."""
  import glob
  import shutil
  from tw_keras import train_lib
  kw = dict(progress=False, eval_split=None, cache=True)
  straight, _ = train_lib.train_stage1(PRESET.model, PRESET, tiny_records, f"{tmp}/a", steps=8, **kw)
  # The killed run: everything the straight run had written when it checkpointed step 4.
  os.makedirs(f"{tmp}/b/stage1")
  shutil.copy(f"{tmp}/a/model_config.json", f"{tmp}/b/")
  for f in glob.glob(f"{tmp}/a/stage1/ckpt-4.*"):
    shutil.copy(f, f"{tmp}/b/stage1/")
  with open(f"{tmp}/b/stage1/checkpoint", "w") as f:
    f.write('model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n')
  resumed, _ = train_lib.train_stage1(PRESET.model, PRESET, tiny_records, f"{tmp}/b", steps=8, **kw)
  assert resumed["start_step"] == 4 and resumed["final_step"] == 8
  np.testing.assert_allclose(resumed["losses"], straight["losses"][4:], rtol=1e-4)
  a, b = train_lib.load_per_frame(f"{tmp}/a"), train_lib.load_per_frame(f"{tmp}/b")
  for x, y in zip(a.get_weights(), b.get_weights()):
    np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)

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
  from tw_keras.train import stages
  model_dir = str(tmp_path_factory.mktemp("run"))
  history, net = stages.train_stage1(PRESET.model, PRESET, tiny_records, model_dir, progress=False,
                                     eval_split=None, steps=8)
  return model_dir, history, net.per_frame


def test_stage1_loss_decreases(stage1):
  _, history, _ = stage1
  losses = history["losses"]
  assert len(losses) == 8 and all(np.isfinite(losses))
  assert np.mean(losses[-3:]) < np.mean(losses[:3])


def _optimizer_iterations(checkpoint_prefix, name):
  import tensorflow as tf
  keys = [k for k, _ in tf.train.list_variables(checkpoint_prefix) if k.startswith(name + "/") and "iterations" in k]
  assert len(keys) == 1, keys
  return int(tf.train.load_variable(checkpoint_prefix, keys[0]))


def test_stage1_resume_restores_step_weights_and_optimizer_state(stage1, tiny_records):
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras.train import stages
  model_dir, _, model = stage1
  before = [w.copy() for w in model.get_weights()]
  history, _ = stages.train_stage1(PRESET.model, PRESET, tiny_records, model_dir, progress=False,
                                   eval_split=None, steps=10)
  assert history["start_step"] == 8 and history["final_step"] == 10 and len(history["losses"]) == 2
  # The resumed model starts from the checkpoint, not from scratch: weights were restored.
  fresh = model_dir_lib.load_per_frame(model_dir)
  assert not all(np.array_equal(a, b) for a, b in zip(before, fresh.get_weights()))
  # Adam's state was restored too: a fresh optimizer would count 2 iterations, not 10.
  prefix = os.path.join(model_dir, "stage1", "ckpt-10")
  assert _optimizer_iterations(prefix, "optimizer_decoder") == 10
  assert _optimizer_iterations(prefix, "optimizer_encoder") == 10


def test_stage2_trains_only_the_nkfc_and_resumes(stage1, tiny_records):
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras.train import stages
  model_dir, _, _ = stage1
  per_frame_before = model_dir_lib.load_per_frame(model_dir).get_weights()
  history, net = stages.train_stage2("layer1_cfr_rga", PRESET, tiny_records, model_dir,
                                     progress=False, eval_split=None, steps=3)
  per_frame, nkfc = net.per_frame, net.nkfc
  assert history["final_step"] == 3 and all(np.isfinite(history["losses"]))
  assert set(history["final"]) == {"loss", "cross_entropy", "consistency"}
  for a, b in zip(per_frame_before, per_frame.get_weights()):
    np.testing.assert_array_equal(a, b)  # frozen, BN statistics included
  cfr = nkfc.get_layer("cfr").conv.kernel.numpy()
  assert np.abs(cfr).sum() > 0  # started at zero, trained
  history, net2 = stages.train_stage2("layer1_cfr_rga", PRESET, tiny_records, model_dir,
                                      progress=False, eval_split=None, steps=4)
  assert history["start_step"] == 3 and history["final_step"] == 4
  loaded = model_dir_lib.load(model_dir, "layer1_cfr_rga")
  np.testing.assert_array_equal(loaded.nkfc.get_layer("cfr").conv.kernel.numpy(),
                                net2.nkfc.get_layer("cfr").conv.kernel.numpy())


def test_stage2_step_with_ce_off_lowers_the_consistency_term(stage1, tiny_records):
  """The task's step on its own: with cross-entropy masked out (every label 255), only the
  lambda-weighted L2 term drives it. The NKFC starts out of agreement with the per-frame
  CNN (its trainable weights perturbed), and repeated steps on one batch pull it back."""
  import dataclasses
  import tensorflow as tf
  from tw_keras.data import features
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras.train import inputs, stages
  model_dir, _, _ = stage1
  cfg = dataclasses.replace(PRESET.stage2, learning_rate=1e-2, consistency_weight=100.0)
  clip = next(iter(inputs.stage2_dataset(tiny_records, "train", cfg, seed=0, cache=False)))
  clip = dict(clip, **{features.CLIP_LABELS: tf.fill(tf.shape(clip[features.CLIP_LABELS]), 255)})
  task = stages.NonKeyFrameTask(model_dir_lib.load(model_dir, "per_frame"), config_lib.VARIANTS["layer2_cfr"], cfg)
  rng = np.random.default_rng(0)
  for v in task.variables:
    v.assign(v.numpy() + rng.normal(0, 0.05, v.shape).astype(np.float32))
  metrics = [task.train_step(clip) for _ in range(6)]
  assert all(float(m["cross_entropy"]) == 0.0 for m in metrics)
  consistency = [float(m["consistency"]) for m in metrics]
  assert consistency[0] > 1e-4 and consistency[-1] < 0.5 * consistency[0], consistency


def test_stage1_step_on_its_own_fits_one_batch(tiny_records):
  from tw_keras.train import inputs, loop, stages
  loop.set_seed(0)
  cfg = PRESET.stage1
  images, labels = next(iter(inputs.stage1_dataset(tiny_records, "train", cfg, seed=0, cache=False)))
  task = stages.PerFrameTask(PRESET.model, cfg)
  ce = [float(task.train_step(images, labels)["cross_entropy"]) for _ in range(10)]
  assert ce[-1] < 0.85 * ce[0] and ce[-1] == min(ce), ce
  assert int(task.optimizers["decoder"].iterations) == 10


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
  from tw_keras.model import per_frame as per_frame_lib
  from tw_keras.train import loop
  loop.set_seed(0)
  fresh = per_frame_lib.build_per_frame(config_lib.PRESETS["tiny"])
  init = {f"stage1/{v.path}": v.numpy() for v in fresh.weights}
  changed = [k for k in init if k in w0.files and not np.array_equal(init[k], w0[k])]
  assert len(changed) > len(init) // 2
  cfr = [k for k in w0.files if k.startswith("stage2/") and "cfr" in k and "kernel" in k]
  assert cfr and np.abs(w0[cfr[0]]).sum() > 0  # CFR starts at zero
  assert os.path.exists(f"{tmp}/mw/stage2/layer1_cfr_rga/nkfc.weights.h5")


def test_stage1_step_compiles_under_xla(tiny_records, tmp):
  from tw_keras.train import stages
  history, _ = stages.train_stage1(PRESET.model, PRESET, tiny_records, tmp, progress=False, eval_split=None,
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
  from tw_keras.data import features, dataset
  from tw_keras.train import inputs
  cfg = PRESET.stage2
  batch = next(iter(inputs.stage2_dataset(tiny_records, "train", cfg, seed=0, cache=False)))
  assert batch[features.CLIP_IMAGES].shape[:2] == (cfg.batch_size, cfg.clip_length)
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(tiny_records, "train"))))
  n = int(gop[features.CLIP_IMAGES].shape[0])
  index = gop[features.CLIP_FRAME_INDEX].numpy()
  starts = {int(dataset.sample_clip(gop, 3, tf.constant([s, 1]))[features.CLIP_FRAME_INDEX][0]) for s in range(40)}
  assert starts == set(index[:n - 2].tolist())  # all labelled: uniform over every start
  # Only the last frame labelled (real Cityscapes): every clip ends on it.
  only_last = dict(gop, **{features.CLIP_HAS_LABEL: tf.range(n) == n - 1})
  for s in range(10):
    c = dataset.sample_clip(only_last, 3, tf.constant([s, 2]))
    assert c[features.CLIP_FRAME_INDEX].numpy().tolist() == index[-3:].tolist()
    assert features.CLIP_HAS_LABEL not in c


def test_resumed_run_matches_an_uninterrupted_one(tiny_records, tmp):
  """8 steps straight == a run killed after its step-4 checkpoint and resumed to 8."""
  import glob
  import shutil
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras.train import stages
  kw = dict(progress=False, eval_split=None, cache=True)
  straight, _ = stages.train_stage1(PRESET.model, PRESET, tiny_records, f"{tmp}/a", steps=8, **kw)
  # The killed run: everything the straight run had written when it checkpointed step 4.
  os.makedirs(f"{tmp}/b/stage1")
  shutil.copy(f"{tmp}/a/model_config.json", f"{tmp}/b/")
  for f in glob.glob(f"{tmp}/a/stage1/ckpt-4.*"):
    shutil.copy(f, f"{tmp}/b/stage1/")
  with open(f"{tmp}/b/stage1/checkpoint", "w") as f:
    f.write('model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n')
  resumed, _ = stages.train_stage1(PRESET.model, PRESET, tiny_records, f"{tmp}/b", steps=8, **kw)
  assert resumed["start_step"] == 4 and resumed["final_step"] == 8
  np.testing.assert_allclose(resumed["losses"], straight["losses"][4:], rtol=1e-4)
  a, b = model_dir_lib.load_per_frame(f"{tmp}/a"), model_dir_lib.load_per_frame(f"{tmp}/b")
  for x, y in zip(a.get_weights(), b.get_weights()):
    np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def test_stage1_keeps_the_weights_that_scored_best_on_val(tiny_records, tmp, monkeypatch):
  """Model selection on the val split: each evaluation that beats every earlier one writes
  stage1/best_val.weights.h5 and its step and scores; a worse one leaves them."""
  import h5py  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import quick  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top
  scores = iter([10.0, 30.0, 20.0])
  monkeypatch.setattr(quick, "quick_per_frame_miou", lambda net, files, max_gops=8: next(scores))
  preset = config_lib.Preset(PRESET.model, PRESET.stage1, PRESET.stage2, eval_every=2, checkpoint_every=2)
  stages.train_stage1(preset.model, preset, tiny_records, tmp, progress=False, steps=6)
  best = os.path.join(tmp, "stage1", model_dir_lib.STAGE1_BEST)
  with open(best.replace(".weights.h5", ".json")) as f:
    assert json.load(f) == {"step": 4, "scores": {"miou": 30.0}}

  def first_kernel(path):
    with h5py.File(path, "r") as f:
      names = []
      f.visit(lambda n: names.append(n) if n.endswith("vars/0") else None)
      return np.array(f[sorted(names)[0]])
  assert not np.array_equal(first_kernel(best), first_kernel(os.path.join(tmp, "stage1", "per_frame.weights.h5")))


def test_a_checkpoint_of_the_old_layout_still_resumes(tmp_path):
  """Checkpoints written before the keys were `TWNet.checkpoint_items`' (the trained network's
  weights under "weights/<path>", the Keras model under "model") restore into today's loop:
  step, every weight and the optimizer's state."""
  import tensorflow as tf
  from tw_keras.model import twnet
  from tw_keras.train import loop, stages
  old = stages.PerFrameTask(PRESET.model, PRESET.stage1)
  for v in old.model.weights:
    if "float" in v.dtype:
      v.assign(tf.random.stateless_uniform(v.shape, [7, len(v.path)], dtype=v.dtype))
  old.optimizers["decoder"].iterations.assign(5)
  step = tf.Variable(5, dtype=tf.int64)
  directory = str(tmp_path / "stage1")
  tf.train.Checkpoint(step=step, model=old.model, optimizer_decoder=old.optimizers["decoder"],
                      optimizer_encoder=old.optimizers["encoder"],
                      weights=twnet.weights_by_path(old.model)).save(os.path.join(directory, "ckpt"))
  new = stages.PerFrameTask(PRESET.model, PRESET.stage1)
  assert list(new.checkpoint_items())[0] == "per_frame"
  runner = loop.Loop(tf.distribute.get_strategy(), directory, None, new.checkpoint_items(),
                     loop.LoopConfig(steps=8, checkpoint_every=2, progress=False), model=new.model)
  assert runner.restore() == 5
  for a, b in zip(old.model.weights, new.model.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  assert int(new.optimizers["decoder"].iterations.numpy()) == 5
  runner.save()  # written again, under today's keys
  keys = {k.split("/")[0] for k, _ in tf.train.list_variables(tf.train.latest_checkpoint(directory))}
  assert "per_frame" in keys and "weights" not in keys and "model" not in keys

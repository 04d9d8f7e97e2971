"""The training loop around a distributed step: checkpoints, TensorBoard, progress, evaluation.

`Loop.run` restores the latest checkpoint, trains to the step budget, checkpoints every
`checkpoint_every` steps and on SIGINT/SIGTERM, and evaluates every `eval_every` steps.
"""

import dataclasses
import glob
import json
import os
import shutil
import signal
import sys
import threading
import time
from typing import Dict, Optional

import keras
import tensorflow as tf
import tqdm

from tw_keras import cli, fileio
from tw_keras.model import model_dir as model_dir_lib
from tw_keras.train import distribute

NETWORK_KEYS = ("per_frame", "nkfc")  # `TWNet.checkpoint_items`' keys
LEGACY_WEIGHTS = "weights"  # where checkpoints written before them held the trained network's weights


def set_seed(seed: int):
  keras.utils.set_random_seed(seed)  # Python, NumPy and TF


def set_mixed_precision(mode: Optional[str]):
  """None/"none" -> float32; "bfloat16" -> mixed_bfloat16 (no loss scaling needed)."""
  keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if mode == "bfloat16" else "float32")


def poly_decay(lr, steps, power):
  """The paper's schedule: lr * (1 - step / steps) ** power."""
  return keras.optimizers.schedules.PolynomialDecay(lr, max(steps, 1), end_learning_rate=0.0, power=power)


@dataclasses.dataclass(frozen=True)
class LoopConfig:
  """How a training job runs around its step.

  Attributes:
    steps: the step budget (a resumed run trains to it).
    checkpoint_every: steps between checkpoints (also at the end and on SIGINT/SIGTERM).
    eval_every: steps between evaluations (0: none).
    progress: a progress bar on a terminal (otherwise a line every tenth of the run).
    desc: how the job names itself in progress lines and errors ("stage 1").
    best_weights: a path; each evaluation whose first score beats every earlier one writes
      the model's weights there and `{step, scores}` beside it (`best_record`): the model
      selected on the evaluation split.
  """
  steps: int
  checkpoint_every: int
  eval_every: int = 0
  progress: bool = True
  desc: str = ""
  best_weights: Optional[str] = None


class Loop:
  """Checkpointing, logging, progress and periodic evaluation around a distributed step.

  `items`: what the checkpoint holds besides the step, by key: the model's networks as
  `TWNet.checkpoint_items` names them ({"per_frame" | "nkfc": {weight path: variable}}) and
  the optimizers. `model`: the network trained (batch-norm statistics synced before each
  save; the best weights written from it).
  """

  def __init__(self, strategy, directory: str, step_fn, items: Dict[str, object], config: LoopConfig,
               eval_fn=None, model=None):
    self.config, self.items = config, items
    self.best_weights = config.best_weights
    self.strategy, self.directory, self.steps = strategy, directory, config.steps
    self.step_fn, self.eval_fn, self.eval_every = step_fn, eval_fn, config.eval_every
    self.checkpoint_every, self.progress, self.desc = config.checkpoint_every, config.progress, config.desc
    self.model = model
    self.chief = distribute.is_chief(strategy)
    with strategy.scope():
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    self.ckpt = tf.train.Checkpoint(step=self.step, **items)
    write_dir = distribute.write_dir(directory, strategy)
    if write_dir != directory:  # a non-chief's scratch copy: never restored from
      shutil.rmtree(write_dir, ignore_errors=True)
    # A checkpoint write killed part-way leaves `ckpt-N_temp/`; the index never names it.
    for leftover in glob.glob(os.path.join(glob.escape(write_dir), "*_temp*")):
      shutil.rmtree(leftover, ignore_errors=True) if os.path.isdir(leftover) else os.remove(leftover)
    self.manager = tf.train.CheckpointManager(self.ckpt, write_dir, max_to_keep=3)
    self.writer = tf.summary.create_file_writer(os.path.join(directory, "train")) if self.chief \
        else tf.summary.create_noop_writer()

  def _keep_best(self, step: int, scores: Dict[str, float]):
    if not (self.best_weights and self.chief and self.model is not None and scores):
      return
    name, value = next(iter(scores.items()))
    best = read_best(self.best_weights)
    if best is None or value > best["scores"][name] or best["step"] > step:  # (a later rerun from scratch)
      model_dir_lib.save_weights(self.model, self.best_weights)
      fileio.write_json(best_record(self.best_weights), {"step": step, "scores": scores})

  def restore(self) -> int:
    latest = tf.train.latest_checkpoint(self.directory)  # the chief's, also on other workers
    if latest:
      self._checkpoint_for(latest).restore(latest).assert_existing_objects_matched()
    return int(self.step.numpy())

  def _checkpoint_for(self, prefix: str) -> tf.train.Checkpoint:
    """The checkpoint object that reads `prefix`: this one, or, for a checkpoint written before
    the keys were one set (its weights under "weights/<path>"), the same variables under the
    old keys, so runs started then still resume."""
    keys = {name.split("/")[0] for name, _ in tf.train.list_variables(prefix)}
    if LEGACY_WEIGHTS not in keys:
      return self.ckpt
    weights, rest = {}, {}
    for key, item in self.items.items():
      (weights if key in NETWORK_KEYS else rest)[key] = item
    merged = {path: v for net in weights.values() for path, v in net.items()}
    return tf.train.Checkpoint(step=self.step, **{LEGACY_WEIGHTS: merged}, **rest)

  def save(self):
    if self.model is not None:
      distribute.sync_non_trainable(self.strategy, self.model.non_trainable_weights)
    self.manager.save(checkpoint_number=int(self.step.numpy()))

  def run(self, make_dataset) -> Dict[str, float]:
    """Restores the latest checkpoint, then trains to `steps` on `make_dataset(start_step)`.

    SIGINT (Ctrl-C) or SIGTERM during training: the current step finishes, a checkpoint is
    saved, and `cli.Interrupted` is raised (the entry point prints one line, exits 130).
    """
    stop = []
    handlers = {}
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        handlers[sig] = signal.signal(sig, lambda signum, frame: stop.append(signum))
    try:
      return self._run(make_dataset, stop)
    finally:
      for sig, handler in handlers.items():
        signal.signal(sig, handler)

  def _run(self, make_dataset, stop) -> Dict[str, float]:
    start_step = self.restore()
    iterator = iter(make_dataset(start_step))
    history = {"start_step": start_step, "losses": []}
    show = self.progress and self.chief and sys.stderr.isatty()
    bar = tqdm.tqdm(total=self.steps, initial=start_step, desc=self.desc, disable=not show)
    t0 = time.time()
    metrics = {}
    while int(self.step.numpy()) < self.steps:
      per_replica = self.step_fn(iterator)
      # Reduced eagerly, after the step: a scalar all-reduce inside the step function could
      # be ordered differently from the gradient all-reduce on different workers.
      metrics = {k: float(self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None))
                 for k, v in per_replica.items()}
      self.step.assign_add(1)
      step = int(self.step.numpy())
      history["losses"].append(metrics["loss"])
      with self.writer.as_default(step=step):
        for k, v in metrics.items():
          tf.summary.scalar(k, v)
      bar.update(1)
      bar.set_postfix(loss=f"{metrics['loss']:.3f}")
      if step % self.checkpoint_every == 0 or step == self.steps or stop:
        self.save()
      if stop:
        bar.close()
        self.writer.flush()
        raise cli.Interrupted(f"{self.directory}: stopped at step {step} of {self.steps}; checkpoint "
                              "saved, rerun the same command to resume")
      if self.eval_fn and self.eval_every and (step % self.eval_every == 0 or step == self.steps):
        scores = self.eval_fn()
        with self.writer.as_default(step=step):
          for k, v in scores.items():
            tf.summary.scalar(f"eval/{k}", v)
        history.setdefault("eval", []).append({"step": step, **scores})
        self._keep_best(step, scores)
        if not show and self.chief:
          print(f"{self.desc} step {step}: " + ", ".join(f"{k}={v:.2f}" for k, v in scores.items()), flush=True)
      elif not show and self.chief and (step % max(1, self.steps // 10) == 0):
        print(f"{self.desc} step {step}/{self.steps} loss {metrics['loss']:.4f}", flush=True)
    bar.close()
    self.writer.flush()
    history["seconds"] = time.time() - t0
    history["final_step"] = int(self.step.numpy())
    history["final"] = metrics
    return history


def best_record(weights_path: str) -> str:
  """The JSON beside the best-on-evaluation weights: {"step", "scores"}."""
  return weights_path.replace(".weights.h5", "") + ".json"


def read_best(weights_path: str) -> Optional[Dict[str, object]]:
  try:
    with open(best_record(weights_path)) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def apply_gradients(updates):
  """Applies (optimizer, gradients, variables) updates in replica context, in order."""
  for opt, grads, variables in updates:
    if variables:
      opt.apply_gradients(zip(grads, variables))

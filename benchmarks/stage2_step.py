r"""Stage-2 step time: the one input contract (the codec's compact inputs, expanded inside the
model) against dense inputs computed beforehand (what the tf.data pipeline cached before).

  python benchmarks/stage2_step.py --size=256x512 --variants=layer1_cfr_rga,layer1_ft

Both steps run the same model, batch and clip in one process, alternately, `--repeats` times
(median of each): `compact` is `NonKeyFrameTask.train_step` (frames, references and int16
grids in; motion and residual expanded in the step, the residual only for RGA variants);
`dense` is the same unrolled chain and loss on motion and residual expanded once before the
timing, as a cached input pipeline would hand them over. Random weights: speed only.
"""

import os
import statistics
import sys
import time

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "cpu_small", "Training preset (model and stage-2 settings).")
flags.DEFINE_string("size", "256x512", "HxW of the clips.")
flags.DEFINE_list("variants", ["layer1_cfr_rga", "layer1_ft"], "Stage-2 variants.")
flags.DEFINE_integer("repeats", 20, "Timed steps per path and variant.")


def _clip(h, w, batch, length, seed=0):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras.data import features  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  frames = rng.integers(0, 255, (batch, length, h, w, 3)).astype(np.uint8)
  grid = rng.integers(-24, 24, (batch, length, -(-h // 16) * 2, -(-w // 16) * 2, 2)).astype(np.int16)
  return {features.CLIP_IMAGES: tf.constant(frames),
          features.CLIP_REFERENCES: tf.constant(np.concatenate([frames[:, :1], frames[:, :-1]], 1)),
          features.CLIP_MOTION_GRID: tf.constant(grid),
          features.CLIP_LABELS: tf.constant(rng.integers(0, 19, (batch, length, h, w)).astype(np.int32))}


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.data import features  # pylint: disable=g-import-not-at-top
  from tw_keras.model import models, twnet  # pylint: disable=g-import-not-at-top
  from tw_keras.train import losses, loop, stages  # pylint: disable=g-import-not-at-top
  from tw_keras.video import codec, compensation  # pylint: disable=g-import-not-at-top
  preset = config_lib.TRAIN_PRESETS[FLAGS.preset]
  cfg = preset.stage2
  h, w = (int(v) for v in FLAGS.size.split("x"))
  clip = _clip(h, w, cfg.batch_size, cfg.clip_length)
  base = twnet.build(preset.model, "per_frame")
  print(f"preset {FLAGS.preset}, {w}x{h}, batch {cfg.batch_size}, clip {cfg.clip_length}, median of "
        f"{FLAGS.repeats} steps each (after 2 warm-up steps), alternating")
  print("| variant | compact inputs (s/step) | dense inputs (s/step) | compact / dense |\n|---|---|---|---|")
  for name in FLAGS.variants:
    task = stages.NonKeyFrameTask(base, config_lib.VARIANTS[name], cfg)
    net = task.twnet
    frames = clip[features.CLIP_IMAGES]
    # The dense inputs, expanded once beforehand, frame by frame (the old cached pipeline).
    dense = [compensation.dense_inputs(frames[:, t], clip[features.CLIP_REFERENCES][:, t],
                                       clip[features.CLIP_MOTION_GRID][:, t], codec.MV_CELL)
             for t in range(cfg.clip_length)]

    def dense_step(clip, dense=dense, task=task, net=net):
      images = tf.cast(clip[features.CLIP_IMAGES], tf.float32)
      shape = tf.shape(images)
      flat = tf.reshape(images, tf.concat([[-1], shape[2:]], 0))
      targets = net.context_of(task.per_frame(flat, training=False))
      targets = tf.reshape(targets, tf.concat([shape[:2], tf.shape(targets)[1:]], 0))
      with tf.GradientTape() as tape:
        context, total = targets[:, 0], 0.0
        for t in range(1, cfg.clip_length):
          out = net.non_key_frame(images[:, t], context, dense[t][0], dense[t][1], training=True)
          total += losses.masked_cross_entropy(clip[features.CLIP_LABELS][:, t], out[models.PRED_LOGITS])
          total += cfg.consistency_weight * losses.consistency_loss(out[models.PRED_CONTEXT], targets[:, t])
          context = out[models.PRED_CONTEXT]
        total += losses.weight_decay_loss(task.decayed, cfg.weight_decay)
      loop.apply_gradients([(task.optimizer, tape.gradient(total, task.variables), task.variables)])
      return total

    steps = {"compact": tf.function(task.train_step), "dense": tf.function(dense_step)}
    times = {k: [] for k in steps}
    for _ in range(2):
      for fn in steps.values():
        tf.nest.map_structure(lambda x: x.numpy(), fn(clip))
    for _ in range(FLAGS.repeats):
      for k, fn in steps.items():
        t = time.perf_counter()
        tf.nest.map_structure(lambda x: x.numpy(), fn(clip))
        times[k].append(time.perf_counter() - t)
    c, d = statistics.median(times["compact"]), statistics.median(times["dense"])
    print(f"| {name} | {c:.3f} | {d:.3f} | {c / d:.2f}x |", flush=True)


if __name__ == "__main__":
  cli.run(main)

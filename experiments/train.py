r"""Two-stage TWNet training (absl flags; the library is `tw_keras.train.stages`).

  # Stage 1 (per-frame CNN), then stage 2 for the Layer1 ablation rows:
  python -m experiments.train --preset=cpu_small --data_dir=tw_data --model_dir=runs/cpu \
      --stages=1,2 --variants=layer1_ft,layer1_cfr,layer1_cfr_rga

  # Multi-worker: run one process per host, each with its own TF_CONFIG:
  TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \
      python -m experiments.train --strategy=multi_worker ...

A killed job resumes from its latest checkpoint when rerun with the same --model_dir.
"""

import json

from absl import flags
import numpy as np

from tw_keras import cli

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("preset", "cpu_small", "Training preset (tw_keras.config.TRAIN_PRESETS).")
  flags.DEFINE_string("data_dir", None, "Directory of TFRecord shards (data_prep output).", required=True)
  flags.DEFINE_string("model_dir", None, "Checkpoints, weights and TensorBoard logs.", required=True)
  flags.DEFINE_list("stages", ["1", "2"], "Stages to run, in order.")
  flags.DEFINE_list("variants", ["layer1_ft", "layer1_cfr", "layer1_cfr_rga"], "Stage-2 variants.")
  flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"], "tf.distribute strategy.")
  flags.DEFINE_bool("xla", False, "jit_compile the replica step.")
  flags.DEFINE_enum("mixed_precision", "none", ["none", "bfloat16"], "Compute dtype policy.")
  flags.DEFINE_integer("seed", 0, "Random seed (Python, NumPy, TF, data order, augmentation).")
  flags.DEFINE_integer("stage1_steps", None, "Override the preset's stage-1 steps.")
  flags.DEFINE_integer("stage2_steps", None, "Override the preset's stage-2 steps.")
  flags.DEFINE_float("consistency_weight", None, "Override lambda (default 10).")
  flags.DEFINE_string("imagenet_weights", None, "ImageNet weights for the encoder: a local file, or "
                      "\"imagenet\" (Keras' own file, from Keras' cache or downloaded into it once).")
  flags.DEFINE_string("backbone", None, "Override the preset's backbone.")
  flags.DEFINE_float("width", None, "Override the preset's encoder width multiplier.")
  flags.DEFINE_enum("class_weighting", None, ["none", "median_frequency"], "Override the preset's stage-1 "
                    "class weighting (median_frequency: SegNet's median-frequency balancing).")
  flags.DEFINE_bool("deep_context", True, "False trains the no-context ablation (encoder to stride 8, "
                    "stride-8/4 tail, classifier; stage 1 only) instead of the per-frame CNN.")
  flags.DEFINE_enum("cache", "auto", ["auto", "true", "false"], "Hold the decoded training split in memory: "
                    "auto = when its shards are under tw_keras.train.inputs.STAGE1_CACHE_MIB / STAGE2_CACHE_MIB. "
                    "A cached run resumes exactly; an uncached one restarts its seeded order.")
  flags.DEFINE_bool("eval", True, "Periodic evaluation on the val split.")
  flags.DEFINE_string("dump_weights", None, "Write all final weights to this .npz (tests, debugging).")
  flags.DEFINE_enum("flow", "codec", ["codec", "dis", "gt"], "Stage 2: the non-key frames' motion: the codec's "
                    "vectors, OpenCV's DIS optical flow, or the built-in benchmark's exact flow (--flow_root). "
                    "Recorded per variant (stage2/VARIANT/motion.json).")
  flags.DEFINE_string("flow_root", None, "--flow=gt: the benchmark's root with its flow/ folder "
                      "(build_tfrecords --dataset=synthetic --synthetic_flow; default DATA_DIR/synthetic_cityscapes).")
  flags.DEFINE_integer("cpu_replicas", 0, "With --strategy=mirrored and no GPU: split the CPU into this many "
                       "logical devices, one replica each (to exercise multi-replica code on a laptop).")


def main(argv):
  del argv
  import dataclasses  # pylint: disable=g-import-not-at-top
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.data import synthetic  # pylint: disable=g-import-not-at-top
  from tw_keras.train import loop  # pylint: disable=g-import-not-at-top
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top

  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  fileio.check_output_dir(FLAGS.model_dir, "model directory")  # before any work
  if FLAGS.dump_weights:
    fileio.check_output_file(FLAGS.dump_weights, "weights dump")
  loop.set_mixed_precision(FLAGS.mixed_precision)
  from tw_keras.train import distribute  # pylint: disable=g-import-not-at-top
  strategy = distribute.make_strategy(FLAGS.strategy, FLAGS.cpu_replicas)
  preset = config_lib.TRAIN_PRESETS[FLAGS.preset]
  model_config = preset.model
  if FLAGS.imagenet_weights:
    model_config = dataclasses.replace(model_config, imagenet_weights=FLAGS.imagenet_weights)
  if FLAGS.backbone:
    model_config = dataclasses.replace(model_config, backbone=FLAGS.backbone)
  if FLAGS.width:
    model_config = dataclasses.replace(model_config, width=FLAGS.width)
  if FLAGS.class_weighting:
    preset = dataclasses.replace(preset, stage1=dataclasses.replace(preset.stage1,
                                                                    class_weighting=FLAGS.class_weighting))
  if not FLAGS.deep_context:
    model_config = dataclasses.replace(model_config, deep_context=False)
  eval_split = "val" if FLAGS.eval else None
  cache = {"auto": None, "true": True, "false": False}[FLAGS.cache]
  summary = {}
  dump = {}
  if "1" in FLAGS.stages:
    history, net = stages.train_stage1(model_config, preset, FLAGS.data_dir, FLAGS.model_dir, strategy,
                                            seed=FLAGS.seed, xla=FLAGS.xla, steps=FLAGS.stage1_steps,
                                            eval_split=eval_split, cache=cache)
    summary["stage1"] = {k: history[k] for k in ("start_step", "final_step", "final", "seconds")}
    summary["stage1"]["eval"] = history.get("eval", [])
    dump.update({f"stage1/{v.path}": v.numpy() for v in net.per_frame.weights})
  if "2" in FLAGS.stages:
    for name in FLAGS.variants:
      history, net = stages.train_stage2(name, preset, FLAGS.data_dir, FLAGS.model_dir, strategy,
                                                seed=FLAGS.seed, xla=FLAGS.xla, steps=FLAGS.stage2_steps, cache=cache,
                                                consistency_weight=FLAGS.consistency_weight,
                                                eval_split=eval_split, flow=FLAGS.flow,
                                                flow_root=FLAGS.flow_root or synthetic.default_root(FLAGS.data_dir))
      summary[f"stage2/{name}"] = {k: history.get(k) for k in ("start_step", "final_step", "final", "seconds",
                                                                 "eval", "note")}
      dump.update({f"stage2/{name}/{v.path}": v.numpy() for v in net.nkfc.trainable_weights})
  print(json.dumps(summary, indent=1, default=float))
  if FLAGS.dump_weights:
    with fileio.atomic_path(FLAGS.dump_weights) as tmp:
      np.savez(tmp, **dump)


if __name__ == "__main__":
  define_flags()
  cli.run(main)

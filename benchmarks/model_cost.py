"""Cost of every model variant: GFLOPs and parameters, and forward time side by side.

    python benchmarks/model_cost.py --preset=paper --sizes=512x1024,1024x2048 --repeats=5
    python benchmarks/model_cost.py --model_dir=weights/camvid --variants= --sizes=360x480,720x960 \
        --flops_size=360x480   # a trained model's own configuration (its per-frame CNN alone)

GFLOPs are multiply-adds (the paper's convention; TF's profiler counts 2 per multiply-add,
we halve it) at --flops_size. Forward time: batch 1, network only, as `tw_keras.evaluation.timing`
documents (tf.function, 2 warm-up calls, median of --repeats, each synced by a host copy).
Speed-ups are per-frame time / NKFC time, beside the paper's (1080 Ti): 1.74x / 2.39x / 3.37x.
With --fold_batch_norms (default) every model is also timed as the inference copy that the
segmenter and the export run (`model.folding`: batch norms folded into the convolutions),
alternately with the original, in the same run.
"""

import dataclasses
import os
import sys

from absl import flags

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli, config as config_lib  # pylint: disable=wrong-import-position
from tw_keras.model import folding, twnet
from tw_keras.evaluation import timing

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "paper", "Model preset (ignored with --model_dir).")
flags.DEFINE_string("model_dir", None, "Use this trained model's configuration (weights do not change the cost).")
flags.DEFINE_list("sizes", ["512x1024", "1024x2048"], "HxW sizes to time.")
flags.DEFINE_string("flops_size", "1024x2048", "HxW at which GFLOPs are counted.")
flags.DEFINE_list("variants", ["layer1_ft", "layer1_cfr_rga", "layer2_ft", "layer2_cfr_rga", "layer3",
                               "warp_scores", "clockwork"], "Non-key-frame variants.")
flags.DEFINE_integer("repeats", 5, "Timed calls per model and size.")
flags.DEFINE_bool("xla", False, "jit_compile the forward functions.")
flags.DEFINE_bool("skip_flops", False, "Only time.")
flags.DEFINE_bool("fold_batch_norms", True, "Also time the batch-norm-folded inference copies.")

PAPER_SPEEDUP = {"layer1": 1.74, "layer2": 2.39, "layer3": 3.37}


def main(_):
  if FLAGS.model_dir:
    from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
    cfg = dataclasses.replace(model_dir_lib.load_model_config(FLAGS.model_dir), imagenet_weights=None)
  else:
    cfg = config_lib.PRESETS[FLAGS.preset]
  nets = twnet.build_all(cfg, ["per_frame", *FLAGS.variants])
  per_frame, nk = nets["per_frame"].per_frame, {n: nets[n].nkfc for n in FLAGS.variants}
  rows = [("per_frame", per_frame, None)] + [(n, nk[n], config_lib.VARIANTS[n]) for n in FLAGS.variants]
  print(f"{FLAGS.model_dir or 'preset ' + FLAGS.preset}: {cfg}")
  print(f"device: {tf.config.list_logical_devices()[-1].device_type}, xla={FLAGS.xla}")
  fh, fw = map(int, FLAGS.flops_size.split("x"))
  base_flops = None
  print(f"\n| variant | params (M) | trainable in stage 2 (M) | GMACs @ {fw}x{fh} | vs per-frame |")
  print("|---|---|---|---|---|")
  per_frame.trainable = False
  for name, model, variant in rows:
    params = model.count_params() / 1e6
    train = sum(int(np.prod(v.shape)) for v in model.trainable_weights) / 1e6 if variant else 0.0
    if FLAGS.skip_flops:
      flops = float("nan")
    else:
      flops = timing.count_flops(model, [x.shape for x in timing.random_inputs(cfg, variant, fh, fw)]) / 2e9
    base_flops = base_flops or flops
    print(f"| {name} | {params:.3f} | {train:.3f} | {flops:.2f} | {flops - base_flops:+.2f} |")
  folded = {name: folding.fold_batch_norms(model) for name, model, _ in rows} if FLAGS.fold_batch_norms else {}
  for size in FLAGS.sizes:
    h, w = map(int, size.split("x"))
    print(f"\nforward time, batch 1, {w}x{h}:")
    print("| variant | ms | FPS | speed-up | folded ms | folded FPS | folded speed-up | paper |\n|---|---|---|---|---|---|---|---|")
    base = base_folded = None
    for name, model, variant in rows:
      inputs = timing.random_inputs(cfg, variant, h, w)
      t = timing.forward_seconds(model, inputs, FLAGS.repeats, xla=FLAGS.xla)
      tf_ = timing.forward_seconds(folded[name], inputs, FLAGS.repeats, xla=FLAGS.xla) if folded else float("nan")
      base, base_folded = base or t, base_folded or tf_
      paper = PAPER_SPEEDUP.get(name.split("_")[0], "")
      print(f"| {name} | {t * 1e3:.1f} | {1 / t:.2f} | {base / t:.2f}x | {tf_ * 1e3:.1f} | {1 / tf_:.2f} | "
            f"{base_folded / tf_:.2f}x | {paper and f'{paper}x'} |", flush=True)


if __name__ == "__main__":
  cli.run(main)

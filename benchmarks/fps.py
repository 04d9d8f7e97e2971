r"""Speed benchmark: FPS of every variant and GOP-average FPS, network and decode timed apart.

  python benchmarks/fps.py --preset=paper --size=1024x2048
  python benchmarks/fps.py --model_dir=runs/cpu --size=256x512

What is timed (see `tw_keras.evaluation.timing`): one forward pass of the network, batch 1, on inputs
already in memory; 2 warm-up calls; median of --repeats calls, each ended by copying the
logits to the host (a device sync). Not timed: decoding, colourising, writing.

GOP-average FPS = gop / (t_key + (gop - 1) * t_nonkey): one key frame through the per-frame
CNN plus gop - 1 frames through the variant (TWNet's GOP-12 schedule).

Decode is measured separately: `codec.decode_compressed` (frames + block motion grids, the
compact inputs the segmenter and the records use; the residual is the network's) on a
synthetic clip of the same size encoded to the canonical stream (`benchmarks/clips.py`).
"""

import dataclasses
import os
import sys
import tempfile
import time

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runs from a clone without install

from tw_keras import cli  # pylint: disable=wrong-import-position


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("preset", "paper", "Model preset (ignored with --model_dir).")
  flags.DEFINE_string("model_dir", None, "Use this trained model's config (weights do not change speed).")
  flags.DEFINE_string("size", "1024x2048", "HxW.")
  flags.DEFINE_list("variants", ["layer1_ft", "layer1_cfr_rga", "layer2_ft", "layer2_cfr_rga", "layer3",
                                 "warp_scores", "clockwork"], "Non-key-frame variants.")
  flags.DEFINE_integer("repeats", 10, "Timed calls per model.")
  flags.DEFINE_integer("gop", 12, "GOP length for the GOP average.")
  flags.DEFINE_bool("xla", False, "jit_compile the forward functions.")
  flags.DEFINE_enum("mixed_precision", "none", ["none", "bfloat16"], "Compute dtype policy.")
  flags.DEFINE_bool("decode", True, "Also time decoding at this size.")
  flags.DEFINE_bool("fold_batch_norms", True, "Time the inference copies with batch norms folded into the "
                    "convolutions, as the segmenter and the SavedModel run them (model.folding).")


def decode_fps(h, w, frames=48):
  from clips import make_clip  # pylint: disable=g-import-not-at-top  (benchmarks/clips.py)
  from tw_keras.video import codec  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "clip.mp4")
    make_clip(path, h, w, frames)
    t = time.perf_counter()
    n = sum(1 for _ in codec.decode_compressed(path, with_residual=False))
    return n / (time.perf_counter() - t)


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.model import twnet  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import timing  # pylint: disable=g-import-not-at-top
  from tw_keras.train import loop  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  loop.set_mixed_precision(FLAGS.mixed_precision)
  cfg = model_dir_lib.load_model_config(FLAGS.model_dir) if FLAGS.model_dir else config_lib.PRESETS[FLAGS.preset]
  cfg = dataclasses.replace(cfg, imagenet_weights=None)  # random weights time the same
  from tw_keras.model import models  # pylint: disable=g-import-not-at-top
  frame_h, frame_w = map(int, FLAGS.size.split("x"))
  h, w = models.input_size(frame_h, frame_w)  # the segmenter pads frames so (bottom and right edges)
  nets = twnet.build_all(cfg, ["per_frame", *FLAGS.variants])
  if FLAGS.fold_batch_norms:
    nets = {n: net.folded() for n, net in nets.items()}
  per_frame, nk = nets["per_frame"].per_frame, {n: nets[n].nkfc for n in FLAGS.variants}
  device = tf.config.list_logical_devices()[-1]
  print(f"model {cfg}\ndevice {device.name} ({device.device_type}); size {frame_w}x{frame_h} (network input "
        f"{w}x{h}); batch 1; xla={FLAGS.xla}; "
        f"precision={FLAGS.mixed_precision}; "
        f"batch norms folded={FLAGS.fold_batch_norms}")
  print("timed: network forward only (tf.function, warm-up 2, median of "
        f"{FLAGS.repeats}, synced by copying logits to host)\n")
  t_key = timing.forward_seconds(per_frame, timing.random_inputs(cfg, None, h, w), FLAGS.repeats, xla=FLAGS.xla)
  print("| variant | ms/frame | FPS | GOP-average FPS (1 key + %d) |\n|---|---|---|---|" % (FLAGS.gop - 1))
  print(f"| per_frame | {t_key * 1e3:.1f} | {1 / t_key:.2f} | {1 / t_key:.2f} |")
  for name in FLAGS.variants:
    variant = config_lib.VARIANTS[name]
    t = timing.forward_seconds(nk[name], timing.random_inputs(cfg, variant, h, w), FLAGS.repeats, xla=FLAGS.xla)
    gop_fps = FLAGS.gop / (t_key + (FLAGS.gop - 1) * t)
    print(f"| {name} | {t * 1e3:.1f} | {1 / t:.2f} | {gop_fps:.2f} |", flush=True)
  if FLAGS.decode:
    print(f"\ndecode (PyAV + block motion grid, the compact inputs; CPU): {decode_fps(frame_h, frame_w):.1f} frames/s at {frame_w}x{frame_h}")


if __name__ == "__main__":
  define_flags()
  cli.run(main)

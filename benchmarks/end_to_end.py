r"""End-to-end speed of segmenting a video: per-frame on every frame against TWNet's GOP schedule.

  python benchmarks/end_to_end.py --video=clip.mp4 --model_dir=runs/cpu
  python benchmarks/end_to_end.py --preset=paper --size=1024x2048 --frames=60   # a generated clip

Runs `segment.segment_video` (decode + transcoding when needed, network, overlay + write, all
pipelined) for the per-frame CNN on every frame and for each --variants under the GOP
schedule, on the same video, alternating paths, best of --repeats. Prints total and network
FPS and the speed-up over per-frame (with the same --fold_batch_norms), measured in this one run. Weights do not change speed,
so without --model_dir the preset's random weights are used.
"""

import os
import sys
import tempfile

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tw_keras import cli  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("video", None, "Input video (default: a generated textured clip of --size).")
flags.DEFINE_string("size", "1024x2048", "HxW of the generated clip.")
flags.DEFINE_integer("frames", 60, "Frames of the generated clip.")
flags.DEFINE_string("model_dir", None, "Trained model directory (else --preset with random weights).")
flags.DEFINE_string("preset", "paper", "Model preset when no --model_dir.")
flags.DEFINE_list("variants", ["layer1_cfr_rga", "layer2_cfr_rga"], "Non-key-frame variants (GOP schedule).")
flags.DEFINE_integer("repeats", 1, "Timed passes per path (alternating); the best is reported.")
flags.DEFINE_integer("max_frames", 0, "Segment at most this many frames (0 = all).")
flags.DEFINE_bool("labels_only", False, "Write labelId PNGs instead of an overlay video.")
flags.DEFINE_list("fold_batch_norms", ["true"], "Run the inference copies with batch norms folded (true) "
                  "or the trained models as they are (false); 'false,true' compares both in one run.")


def main(_):
  from clips import make_clip  # pylint: disable=g-import-not-at-top  (benchmarks/clips.py)
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import runner, segment  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.model import twnet  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory(prefix="tw_keras_e2e_") as work:
    video = FLAGS.video
    if not video:
      h, w = map(int, FLAGS.size.split("x"))
      video = os.path.join(work, "clip.mp4")
      make_clip(video, h, w, FLAGS.frames)
    names = ["per_frame", *FLAGS.variants]
    if FLAGS.model_dir:
      nets = model_dir_lib.load_all(FLAGS.model_dir, names, strict=False)
    else:
      nets = twnet.build_all(config_lib.PRESETS[FLAGS.preset], names)
    cfg = nets["per_frame"].config
    paths, bases = [], {}  # bases: path name -> the per-frame path with the same folding
    for fold_flag in FLAGS.fold_batch_norms:
      if fold_flag.lower() not in ("true", "false"):
        raise ValueError(f"--fold_batch_norms: 'true' or 'false', got {fold_flag!r}")
      fold = fold_flag.lower() == "true"
      tag = ", folded" if fold else ""
      base = f"per_frame (every frame{tag})"
      paths.append((base, runner.StreamSegmenter(nets["per_frame"], scheduler="every", fold_batch_norms=fold)))
      bases[base] = base
      for n in FLAGS.variants:
        seg = runner.StreamSegmenter(nets[n], "gop", fold_batch_norms=fold)
        paths.append((f"{n} (GOP{tag})", seg))
        bases[paths[-1][0]] = base
    print(f"video {FLAGS.video or f'generated {FLAGS.size}, {FLAGS.frames} frames'}; model {cfg}")
    best = {}
    for r in range(FLAGS.repeats + 1):  # pass 0 warms up (tracing), not reported
      for name, seg in paths:
        out = os.path.join(work, "out.mp4")
        labels = os.path.join(work, f"labels_{r}_{len(best)}") if FLAGS.labels_only else None
        stats = segment.segment_video(video, seg, None if FLAGS.labels_only else out, labels,
                                      max_frames=FLAGS.max_frames)
        if r and (name not in best or stats.total_seconds < best[name].total_seconds):
          best[name] = stats
    fps = lambda s, t: s.frames / t
    print(f"\n{best[paths[0][0]].frames} frames, best of {FLAGS.repeats}; output: "
          f"{'labelId PNGs' if FLAGS.labels_only else 'overlay video'}")
    print("| path | total FPS | speed-up | network FPS | speed-up | key frames |\n|---|---|---|---|---|---|")
    for name, _ in paths:
      s, base = best[name], best[bases[name]]
      print(f"| {name} | {fps(s, s.total_seconds):.2f} | {base.total_seconds / s.total_seconds:.2f}x | "
            f"{fps(s, s.network_seconds):.2f} | {base.network_seconds / s.network_seconds:.2f}x | {s.key_frames} |")


if __name__ == "__main__":
  cli.run(main)

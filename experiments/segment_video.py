r"""Segment a video: any codec in, colourised overlay video and/or label PNGs out (in the model's classes).

  python -m experiments.segment_video --video=clip.mp4 --checkpoint=runs/cpu --output=out.mp4
  python -m experiments.segment_video --video=rtsp://camera/stream --checkpoint=runs/cpu --label_dir=labels
  some_producer | python -m experiments.segment_video --video=pipe:0 --checkpoint=runs/cpu --output=out.mp4

The input (a file, a pipe or FIFO, a growing file, a URL FFmpeg opens) is transcoded to the
canonical MPEG-4 Part 2 stream (GOP 12, no B-frames) frame by frame in memory when it is not
already canonical, and run through the per-frame CNN on key frames and the non-key-frame
model (--variant) on the others, as --scheduler decides. Decoding, the network and writing
run concurrently. Prints network and total FPS, and how long the network waited for the
other two stages.

  --flow=dis                   warp with DIS optical flow instead of the codec's vectors
  --temporal_consistency       also report how stable the labels are from frame to frame (DIS
                               flow, forward-backward consistent pixels): no labels needed;
                               with it, --output and --label_dir are optional
"""

import os
import sys

from absl import flags

from tw_keras import cli


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("video", None, "Input video (any format FFmpeg reads).", required=True)
  flags.DEFINE_string("checkpoint", None, "Trained model directory (experiments.train --model_dir).",
                      required=True)
  flags.DEFINE_string("output", None, "Overlay video to write (.mp4); optional with --label_dir.")
  flags.DEFINE_string("variant", None, "Non-key-frame variant; 'per_frame' for none. Default: the model "
                      "directory's own (default_variant.json, which releases write), else layer1_cfr_rga where "
                      "it is trained, else per_frame.")
  flags.DEFINE_string("scheduler", "gop", "gop | every | fixed:K | adaptive[:score=S][,residual=R]; "
                      "with --variant=per_frame only gop (the default) or every, both meaning every frame.")
  flags.DEFINE_string("label_dir", None, "Also write label PNGs per frame here (the model dataset's encoding: Cityscapes labelIds, else train ids).")
  flags.DEFINE_integer("max_frames", 0, "Stop after this many frames (0 = all).")
  flags.DEFINE_bool("xla", False, "jit_compile the networks.")
  flags.DEFINE_bool("fold_batch_norms", True, "Run inference copies with the batch norms folded into the "
                    "convolutions (faster; the same labels up to float32 rounding).")
  flags.DEFINE_enum("flow", "codec", ["codec", "dis"], "Non-key frames' motion: the codec's block vectors, or "
                    "OpenCV's DIS optical flow from the previous frame (slower; FPS counts it).")
  flags.DEFINE_bool("temporal_consistency", False, "Report the labels' temporal consistency (percent; DIS "
                    "flow on forward-backward consistent pixels).")
  flags.DEFINE_integer("transcode_workers", 0, "GOPs transcoded at once when the video is not canonical "
                       "(0: one per core, at most 4). More than 1 adds about one GOP (0.7 s at 17 fps) of "
                       "latency on a live source; 1 hands each frame on at once.")
  flags.DEFINE_enum("motion_source", "auto", ["auto", "native", "transcode"], "The non-key frames' codec "
                    "motion: the stream's own vectors where they are unambiguous (no B-frames, one reference "
                    "frame; H.264, MPEG-4 Part 2, H.263), else transcoded to the canonical MPEG-4 stream (auto); "
                    "always its own (native: an error if ambiguous); always transcoded (transcode).")
  flags.DEFINE_float("tune_key_rate", 0.0, "With --scheduler=adaptive: first tune the score threshold on this "
                     "(unlabelled) video to reach this key-frame rate, e.g. 0.1.")


def build_segmenter(model_dir, variant_name, scheduler, xla=False, fold_batch_norms=True, flow="codec"):
  from tw_keras.inference import runner, schedulers  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  net = model_dir_lib.load(model_dir, variant_name or model_dir_lib.default_variant(model_dir))
  if not net.has_non_key_frames:
    if schedulers.parse(scheduler).kind not in (schedulers.ScheduleKind.GOP, schedulers.ScheduleKind.EVERY):
      raise ValueError(f"--scheduler={scheduler}: --variant=per_frame segments every frame with the "
                       "per-frame CNN; pick a non-key-frame variant to use a key-frame scheduler")
    scheduler = "every"
  return runner.StreamSegmenter(net, scheduler, xla=xla, fold_batch_norms=fold_batch_norms,
                                flow=flow)


def main(argv):
  del argv
  from tw_keras.inference import schedulers  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import segment, tuning  # pylint: disable=g-import-not-at-top
  schedulers.parse(FLAGS.scheduler)
  if not FLAGS.output and not FLAGS.label_dir and not FLAGS.temporal_consistency:
    raise ValueError("give --output (an overlay video), --label_dir (label PNGs), --temporal_consistency, "
                     "or several")
  segment.check_outputs(FLAGS.output, FLAGS.label_dir)  # before the model loads
  segmenter = build_segmenter(FLAGS.checkpoint, FLAGS.variant, FLAGS.scheduler, FLAGS.xla,
                              FLAGS.fold_batch_norms, FLAGS.flow)
  if FLAGS.tune_key_rate:
    if not segmenter.scheduler.is_adaptive:
      raise ValueError("--tune_key_rate needs --scheduler=adaptive")
    threshold = tuning.tune_adaptive(FLAGS.video, segmenter, FLAGS.tune_key_rate)
    segmenter.scheduler = schedulers.parse(f"adaptive:score={threshold:.4f}")
    print(f"tuned adaptive threshold: score={threshold:.4f} for a key-frame rate of {FLAGS.tune_key_rate}")
  stats = segment.segment_video(FLAGS.video, segmenter, FLAGS.output, FLAGS.label_dir,
                                max_frames=FLAGS.max_frames, temporal_consistency=FLAGS.temporal_consistency,
                                workers=FLAGS.transcode_workers, motion_source=FLAGS.motion_source)
  print(stats.line())
  if stats.corrupt_warning(FLAGS.video):
    print(stats.corrupt_warning(FLAGS.video), file=sys.stderr, flush=True)
  if FLAGS.output:
    print(f"overlay video: {os.path.abspath(FLAGS.output)}")
  if FLAGS.label_dir:
    print(f"label PNGs: {os.path.abspath(FLAGS.label_dir)}")


if __name__ == "__main__":
  define_flags()
  cli.run(main)

r"""Turns a dataset into sharded TFRecords of compressed-domain GOPs.

Datasets (`--dataset`):

* `synthetic`: renders the project's own labelled street-scene benchmark
  (`tw_keras.data.synthetic`) into `--input_dir` (default `OUTPUT_DIR/synthetic_cityscapes`)
  in Cityscapes layout, then converts it exactly as `cityscapes`.
* `cityscapes`: a Cityscapes-layout tree::

    INPUT_DIR/leftImg8bit_sequence/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png
    INPUT_DIR/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelTrainIds.png
                                  (or ..._gtFine_labelIds.png, converted to trainIds)

  Frames `--first_frame` .. `--first_frame + --num_frames - 1` of each snippet (default
  8..19) are encoded as one GOP (docs/CONVENTIONS.md); frame `--annotated_frame` (19) must have a
  label, other frames use theirs when present.
* `camvid`: SegNet's CamVid split, paired with the 30 Hz recordings::

    INPUT_DIR/{train,val,test}annot/{seq}_{n}.png   index labels 0..10, 11 = void
    INPUT_DIR/videos/{seq}.{ext}                     the sequence's video

  `n` (0001TP_006690, 0006R0_f00930, Seq05VD_f00000, 0016E5_00390) is the frame's number in
  its video, plus the descriptor's `frame_offsets` for the sequence. Labels (480x360 in
  SegNet's copy) are resized nearest-neighbour to the frames (960x720).
* `labelled_video`: a user's own labelled videos::

    INPUT_DIR/dataset.json                           the dataset descriptor (tw_keras/dataset_info.py)
    INPUT_DIR/{split}/videos/{name}.{ext}            any container FFmpeg reads
    INPUT_DIR/{split}/labels/{name}_{frame:06d}.png  frame = 0-based decoded frame of that video

  For camvid and labelled_video each labelled frame becomes one GOP: the `--num_frames`
  frames (default 12, at most `--gop`) ending at it, the last one labelled and scored. A
  labelled frame with a shorter history is skipped; the count is printed.
* `video`: every file under `--input_dir` is a video in any codec FFmpeg reads;
  unlabelled; one record per GOP.

Labels are validated against the dataset descriptor (`--descriptor`: a built-in name --
cityscapes, camvid, synthetic -- or a JSON file; default the layout's own): a value (or
colour) that is neither a class nor ignore stops the job with the file, the values and their
pixel counts. The descriptor is written as `OUTPUT_DIR/dataset.json`; training copies it into
the model directory.

Each source is transcoded to MPEG-4 Part 2 Simple Profile with a strict GOP (`--gop`,
default 12 = I + 11 P, no B-frames, no scene-cut I-frames, constant `--qscale`; or with
`--codec=h264` to H.264 with one reference and the same GOP, constant `--qp`), decoded
once, and written as one `tf.train.SequenceExample` per GOP. Features (keys in
`tw_keras/data/features.py`):

  context:   sequence/id, sequence/gop_index, sequence/height, sequence/width,
             sequence/gop, motion/cell, residual/mode
  per frame: frame/index, frame/pict_type (I/P), image/encoded (PNG RGB),
             motion/encoded (zlib int16 quarter-pel (dx, dy) = dst - src per 8x8 block),
             label/encoded (PNG trainIds, or empty)

The residual is not stored: the model computes it from the previous frame and the block grid,
in training, evaluation and serving alike (docs/CONVENTIONS.md).

Output: `OUTPUT_DIR/{split}-%05d-of-%05d.tfrecord`, sharded by sequence, plus
`OUTPUT_DIR/dataset.json` (the descriptor) and `OUTPUT_DIR/build_report.json` (the counts). Rerunning skips finished shards (resumable).

Sample command::

  python -m data_prep.build_tfrecords --dataset=synthetic --output_dir=/tmp/tw_data

Bad input (a non-video file, an empty or truncated video, zero frames, a missing label,
frame and label size mismatch, an unwritable output directory) stops the job with one line
`error: FILE: PROBLEM` and exit status 1; no partial shard is left behind.
"""

import dataclasses
import shlex

from absl import flags

from tw_keras import cli
from tw_keras.data import build

FLAGS = flags.FLAGS
_D = build.BuildConfig()  # the defaults live in one place


def define_flags():
  flags.DEFINE_enum("dataset", _D.dataset, list(build.DATASETS), "Input kind.")
  flags.DEFINE_string("input_dir", None, "Dataset root (cityscapes, video); for synthetic, where "
                      "to render it (default OUTPUT_DIR/synthetic_cityscapes).")
  flags.DEFINE_string("output_dir", None, "Where shards are written.", required=True)
  flags.DEFINE_list("splits", list(_D.splits), "Splits to convert (cityscapes, synthetic). For "
                    "video, the single split name used in shard names.")
  flags.DEFINE_integer("sequences_per_shard", _D.sequences_per_shard, "Sequences (snippets or videos) per shard.")
  flags.DEFINE_integer("workers", _D.workers, "Parallel worker processes.")
  flags.DEFINE_integer("gop", _D.gop, "GOP length: 1 I-frame + gop-1 P-frames.")
  flags.DEFINE_integer("qscale", _D.qscale, "Constant MPEG-4 quantiser (2 best .. 31).")
  flags.DEFINE_integer("fps", _D.fps, "Frame rate of the canonical stream.")
  flags.DEFINE_enum("codec", _D.codec, ["mpeg4", "h264"], "The canonical codec: MPEG-4 Part 2 (the paper's), "
                    "or H.264 (x264: no B-frames, one reference, the same strict GOP, constant --qp; its own "
                    "4x4 motion, as live cameras send it).")
  flags.DEFINE_integer("qp", _D.qp, "Constant x264 quantiser with --codec=h264 (0 .. 51).")
  flags.DEFINE_enum("residual_mode", _D.residual_mode, ["step", "accumulate"], "Residual reference: the "
                    "previous frame (TWNet) or the GOP's I-frame (CoViAR/TapLab).")
  flags.DEFINE_integer("first_frame", _D.first_frame, "First snippet frame encoded (cityscapes, synthetic).")
  flags.DEFINE_integer("num_frames", _D.num_frames, "Snippet frames encoded; 0 = all from first_frame.")
  flags.DEFINE_integer("annotated_frame", _D.annotated_frame, "Snippet frame that must be labelled; -1 = none.")
  flags.DEFINE_integer("synthetic_height", _D.synthetic_height, "Synthetic frame height.")
  flags.DEFINE_integer("synthetic_width", _D.synthetic_width, "Synthetic frame width.")
  flags.DEFINE_integer("synthetic_train", _D.synthetic_train, "Synthetic training snippets.")
  flags.DEFINE_integer("synthetic_val", _D.synthetic_val, "Synthetic validation snippets.")
  flags.DEFINE_integer("seed", _D.seed, "Synthetic benchmark seed.")
  flags.DEFINE_bool("synthetic_flow", _D.synthetic_flow, "Synthetic: also write each frame's exact flow from the "
                    "previous frame and its valid mask (INPUT_DIR/flow/; about 0.9 MB per 256x512 frame).")
  flags.DEFINE_string("descriptor", None, "Dataset descriptor: a built-in name (cityscapes, camvid, synthetic) "
                      "or a JSON file; default the layout's own (labelled_video: INPUT_DIR/dataset.json).")
  flags.DEFINE_string("input_pattern", None, "video: a file pattern instead of --input_dir (may be a "
                      "remote URI, e.g. gs://bucket/videos/*.mp4).")
  flags.DEFINE_bool("allow_corrupt_frames", _D.allow_corrupt_frames, "Keep a video whose decoder flags frames "
                    "as corrupt (damage FFmpeg concealed) and list them in build_report.json; by default such a "
                    "video stops the job with one line naming it and the frames.")
  flags.DEFINE_list("still_clips", list(_D.still_clips), "camvid: splits whose labelled stills become "
                    "--num_frames-frame clips, each a camera-like path of homographies over one still, written to "
                    "OUTPUT_DIR/still_clips/ and encoded like any video (stage 2 on SegNet's 1 Hz train stills).")
  flags.DEFINE_integer("clips_per_still", _D.clips_per_still, "--still_clips: clips drawn per still.")
  flags.DEFINE_string("input_list", None, "video: a text file naming one video (path or URI) per line.")
  flags.DEFINE_string("runner", "", "Empty: the local process pool (default). Otherwise an Apache Beam "
                      "runner (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner, PortableRunner); "
                      'needs pip install -e ".[beam]".')
  flags.DEFINE_string("beam_args", "", "Further Beam pipeline options, one string, e.g. "
                      '"--direct_num_workers=2 --direct_running_mode=multi_processing" or '
                      '"--project=P --region=R --temp_location=gs://B/tmp".')


def config_from_flags() -> build.BuildConfig:
  return build.BuildConfig(**{f.name: getattr(FLAGS, f.name) for f in dataclasses.fields(build.BuildConfig)})


def main(argv):
  del argv
  config = config_from_flags()
  if config.dataset != "synthetic" and not (config.input_dir or config.input_pattern or config.input_list):
    raise ValueError(f"--dataset={config.dataset} needs --input_dir"
                     + (" (or --input_pattern / --input_list)" if config.dataset == "video" else ""))
  if not FLAGS.runner:
    build.build(config)
    return
  try:
    from tw_keras.data import beam_build  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ValueError(f"--runner={FLAGS.runner} needs Apache Beam: pip install -e \".[beam]\" ({e})") from None
  beam_build.run(config, FLAGS.runner, shlex.split(FLAGS.beam_args))


if __name__ == "__main__":
  define_flags()
  cli.run(main)

r"""Turns a dataset into sharded TFRecords of compressed-domain GOPs.

Datasets (`--dataset`):

* `synthetic`: renders the project's own labelled street-scene benchmark
  (`tw_keras.synthetic`) into `--input_dir` (default `OUTPUT_DIR/synthetic_cityscapes`)
  in Cityscapes layout, then converts it exactly as `cityscapes`.
* `cityscapes`: a Cityscapes-layout tree::

    INPUT_DIR/leftImg8bit_sequence/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png
    INPUT_DIR/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelTrainIds.png
                                  (or ..._gtFine_labelIds.png, converted to trainIds)

  Frames `--first_frame` .. `--first_frame + --num_frames - 1` of each snippet (default
  8..19) are encoded as one GOP (REFERENCE.md); frame `--annotated_frame` (19) must have a
  label, other frames use theirs when present.
* `video`: every file under `--input_dir` is a video in any codec FFmpeg reads;
  unlabelled; one record per GOP.

Each source is transcoded to MPEG-4 Part 2 Simple Profile with a strict GOP (`--gop`,
default 12 = I + 11 P, no B-frames, no scene-cut I-frames, constant `--qscale`), decoded
once, and written as one `tf.train.SequenceExample` per GOP. Features (keys in
`tw_keras/common.py`):

  context:   sequence/id, sequence/gop_index, sequence/height, sequence/width,
             sequence/gop, motion/cell, residual/mode
  per frame: frame/index, frame/pict_type (I/P), image/encoded (PNG RGB),
             motion/encoded (zlib int16 quarter-pel (dx, dy) = dst - src per 8x8 block),
             residual/encoded (zlib int16 [H, W, 3], I_t - I_{t-1}(p - mv)),
             label/encoded (PNG trainIds, or empty)

Output: `OUTPUT_DIR/{split}-%05d-of-%05d.tfrecord`, sharded by sequence, plus
`OUTPUT_DIR/dataset_info.json`. Rerunning skips finished shards (resumable).

Sample command::

  python -m data_prep.build_tfrecords --dataset=synthetic --output_dir=/tmp/tw_data

Bad input (a non-video file, an empty or truncated video, zero frames, a missing label,
frame/label size mismatch, an unwritable output directory) stops the job with one line
`error: FILE: PROBLEM` and exit status 1; no partial shard is left behind.
"""

import os
import time

from absl import flags
import tqdm

from tw_keras import cli, codec, fileio, prepare, synthetic

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_enum("dataset", "synthetic", ["synthetic", "cityscapes", "video"], "Input kind.")
  flags.DEFINE_string("input_dir", None, "Dataset root (cityscapes, video); for synthetic, where "
                      "to render it (default OUTPUT_DIR/synthetic_cityscapes).")
  flags.DEFINE_string("output_dir", None, "Where shards are written.", required=True)
  flags.DEFINE_list("splits", ["train", "val"], "Splits to convert (cityscapes, synthetic). For "
                    "video, the single split name used in shard names.")
  flags.DEFINE_integer("sequences_per_shard", 8, "Sequences (snippets or videos) per shard.")
  flags.DEFINE_integer("workers", os.cpu_count() or 1, "Parallel worker processes.")
  flags.DEFINE_integer("gop", 12, "GOP length: 1 I-frame + gop-1 P-frames.")
  flags.DEFINE_integer("qscale", 3, "Constant MPEG-4 quantiser (2 best .. 31).")
  flags.DEFINE_integer("fps", 17, "Frame rate of the canonical stream.")
  flags.DEFINE_enum("residual_mode", "step", ["step", "accumulate"], "Residual reference: the "
                    "previous frame (TWNet) or the GOP's I-frame (CoViAR/TapLab).")
  flags.DEFINE_integer("first_frame", 8, "First snippet frame encoded (cityscapes, synthetic).")
  flags.DEFINE_integer("num_frames", 12, "Snippet frames encoded; 0 = all from first_frame.")
  flags.DEFINE_integer("annotated_frame", 19, "Snippet frame that must be labelled; -1 = none.")
  flags.DEFINE_integer("synthetic_height", 256, "Synthetic frame height.")
  flags.DEFINE_integer("synthetic_width", 512, "Synthetic frame width.")
  flags.DEFINE_integer("synthetic_train", 24, "Synthetic training snippets.")
  flags.DEFINE_integer("synthetic_val", 8, "Synthetic validation snippets.")
  flags.DEFINE_integer("seed", 0, "Synthetic benchmark seed.")


def render_synthetic(root, config, workers):
  jobs = synthetic.snippets(config)
  with tqdm.tqdm(total=len(jobs), desc="render synthetic", unit="seq", disable=None) as bar:
    if workers > 1:
      import multiprocessing  # pylint: disable=g-import-not-at-top
      with multiprocessing.get_context("spawn").Pool(workers, initializer=prepare.ignore_sigint) as pool:
        for _ in pool.imap_unordered(_render_one, [(config, root, *j) for j in jobs]):
          bar.update(1)
    else:
      for j in jobs:
        _render_one((config, root, *j))
        bar.update(1)


def _render_one(args):
  return synthetic.write_snippet(*args)


def run(argv_flags=FLAGS):
  f = argv_flags
  options = prepare.PrepOptions(codec.EncodeOptions(f.gop, f.qscale, f.fps), f.residual_mode)
  start = time.time()
  report = {"dataset": f.dataset, "gop": f.gop, "qscale": f.qscale, "residual_mode": f.residual_mode,
            "splits": {}}
  prepare.check_writable(f.output_dir)
  with fileio.DirectoryLock(f.output_dir):  # one job per output directory, released even by kill -9
    return _run_locked(f, options, report, start)


def _run_locked(f, options, report, start):
  input_dir = f.input_dir
  if f.dataset == "synthetic":
    input_dir = input_dir or os.path.join(f.output_dir, "synthetic_cityscapes")
    config = synthetic.SyntheticConfig(
        height=f.synthetic_height, width=f.synthetic_width, seed=f.seed,
        sequences=tuple((s, {"train": f.synthetic_train, "val": f.synthetic_val}.get(s, f.synthetic_val))
                        for s in f.splits))
    t = time.time()
    render_synthetic(input_dir, config, f.workers)
    report["synthetic_render_seconds"] = round(time.time() - t, 2)
    report["synthetic_root"] = input_dir
  if input_dir is None:
    raise codec.VideoError("--input_dir", "required for this dataset")
  splits = f.splits if f.dataset != "video" else ([f.splits[0]] if f.splits != ["train", "val"] else ["video"])
  for split in splits:
    if f.dataset == "video":
      sources = prepare.find_video_sources(input_dir)
    else:
      sources = prepare.find_cityscapes_sources(
          input_dir, split, f.first_frame, f.num_frames or None,
          f.annotated_frame if f.annotated_frame >= 0 else None)
    shards = -(-len(sources) // max(1, f.sequences_per_shard))
    with tqdm.tqdm(total=len(sources), desc=f"{split} -> tfrecords", unit="seq", disable=None) as bar:
      summary = prepare.write_shards(sources, f.output_dir, split, shards, options, f.workers,
                                     progress=bar.update)
    report["splits"][split] = summary
    print(f"{split}: {summary['sequences']} sequences, {summary['gops']} GOPs, {summary['frames']} "
          f"frames ({summary['sequences_written']} sequences written in {summary['seconds']} s); "
          f"{summary['shards']} shards ({summary['shards_skipped']} already done, skipped); "
          f"{summary['bytes'] / 2**20:.1f} MiB, {summary['bytes_per_frame'] / 1024:.0f} KiB/frame")
  report["seconds"] = round(time.time() - start, 2)
  prepare.write_json_atomic(os.path.join(f.output_dir, prepare.common.DATASET_INFO), report)
  print(f"done in {report['seconds']} s; shards and dataset_info.json in {f.output_dir}")
  return report


def main(argv):
  del argv
  run()


if __name__ == "__main__":
  define_flags()
  cli.run(main)

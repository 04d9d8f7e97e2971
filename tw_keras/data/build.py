"""The TFRecord build job: a dataset in, sharded compressed-domain GOP records out.

`BuildConfig` is every setting of the job (its defaults are the CLI's defaults);
`build(config)` runs it with the local process pool (`shards.write_shards`), under a lock
on the output directory, and writes the dataset descriptor (`dataset.json`,
`tw_keras.dataset_info`) and `build_report.json`. `data_prep/build_tfrecords.py` turns flags
into a `BuildConfig`; the demo builds one directly.
"""

import dataclasses
import functools
import glob
import itertools
import os
import time
from typing import Dict, List, Optional, Tuple

import tqdm

from tw_keras import dataset_info, fileio
from tw_keras.errors import InputError
from tw_keras.data import features, layouts, prepare, shards, still_clips, synthetic
from tw_keras.video import codec

DATASETS = ("synthetic", "cityscapes", "camvid", "labelled_video", "video")
WINDOWED = ("camvid", "labelled_video")  # a window of num_frames frames ending at each labelled frame
# Each layout's descriptor unless --descriptor names another; None: unlabelled.
DEFAULT_DESCRIPTOR = {"synthetic": "synthetic", "cityscapes": "cityscapes", "camvid": "camvid",
                      "labelled_video": None, "video": None}


@dataclasses.dataclass(frozen=True)
class BuildConfig:
  """Attributes:
    dataset: the layout (`data_prep/build_tfrecords.py` documents each): "synthetic" (render
      the built-in benchmark, then convert it as cityscapes), "cityscapes", "camvid",
      "labelled_video" (a user's own), or "video" (every video file under input_dir, unlabelled).
    descriptor: the dataset descriptor: a built-in name or a JSON file (default: the layout's own;
      labelled_video: INPUT_DIR/dataset.json).
    output_dir: where shards and build_report.json go.
    input_dir: dataset root; for synthetic, where it is rendered (default
      OUTPUT_DIR/synthetic_cityscapes).
    splits: splits to convert; for video, the single split name used in shard names
      (default "video").
    sequences_per_shard: sequences (snippets or videos) per shard.
    workers: parallel worker processes.
    gop, qscale, fps: the canonical MPEG-4 Part 2 stream (1 I + gop-1 P, constant quantiser).
    codec, qp: "mpeg4" (the paper's), or "h264": x264 with no B-frames, one reference and the
      same strict GOP at constant QP `qp` (its own 4x4 motion; `codec.EncodeOptions`).
    residual_mode: "step" (previous frame, TWNet) or "accumulate" (the GOP's I-frame).
    first_frame, num_frames, annotated_frame: which snippet frames are encoded (8..19) and
      which must be labelled (19; -1 = none). num_frames 0 = all from first_frame. For
      camvid and labelled_video, num_frames (1..gop) frames end at each labelled frame.
    synthetic_*: size and snippet counts of the built-in benchmark, and whether its exact flow
      is written too (ROOT/flow/, `synthetic` module doc); seed: its seed (and the still clips').
    still_clips: camvid only: splits whose labelled stills become clips of `num_frames` frames,
      `clips_per_still` per still, each a camera-like path of homographies over the still
      (`still_clips`), written to OUTPUT_DIR/still_clips/ and encoded like any video.
    input_pattern, input_list: video only, instead of input_dir: a file pattern (glob; may
      be a remote URI such as gs://bucket/videos/*.mp4) or a text file (local or remote)
      naming one video per line.
  """
  dataset: str = "synthetic"
  output_dir: Optional[str] = None
  input_dir: Optional[str] = None
  splits: Tuple[str, ...] = ("train", "val")
  sequences_per_shard: int = 8
  workers: int = os.cpu_count() or 1
  gop: int = 12
  qscale: int = 3
  fps: int = 17
  codec: str = "mpeg4"
  qp: int = 20
  residual_mode: str = "step"
  first_frame: int = 8
  num_frames: int = 12
  annotated_frame: int = 19
  synthetic_height: int = 256
  synthetic_width: int = 512
  synthetic_train: int = 24
  synthetic_val: int = 8
  synthetic_flow: bool = False
  seed: int = 0
  input_pattern: Optional[str] = None
  input_list: Optional[str] = None
  descriptor: Optional[str] = None
  allow_corrupt_frames: bool = False
  still_clips: Tuple[str, ...] = ()
  clips_per_still: int = 1

  def __post_init__(self):
    if self.dataset not in DATASETS:
      raise ValueError(f"unknown dataset {self.dataset!r}: use one of {', '.join(DATASETS)}")
    object.__setattr__(self, "still_clips", tuple(self.still_clips))
    if self.still_clips and self.dataset != "camvid":
      raise ValueError(f"--still_clips: clips are made from CamVid's stills (--dataset=camvid), not {self.dataset}")
    if set(self.still_clips) - set(self.splits):
      raise ValueError(f"--still_clips={','.join(self.still_clips)}: each must be one of --splits={','.join(self.splits)}")
    if self.dataset in WINDOWED and not 1 <= self.num_frames <= self.gop:
      raise ValueError(f"--dataset={self.dataset}: --num_frames must be 1..{self.gop} (the GOP), "
                       f"got {self.num_frames}")
    object.__setattr__(self, "splits", tuple(self.splits))

  @functools.cached_property
  def info(self) -> Optional[dataset_info.DatasetInfo]:
    """The dataset descriptor the labels are read with (None: unlabelled video); read once."""
    name = self.descriptor or DEFAULT_DESCRIPTOR[self.dataset]
    if name is None and self.dataset == "labelled_video":
      name = os.path.join(self.input_dir or "", dataset_info.DESCRIPTOR)
      if not os.path.exists(name):
        raise InputError(name, "missing: a labelled_video tree carries its dataset descriptor "
                               "(or give --descriptor)")
    return dataset_info.load(name) if name else None

  @property
  def prep_options(self) -> prepare.PrepOptions:
    return prepare.PrepOptions(codec.EncodeOptions(self.gop, self.qscale, self.fps, self.codec, self.qp),
                               self.residual_mode,
                               self.info or dataset_info.CITYSCAPES, self.allow_corrupt_frames)

  @property
  def synthetic_config(self) -> synthetic.SyntheticConfig:
    counts = {"train": self.synthetic_train, "val": self.synthetic_val}
    return synthetic.SyntheticConfig(height=self.synthetic_height, width=self.synthetic_width, seed=self.seed,
                                     flow=self.synthetic_flow,
                                     sequences=tuple((s, counts.get(s, self.synthetic_val)) for s in self.splits))

  @property
  def source_root(self) -> Optional[str]:
    if self.dataset == "synthetic":
      return self.input_dir or synthetic.default_root(self.output_dir)
    return self.input_dir

  @property
  def still_clips_root(self) -> str:
    return os.path.join(self.output_dir or "", "still_clips")

  @property
  def output_splits(self) -> Tuple[str, ...]:
    if self.dataset == "video":
      return (self.splits[0],) if self.splits != ("train", "val") else ("video",)
    return self.splits


def render_synthetic(root: str, config: synthetic.SyntheticConfig, workers: int):
  """Renders the built-in benchmark into `root` (Cityscapes layout), in parallel."""
  jobs = synthetic.snippets(config)
  with tqdm.tqdm(total=len(jobs), desc="render synthetic", unit="seq", disable=None) as bar:
    if workers > 1:
      import multiprocessing  # pylint: disable=g-import-not-at-top
      with multiprocessing.get_context("spawn").Pool(workers, initializer=shards.ignore_sigint) as pool:
        for _ in pool.imap_unordered(_render_one, [(config, root, *j) for j in jobs]):
          bar.update(1)
    else:
      for j in jobs:
        _render_one((config, root, *j))
        bar.update(1)


def _render_one(args):
  return synthetic.write_snippet(*args)


def write_still_clips(config: BuildConfig, log=print):
  """The still clips of `config.still_clips` (resumable: finished clips are kept), at the
  stills' multiple-of-32 interior (352x480 for SegNet's 480x360)."""
  for split in config.still_clips:
    stills = still_clips.camvid_stills(config.input_dir, split)
    first = next(stills)
    h, w = first[1].shape[:2]
    size = (h // 32 * 32, w // 32 * 32)
    n = still_clips.write_clips(itertools.chain([first], stills), config.still_clips_root, split,
                                config.info, size, config.num_frames, config.clips_per_still, seed=config.seed)
    log(f"{split}: {n} clip(s) of {config.num_frames} frames at {size[1]}x{size[0]} from its stills "
        f"in {config.still_clips_root}")


def report_header(config: BuildConfig, **extra) -> Dict[str, object]:
  """The report's settings, the same for every runner."""
  return {"dataset": config.dataset, "codec": config.codec, "gop": config.gop, "qscale": config.qscale,
          "residual_mode": config.residual_mode, **extra, "splits": {}}


def make_inputs(config: BuildConfig, report: Dict[str, object], log=print):
  """What a build renders before it reads its sources (every runner): the built-in benchmark
  (synthetic) or the still clips (`still_clips`); their times and roots go into `report`."""
  if config.dataset == "synthetic":
    t = time.time()
    render_synthetic(config.source_root, config.synthetic_config, config.workers)
    report["synthetic_render_seconds"] = round(time.time() - t, 2)
    report["synthetic_root"] = config.source_root
  if config.still_clips:
    t = time.time()
    write_still_clips(config, log)
    report["still_clips_seconds"] = round(time.time() - t, 2)
    report["still_clips_root"] = config.still_clips_root


def _listed_inputs(config: BuildConfig) -> List[str]:
  paths = []
  if config.input_pattern:
    if fileio.is_remote(config.input_pattern):
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      paths += tf.io.gfile.glob(config.input_pattern)
    else:
      paths += [p for p in glob.glob(config.input_pattern, recursive=True) if os.path.isfile(p)]
  if config.input_list:
    try:
      with fileio.open_file(config.input_list, "r") as f:
        paths += [l.strip() for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
    except Exception as e:  # pylint: disable=broad-except
      raise InputError(config.input_list, f"cannot read the input list ({e})") from None
  return paths


def find_sources(config: BuildConfig, split: str) -> Tuple[List[prepare.Source], int]:
  """(the sequences of one split, in a stable order (the shard order), labelled frames
  skipped for too short a history (camvid, labelled_video))."""
  if config.dataset == "video" and (config.input_pattern or config.input_list):
    paths = _listed_inputs(config)
    if not paths:
      raise InputError(config.input_pattern or config.input_list, "matched no video files")
    return layouts.video_sources_from_paths(paths), 0
  root = config.source_root
  if root is None:
    raise ValueError(f"dataset {config.dataset!r} needs an input directory (BuildConfig.input_dir)")
  if config.dataset == "video":
    return layouts.find_video_sources(root), 0
  if config.dataset == "camvid" and split in config.still_clips:
    return layouts.find_labelled_video_sources(config.still_clips_root, split, config.info, config.num_frames)
  if config.dataset == "camvid":
    return layouts.find_camvid_sources(root, split, config.info, config.num_frames)
  if config.dataset == "labelled_video":
    return layouts.find_labelled_video_sources(root, split, config.info, config.num_frames)
  return layouts.find_cityscapes_sources(root, split, config.first_frame, config.num_frames or None,
                                         config.annotated_frame if config.annotated_frame >= 0 else None), 0


def skipped_line(split: str, skipped: int, num_frames: int) -> str:
  return (f"{split}: {skipped} labelled frame(s) end no GOP: fewer than {num_frames - 1} frames before them "
          "in their video (never scored; stage 2 still trains on those inside a GOP)")


def formed_line(split: str, sources: List[prepare.Source], skipped: int) -> Optional[str]:
  """What a windowed layout (camvid, labelled_video) formed for one split: videos and their
  GOPs (one per labelled frame with its history), single-frame samples, frames skipped."""
  windowed = [s for s in sources if s.windows]
  single = sum(1 for s in sources if not s.windows and len(s.images) == 1)
  if not windowed and not single:
    return None
  return (f"{split}: {len(windowed)} video(s) -> {sum(len(s.windows) for s in windowed)} GOPs; "
          f"{single} single-frame sample(s); {skipped} labelled frame(s) end no GOP (too short a history)")


def corrupt_line(split: str, corrupt: Dict[str, List[int]]) -> str:
  """The warning line of frames kept though the decoder flagged them (--allow_corrupt_frames)."""
  return (f"warning: {split}: kept {sum(map(len, corrupt.values()))} frame(s) the decoder flagged as corrupt "
          "(--allow_corrupt_frames; build_report.json lists them): " +
          "; ".join(f"{seq}: {codec.sources.format_frames(f)}" for seq, f in sorted(corrupt.items())))


def check_descriptor(config: BuildConfig, output_dir: str):
  """Before any work: refuses an output directory that holds records of another class table."""
  dataset_info.check_directory(output_dir, config.info, "records directory")


def write_descriptor(config: BuildConfig, output_dir: str):
  """`output_dir/dataset.json`, written with the build report once every split is done."""
  if config.info is not None:
    dataset_info.write_to_directory(output_dir, config.info, "records directory")


def num_shards(config: BuildConfig, num_sources: int) -> int:
  return -(-num_sources // max(1, config.sequences_per_shard))


def split_line(split: str, summary: Dict[str, object]) -> str:
  """The one-line summary of a converted split."""
  return (f"{split}: {summary['sequences']} sequences, {summary['gops']} GOPs, {summary['frames']} "
          f"frames ({summary['sequences_written']} sequences written in {summary['seconds']} s); "
          f"{summary['shards']} shards ({summary['shards_skipped']} already done, skipped); "
          f"{summary['bytes'] / 2**20:.1f} MiB, {summary['bytes_per_frame'] / 1024:.0f} KiB/frame")


def build(config: BuildConfig, log=print) -> Dict[str, object]:
  """Runs the job with the local process pool; returns (and writes) the dataset report."""
  if not config.output_dir:
    raise ValueError("BuildConfig.output_dir is required")
  start = time.time()
  report = report_header(config)
  fileio.check_output_dir(config.output_dir)
  with fileio.DirectoryLock(config.output_dir):  # one job per output directory, released even by kill -9
    make_inputs(config, report, log)
    check_descriptor(config, config.output_dir)
    for split in config.output_splits:
      sources, skipped = find_sources(config, split)
      if skipped:
        log(skipped_line(split, skipped, config.num_frames))
        report.setdefault("skipped_labelled_frames", {})[split] = skipped
      formed = formed_line(split, sources, skipped)
      if formed:
        log(formed)
      with tqdm.tqdm(total=len(sources), desc=f"{split} -> tfrecords", unit="seq", disable=None) as bar:
        summary = shards.write_shards(sources, config.output_dir, split, num_shards(config, len(sources)),
                                       config.prep_options, config.workers, progress=bar.update)
      report["splits"][split] = summary
      log(split_line(split, summary))
      if summary.get("corrupt_frames"):
        log(corrupt_line(split, summary["corrupt_frames"]))
    report["seconds"] = round(time.time() - start, 2)
    write_descriptor(config, config.output_dir)
    fileio.write_json(os.path.join(config.output_dir, features.BUILD_REPORT), report)
  log(f"done in {report['seconds']} s; shards and build_report.json in {config.output_dir}")
  return report

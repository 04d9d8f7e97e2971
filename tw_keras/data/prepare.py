"""Dataset -> sharded TFRecords of compressed-domain GOPs (the library behind data_prep/).

Plain arguments only; flags live in `data_prep/build_tfrecords.py`.

A *source* is one sequence: a Cityscapes-layout snippet (an ordered list of image files,
optionally with label files), a video file, or a labelled video's windows (CamVid, a user's
`labelled_video`: the `num_frames` frames ending at each labelled frame, one GOP each). Each source is transcoded to the canonical
stream (`codec.transcode`), decoded once (`codec.decode_compressed`), and written as one
`tf.train.SequenceExample` per GOP (`tw_keras.data.features` documents every feature).

Sharding is by source, contiguous, so a sequence's GOPs stay together and in order.
Sources are processed in parallel by worker processes (which never import TensorFlow);
each worker streams its encoded GOPs to a spill file, and the parent appends them, in
source order, to `{split}-%05d-of-%05d.tfrecord.tmp`, renamed when the shard is complete.
A rerun skips shards that already exist, so an interrupted job resumes. On any error the
current temporary shard is removed and finished shards are kept.
"""

import collections
import dataclasses
import glob
import json
import multiprocessing
import os
import pickle
import re
import shutil
import tempfile
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from tw_keras.video import codec
from tw_keras.data import features, records
from tw_keras import dataset_info, fileio

VideoError = codec.VideoError

_FRAME_RE = re.compile(r"^(?P<city>.+)_(?P<seq>\d{6})_(?P<frame>\d{6})_leftImg8bit\.png$")


@dataclasses.dataclass(frozen=True)
class Source:
  """One sequence to convert.

  Attributes:
    sequence_id: stable name, e.g. "val/frankfurt_000003" or a video's relative path.
    video: path of a video file, or None for an image sequence.
    images: ordered image paths (image sequences).
    labels: per-frame label path or None (indexed by decoded frame: image, or video frame);
      a given path must exist. Cityscapes' `*labelIds.png` hold source ids and
      `*labelTrainIds.png` train ids; other files are in the descriptor's encoding.
    first_index: the record frame index of decoded frame 0 (e.g. 8 for Cityscapes GOPs; minus
      the sequence's frame offset for a labelled video, so records count as its labels do).
    windows: labelled videos only: (first, last) decoded frame indices, inclusive, of each GOP
      to encode; the video is decoded once and each window becomes one record.
    resize_labels: labels of another size but the frame's aspect ratio are resized to the
      frame (nearest neighbour), as SegNet's half-size CamVid labels need.
  """
  sequence_id: str
  video: Optional[str] = None
  images: Tuple[str, ...] = ()
  labels: Tuple[Optional[str], ...] = ()
  first_index: int = 0
  windows: Tuple[Tuple[int, int], ...] = ()
  resize_labels: bool = False


@dataclasses.dataclass(frozen=True)
class PrepOptions:
  """How sources are encoded. `dataset`: the descriptor their labels are read with."""
  encode: codec.EncodeOptions = codec.EncodeOptions()
  residual_mode: str = "step"
  dataset: dataset_info.DatasetInfo = dataset_info.CITYSCAPES


def find_cityscapes_sources(root: str, split: str, first_frame: int = 8, num_frames: Optional[int] = 12,
                            annotated_frame: Optional[int] = 19) -> List[Source]:
  """Snippets of `root/leftImg8bit_sequence/{split}` with their `gtFine` labels.

  Frames `first_frame .. first_frame + num_frames - 1` of each snippet (docs/CONVENTIONS.md: 8..19,
  one GOP); `num_frames=None` takes every frame from `first_frame` on. A frame's label is
  `gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png`, else `..._labelIds.png`; the
  `annotated_frame` must have one (its absence is reported when the source is processed).
  """
  image_dir = os.path.join(root, "leftImg8bit_sequence", split)
  if not os.path.isdir(image_dir):
    raise VideoError(image_dir, "no such directory (expected Cityscapes leftImg8bit_sequence layout)")
  groups = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(image_dir, "*", "*_leftImg8bit.png"))):
    m = _FRAME_RE.match(os.path.basename(path))
    if m:
      groups[(m["city"], int(m["seq"]))][int(m["frame"])] = path
  if not groups:
    raise VideoError(image_dir, "no *_leftImg8bit.png frames found")
  sources = []
  for (city, seq), frames in sorted(groups.items()):
    last = max(frames) if num_frames is None else first_frame + num_frames - 1
    wanted = range(first_frame, last + 1)
    missing = [f for f in wanted if f not in frames]
    if missing:
      raise VideoError(os.path.join(image_dir, city),
                       f"snippet {city}_{seq:06d} lacks frame(s) {missing[:5]} of {first_frame}..{last}")
    label_paths = []
    for f in wanted:
      stem = os.path.join(root, "gtFine", split, city, f"{city}_{seq:06d}_{f:06d}_gtFine_")
      found = next((stem + k for k in ("labelTrainIds.png", "labelIds.png") if os.path.exists(stem + k)), None)
      label_paths.append(found or (stem + "labelTrainIds.png" if f == annotated_frame else None))
    sources.append(Source(f"{split}/{city}_{seq:06d}", images=tuple(frames[f] for f in wanted),
                          labels=tuple(label_paths), first_index=first_frame))
  return sources


_LABEL_RE = re.compile(r"^(?P<seq>.+?)_f?(?P<n>\d+)\.png$")  # CamVid: 0001TP_006690, Seq05VD_f00000


def find_camvid_sources(root: str, split: str, info: dataset_info.DatasetInfo, num_frames: int = 12
                        ) -> Tuple[List[Source], int]:
  """SegNet's CamVid layout, paired with the 30 Hz recordings::

    ROOT/{split}annot/{seq}_{n}.png    index labels (0..10, 11 = void); n = the frame's number
    ROOT/videos/{seq}.{ext}            the sequence's video (any container FFmpeg reads)

  Frame n of a label is frame n + `info.frame_offset(seq)` of the video. Each labelled frame
  becomes one window: the `num_frames` frames ending at it. Labels (480x360 in SegNet's
  copy) are resized nearest-neighbour to the video's frames (960x720). Returns (sources,
  labelled frames skipped for too short a history).
  """
  label_dir = os.path.join(root, f"{split}annot")
  if not os.path.isdir(label_dir):
    raise VideoError(label_dir, "no such directory (expected CamVid's {split}annot/ layout)")
  labels_by_seq = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(label_dir, "*.png"))):
    m = _LABEL_RE.match(os.path.basename(path))
    if not m:
      raise VideoError(path, "label name is not {sequence}_{frame number}.png")
    labels_by_seq[m["seq"]][int(m["n"])] = path
  if not labels_by_seq:
    raise VideoError(label_dir, "no label PNGs found")
  videos = {seq: _video_of(os.path.join(root, "videos"), seq) for seq in labels_by_seq}
  return _windowed_sources(split, videos, labels_by_seq, info, num_frames)


def find_labelled_video_sources(root: str, split: str, info: dataset_info.DatasetInfo, num_frames: int = 12
                                ) -> Tuple[List[Source], int]:
  """A user's own labelled videos::

    ROOT/{split}/videos/{name}.{ext}               any container FFmpeg reads
    ROOT/{split}/labels/{name}_{frame:06d}.png     frame = 0-based decoded frame of that video

  Labels are in the descriptor's encoding; each labelled frame becomes one window (as
  CamVid's). Returns (sources, labelled frames skipped for too short a history).
  """
  video_dir, label_dir = os.path.join(root, split, "videos"), os.path.join(root, split, "labels")
  for d in (video_dir, label_dir):
    if not os.path.isdir(d):
      raise VideoError(d, "no such directory (expected the labelled_video layout: {split}/videos, {split}/labels)")
  videos = {os.path.splitext(os.path.basename(p))[0]: p for p in sorted(glob.glob(os.path.join(video_dir, "*")))
            if os.path.isfile(p) and not os.path.basename(p).startswith(".")}
  labels_by_seq = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(label_dir, "*.png"))):
    m = re.match(r"^(?P<seq>.+)_(?P<n>\d{6})\.png$", os.path.basename(path))
    if not m:
      raise VideoError(path, "label name is not {video name}_{frame:06d}.png")
    if m["seq"] not in videos:
      raise VideoError(path, f"no video {m['seq']}.* in {video_dir} for this label")
    labels_by_seq[m["seq"]][int(m["n"])] = path
  if not labels_by_seq:
    raise VideoError(label_dir, "no label PNGs found")
  return _windowed_sources(split, videos, labels_by_seq, info, num_frames)


def _video_of(video_dir: str, sequence: str) -> str:
  found = sorted(p for p in glob.glob(os.path.join(video_dir, glob.escape(sequence) + ".*")) if os.path.isfile(p))
  if not found:
    raise VideoError(os.path.join(video_dir, sequence + ".*"), f"no video for sequence {sequence}")
  return found[0]


def _windowed_sources(split, videos, labels_by_seq, info, num_frames):
  """One Source per video: a window of `num_frames` frames ending at each labelled frame."""
  out, skipped = [], 0
  for seq in sorted(labels_by_seq):
    offset = info.frame_offset(seq)
    indexed = {n + offset: path for n, path in labels_by_seq[seq].items()}
    usable = sorted(i for i in indexed if i >= num_frames - 1)
    skipped += len(indexed) - len(usable)
    if not usable:
      continue
    labels = [None] * (usable[-1] + 1)
    for i in usable:
      labels[i] = indexed[i]
    out.append(Source(f"{split}/{seq}", video=videos[seq], labels=tuple(labels), first_index=-offset,
                      windows=tuple((i - num_frames + 1, i) for i in usable), resize_labels=True))
  return out, skipped


def find_video_sources(input_dir: str) -> List[Source]:
  """Every (non-hidden) file under `input_dir`, recursively, as an unlabelled video source."""
  if not os.path.isdir(input_dir):
    raise VideoError(input_dir, "no such directory")
  paths = sorted(p for p in glob.glob(os.path.join(input_dir, "**", "*"), recursive=True)
                 if os.path.isfile(p) and not os.path.basename(p).startswith("."))
  if not paths:
    raise VideoError(input_dir, "no video files found")
  return [Source(os.path.relpath(p, input_dir), video=p) for p in paths]


def video_sources_from_paths(paths: Sequence[str]) -> List[Source]:
  """Video sources from explicit paths or URIs (a file pattern's matches, a list file's
  lines), in sorted order; each sequence id is the path relative to their common directory."""
  paths = sorted(dict.fromkeys(p for p in paths if p))
  if not paths:
    raise ValueError("video_sources_from_paths: no video paths given")
  common = os.path.commonprefix([os.path.dirname(p) + "/" for p in paths])
  common = common[:common.rfind("/") + 1]
  return [Source(p[len(common):], video=p) for p in paths]


def read_label(path: str, size: Tuple[int, int], info: dataset_info.DatasetInfo = dataset_info.CITYSCAPES,
               resize: bool = False) -> np.ndarray:
  """Label PNG -> [H, W] uint8 train ids (255 = ignore), validated against `info`.

  Cityscapes' `*_labelTrainIds.png` are train ids and `*_labelIds.png` source ids; any other
  file is in `info.label_encoding`. The label must be the frame's `size` (h, w), or, with
  `resize`, have its aspect ratio (then it is resized nearest-neighbour to it).
  Raises VideoError naming the file: missing, unreadable, wrong size, or values (colours)
  outside the class table, with their pixel counts.
  """
  if not os.path.exists(path):
    raise VideoError(path, "missing label file")
  name = os.path.basename(path)
  encoding = ("train_ids" if name.endswith("labelTrainIds.png") else
              "source_ids" if name.endswith("labelIds.png") else info.label_encoding)
  lab = cv2.imread(path, cv2.IMREAD_COLOR if encoding == "colour" else cv2.IMREAD_UNCHANGED)
  if lab is None:
    raise VideoError(path, "not a readable label PNG")
  if encoding == "colour":
    lab = lab[..., ::-1]
  elif lab.ndim != 2:
    raise VideoError(path, f"not a single-channel label PNG (an index PNG of {info.name}'s "
                     f"{info.label_encoding.replace('_', ' ')}; colour labels need label_encoding colour)")
  h, w = lab.shape[:2]
  if (h, w) != tuple(size) and not (resize and h * size[1] == w * size[0]):
    raise VideoError(path, f"label size {w}x{h} does not match frame size {size[1]}x{size[0]}")
  try:
    train_ids = info.encode_label(lab, path, encoding)  # validated at the file's own size
  except dataset_info.LabelError as e:
    raise VideoError(e.path, e.problem) from None
  if (h, w) != tuple(size):
    train_ids = cv2.resize(train_ids, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
  return train_ids


def labelled_frames(root: str, split: str, step: int = 1, info: dataset_info.DatasetInfo = dataset_info.SYNTHETIC
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """([H, W, 3] RGB uint8, [H, W] trainIds uint8) of every `step`-th frame of each snippet of a
  Cityscapes-layout root's `split` that has a label (frames without one are skipped)."""
  for source in find_cityscapes_sources(root, split, first_frame=0, num_frames=None, annotated_frame=None):
    for image, label in list(zip(source.images, source.labels))[::step]:
      if label is not None:
        bgr = cv2.imread(image, cv2.IMREAD_COLOR)
        if bgr is None:
          raise VideoError(image, "not a readable image")
        yield bgr[..., ::-1], read_label(label, bgr.shape[:2], info)


def _check_labels_exist(source: Source):
  for path in source.labels:
    if path is not None and not os.path.exists(path):
      raise VideoError(path, "missing label file")


def sequence_gops(source: Source, options: PrepOptions, work_dir: Optional[str] = None
                  ) -> Iterator[Tuple[Dict[str, object], List[Dict[str, object]]]]:
  """THE per-sequence transform: transcode -> one-pass decode -> (context, frames) per GOP.

  Every driver (the local pool here, the Beam pipeline in `beam_build`) calls it; each GOP
  becomes one record via `records.to_sequence_example(context, frames)`. The canonical
  stream is written to a temporary directory under `work_dir` (default: the system's) and
  removed when the generator finishes or is closed. Raises VideoError on bad input.
  """
  _check_labels_exist(source)  # fail before the (slow) transcode
  with tempfile.TemporaryDirectory(prefix="transcode_", dir=work_dir) as tmp:
    stream = os.path.join(tmp, "canonical.mp4")
    if not source.windows:
      codec.transcode(source.video or list(source.images), stream, options.encode)
      yield from _stream_gops(source, options, stream, 0, 0)
      return
    for gop_index, (first, frames) in enumerate(_windows(source)):
      codec.encode_frames(frames, stream, options.encode, source_name=source.video)
      yield from _stream_gops(source, options, stream, first, gop_index)


def _stream_gops(source: Source, options: PrepOptions, stream: str, first: int, gop_index: int):
  """(context, frames) of each GOP of the canonical `stream`, whose frame 0 is the source's
  decoded frame `first`; GOPs are numbered from `gop_index`."""
  gop: List[Dict[str, object]] = []
  size = cell = None

  def context():
    return {features.SEQUENCE_ID: source.sequence_id, features.SEQUENCE_GOP_INDEX: gop_index,
            features.HEIGHT: size[0], features.WIDTH: size[1], features.GOP: options.encode.gop,
            features.MOTION_CELL: cell, features.RESIDUAL_MODE: options.residual_mode}

  for frame in codec.decode_compressed(stream, residual_mode=options.residual_mode, with_residual=False):
    if frame.pict_type == "I" and gop:
      yield context(), gop
      gop, gop_index = [], gop_index + 1
    size, cell = frame.rgb.shape[:2], frame.motion_cell
    i = first + frame.index
    label_path = source.labels[i] if i < len(source.labels) else None
    label = read_label(label_path, size, options.dataset, source.resize_labels) if label_path else None
    gop.append(records.encode_frame(frame, label, source.first_index + i))
  if gop:
    yield context(), gop


def _windows(source: Source) -> Iterator[Tuple[int, List[np.ndarray]]]:
  """(first, [frames first..last]) of each of the source's windows, in order, decoding its
  video once and holding only the longest window's frames."""
  longest = max(last - first + 1 for first, last in source.windows)
  held = collections.deque(maxlen=longest)
  todo = sorted(source.windows, key=lambda w: w[1])
  count = 0
  for index, rgb in enumerate(codec.iter_source_frames(source.video)):
    held.append(rgb)
    count = index + 1
    while todo and todo[0][1] == index:
      first, last = todo.pop(0)
      yield first, list(held)[len(held) - (last - first + 1):]
    if not todo:
      return
  last = todo[0][1]
  raise VideoError(source.video, f"has {count} frames, but a label names its frame {last}"
                   + (f" ({source.labels[last]})" if last < len(source.labels) and source.labels[last] else ""))


def encode_source(source: Source, options: PrepOptions, spill_path: str) -> Dict[str, int]:
  """The local pool's worker: streams `sequence_gops` as pickles to `spill_path`.

  Returns counts: {"frames", "gops"}. Raises VideoError on bad input.
  """
  counts = {"frames": 0, "gops": 0}
  # The canonical stream lives next to the spill file, inside the job's spill directory,
  # which the parent removes whatever happens (also when it terminates the workers).
  with open(spill_path, "wb") as spill:
    for context, frames in sequence_gops(source, options, os.path.dirname(spill_path) or None):
      pickle.dump((context, frames), spill, protocol=pickle.HIGHEST_PROTOCOL)
      counts["gops"] += 1
      counts["frames"] += len(frames)
  return counts


def ignore_sigint():
  """Pool initializer: Ctrl-C is the parent's to handle (workers are terminated)."""
  import signal  # pylint: disable=g-import-not-at-top
  signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker(args):
  source, options, spill_path = args
  try:
    return encode_source(source, options, spill_path), None
  except VideoError as e:
    return None, (e.path, e.problem)


def shard_path(output_dir, split, index, count):
  return os.path.join(output_dir, features.SHARD_PATTERN.format(split=split, index=index, count=count))


def write_shards(sources: Sequence[Source], output_dir: str, split: str, num_shards: int,
                 options: PrepOptions = PrepOptions(), workers: int = 1,
                 progress: Optional[Callable] = None) -> Dict[str, object]:
  """Writes `sources` into `num_shards` contiguous shards; skips shards that exist.

  Args:
    progress: optional callable(n) called after each finished source (a progress bar).
  Returns:
    A summary: shards written / skipped, sequences, GOPs, frames, bytes, seconds.
  Raises:
    VideoError: bad input (the temporary shard is removed; finished shards are kept).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  fileio.check_output_dir(output_dir)
  num_shards = max(1, min(num_shards, len(sources)))
  removed = remove_stale(output_dir, split, num_shards)
  bounds = shard_bounds(len(sources), num_shards)
  stats_path = os.path.join(output_dir, features.SHARD_STATS.format(split=split))
  stats = read_stats(stats_path, num_shards)
  todo = [(s, bounds[s], bounds[s + 1]) for s in range(num_shards)
          if not (os.path.exists(shard_path(output_dir, split, s, num_shards))
                  and os.path.basename(shard_path(output_dir, split, s, num_shards)) in stats)]
  summary = {"split": split, "shards": num_shards, "shards_skipped": num_shards - len(todo),
             "stale_removed": removed, "sequences_written": 0}
  start = time.time()
  spill_dir = tempfile.mkdtemp(prefix=".spill_", dir=output_dir)
  jobs = [(sources[i], options, os.path.join(spill_dir, f"{i:06d}.pkl"))
          for _, lo, hi in todo for i in range(lo, hi)]
  ctx = multiprocessing.get_context("spawn")  # TensorFlow in the parent is not fork-safe
  pool = ctx.Pool(workers, initializer=ignore_sigint) if workers > 1 and len(jobs) > 1 else None
  results = pool.imap(_worker, jobs) if pool else map(_worker, jobs)
  try:
    for shard, lo, hi in todo:
      final = shard_path(output_dir, split, shard, num_shards)
      counts_shard = {"sequences": 0, "gops": 0, "frames": 0}
      with fileio.atomic_path(final) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
          for i in range(lo, hi):
            counts, error = next(results)
            if error:
              raise VideoError(*error)
            spill = os.path.join(spill_dir, f"{i:06d}.pkl")
            with open(spill, "rb") as f:
              for _ in range(counts["gops"]):
                writer.write(records.to_sequence_example(*pickle.load(f)))
            os.remove(spill)
            counts_shard["sequences"] += 1
            counts_shard["gops"] += counts["gops"]
            counts_shard["frames"] += counts["frames"]
            summary["sequences_written"] += 1
            if progress:
              progress(1)
      stats[os.path.basename(final)] = {**counts_shard, "bytes": os.path.getsize(final)}
      fileio.write_json(stats_path, {"count": num_shards, "shards": stats})
  finally:
    if pool:
      pool.terminate()
      pool.join()
    shutil.rmtree(spill_dir, ignore_errors=True)
  return add_totals(summary, stats, start)


def shard_bounds(num_sources: int, num_shards: int) -> List[int]:
  """Sources [bounds[s], bounds[s + 1]) go to shard s: contiguous, in source order."""
  per_shard = -(-num_sources // num_shards)
  return [min(i * per_shard, num_sources) for i in range(num_shards + 1)]


def add_totals(summary: Dict[str, object], stats: Dict[str, Dict[str, int]], start: float) -> Dict[str, object]:
  """Totals over the whole shard set (this run's shards and those an earlier run finished)."""
  for key in ("sequences", "gops", "frames", "bytes"):
    summary[key] = sum(s[key] for s in stats.values())
  summary["seconds"] = round(time.time() - start, 2)
  summary["bytes_per_frame"] = round(summary["bytes"] / max(summary["frames"], 1))
  return summary


def read_stats(path: str, num_shards: int) -> Dict[str, Dict[str, int]]:
  """Per-shard stats of finished shards (`{split}-shards.json`) of the `num_shards` set."""
  try:
    with fileio.open_file(path, "r") as f:
      data = json.load(f)
  except Exception:  # pylint: disable=broad-except
    return {}  # missing or unreadable: nothing is known to be finished
  return data.get("shards", {}) if data.get("count") == num_shards else {}


def remove_stale(output_dir: str, split: str, num_shards: int) -> int:
  """Removes what earlier runs left for `split`: shards of another `-of-N` set (a rerun with
  other inputs), killed writers' temporary files and spill directories. Returns the count."""
  n = 0
  for count, files in features.shard_sets(output_dir, split).items():
    if count != num_shards:
      for f in files:
        os.remove(f)
        n += 1
  n += fileio.remove_leftovers(output_dir)
  for d in glob.glob(os.path.join(output_dir, ".spill_*")):
    shutil.rmtree(d, ignore_errors=True)
  return n

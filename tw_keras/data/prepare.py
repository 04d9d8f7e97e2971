"""Dataset -> sharded TFRecords of compressed-domain GOPs (the library behind data_prep/).

Plain arguments only; flags live in `data_prep/build_tfrecords.py`.

A *source* (found by `layouts`) is one sequence: a Cityscapes-layout snippet (an ordered list
of image files, optionally with label files), a video file, or a labelled video's windows
(CamVid, a user's `labelled_video`: the `num_frames` frames ending at each labelled frame, one
GOP each). Each source is transcoded to the canonical stream (`codec.transcode`), decoded once
(`codec.decode_compressed`), and written as one `tf.train.SequenceExample` per GOP
(`tw_keras.data.features` documents every feature).

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
import shutil
import tempfile
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from tw_keras.video import codec
from tw_keras.video.sources import CorruptFrames
from tw_keras.data import features, records
from tw_keras import dataset_info, fileio
from tw_keras.errors import InputError, LabelError

VideoError = codec.VideoError

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
  """How sources are encoded. `dataset`: the descriptor their labels are read with.
  `allow_corrupt_frames`: keep a source whose decoder flags frames as corrupt (concealed
  damage; `video.sources.CorruptFrames`) and record them, instead of refusing it."""
  encode: codec.EncodeOptions = codec.EncodeOptions()
  residual_mode: str = "step"
  dataset: dataset_info.DatasetInfo = dataset_info.CITYSCAPES
  allow_corrupt_frames: bool = False


def read_label(path: str, size: Tuple[int, int], info: dataset_info.DatasetInfo = dataset_info.CITYSCAPES,
               resize: bool = False) -> np.ndarray:
  """Label PNG -> [H, W] uint8 train ids (255 = ignore), validated against `info`.

  Cityscapes' `*_labelTrainIds.png` are train ids and `*_labelIds.png` source ids; any other
  file is in `info.label_encoding`. The label must be the frame's `size` (h, w), or, with
  `resize`, have its aspect ratio (then it is resized nearest-neighbour to it).
  Raises LabelError naming the file: missing, unreadable, wrong size, or values (colours)
  outside the class table, with their pixel counts.
  """
  if not os.path.exists(path):
    raise LabelError(path, "missing label file")
  name = os.path.basename(path)
  encoding = ("train_ids" if name.endswith("labelTrainIds.png") else
              "source_ids" if name.endswith("labelIds.png") else info.label_encoding)
  lab = cv2.imread(path, cv2.IMREAD_COLOR if encoding == "colour" else cv2.IMREAD_UNCHANGED)
  if lab is None:
    raise LabelError(path, "not a readable label PNG")
  if encoding == "colour":
    lab = lab[..., ::-1]
  elif lab.ndim != 2:
    raise LabelError(path, f"not a single-channel label PNG (an index PNG of {info.name}'s "
                     f"{info.label_encoding.replace('_', ' ')}; colour labels need label_encoding colour)")
  h, w = lab.shape[:2]
  if (h, w) != tuple(size) and not (resize and h * size[1] == w * size[0]):
    raise LabelError(path, f"label size {w}x{h} does not match frame size {size[1]}x{size[0]}")
  train_ids = info.encode_label(lab, path, encoding)  # validated at the file's own size
  if (h, w) != tuple(size):
    train_ids = cv2.resize(train_ids, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
  return train_ids


def _check_labels_exist(source: Source):
  for path in source.labels:
    if path is not None and not os.path.exists(path):
      raise LabelError(path, "missing label file")


def sequence_gops(source: Source, options: PrepOptions, work_dir: Optional[str] = None,
                  corrupt: Optional[CorruptFrames] = None
                  ) -> Iterator[Tuple[Dict[str, object], List[Dict[str, object]]]]:
  """THE per-sequence transform: transcode -> one-pass decode -> (context, frames) per GOP.

  Every driver (the local pool here, the Beam pipeline in `beam_build`) calls it; each GOP
  becomes one record via `records.to_sequence_example(context, frames)`. The canonical
  stream is written to a temporary directory under `work_dir` (default: the system's) and
  removed when the generator finishes or is closed. Raises InputError on bad input (a
  VideoError, a LabelError), among it
  frames the decoder flags as corrupt, unless `options.allow_corrupt_frames`; then their
  indices (the source's decoded frames) go to `corrupt.frames`.
  """
  corrupt = corrupt or CorruptFrames(options.allow_corrupt_frames)
  _check_labels_exist(source)  # fail before the (slow) transcode
  with tempfile.TemporaryDirectory(prefix="transcode_", dir=work_dir) as tmp:
    stream = os.path.join(tmp, "canonical.mp4")
    if not source.windows:
      codec.transcode(source.video or list(source.images), stream, options.encode, corrupt)
      yield from _stream_gops(source, options, stream, 0, 0)
      return
    for gop_index, (first, frames) in enumerate(_windows(source, corrupt)):
      codec.encode_frames(frames, stream, options.encode, source_name=source.video or source.sequence_id)
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


def _windows(source: Source, corrupt: CorruptFrames) -> Iterator[Tuple[int, List[np.ndarray]]]:
  """(first, [frames first..last]) of each of the source's windows, in order, decoding its
  video once and holding only the longest window's frames (`corrupt`: as `sequence_gops`)."""
  longest = max(last - first + 1 for first, last in source.windows)
  held = collections.deque(maxlen=longest)
  todo = sorted(source.windows, key=lambda w: w[1])
  count = 0
  name = source.video or source.sequence_id
  for index, rgb in enumerate(codec.iter_source_frames(source.video or list(source.images), corrupt=corrupt)):
    held.append(rgb)
    count = index + 1
    while todo and todo[0][1] == index:
      first, last = todo.pop(0)
      yield first, list(held)[len(held) - (last - first + 1):]
    if not todo:
      corrupt.check(name)  # decoding stops here, before the end of the video
      return
  last = todo[0][1]
  raise VideoError(source.video or source.sequence_id, f"has {count} frames, but a label names its frame {last}"
                   + (f" ({source.labels[last]})" if last < len(source.labels) and source.labels[last] else ""))


def encode_source(source: Source, options: PrepOptions, spill_path: str) -> Dict[str, int]:
  """The local pool's worker: streams `sequence_gops` as pickles to `spill_path`.

  Returns counts: {"frames", "gops"}. Raises InputError on bad input.
  """
  counts = {"frames": 0, "gops": 0}
  corrupt = CorruptFrames(options.allow_corrupt_frames)
  # The canonical stream lives next to the spill file, inside the job's spill directory,
  # which the parent removes whatever happens (also when it terminates the workers).
  with open(spill_path, "wb") as spill:
    for context, frames in sequence_gops(source, options, os.path.dirname(spill_path) or None, corrupt):
      pickle.dump((context, frames), spill, protocol=pickle.HIGHEST_PROTOCOL)
      counts["gops"] += 1
      counts["frames"] += len(frames)
  if corrupt.frames:
    counts["corrupt_frames"] = corrupt.frames
  return counts


def ignore_sigint():
  """Pool initializer: Ctrl-C is the parent's to handle (workers are terminated)."""
  import signal  # pylint: disable=g-import-not-at-top
  signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker(args):
  source, options, spill_path = args
  try:
    return encode_source(source, options, spill_path), None
  except InputError as e:
    return None, e


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
    InputError: bad input (the temporary shard is removed; finished shards are kept).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  fileio.check_output_dir(output_dir)
  num_shards = max(1, min(num_shards, len(sources)))
  removed = remove_stale(output_dir, split, num_shards)
  bounds = shard_bounds(len(sources), num_shards)
  stats_path = os.path.join(output_dir, features.SHARD_STATS.format(split=split))
  encoding = encoding_of(options)
  stats = read_stats(stats_path, num_shards, encoding)
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
              raise error
            spill = os.path.join(spill_dir, f"{i:06d}.pkl")
            with open(spill, "rb") as f:
              for _ in range(counts["gops"]):
                writer.write(records.to_sequence_example(*pickle.load(f)))
            os.remove(spill)
            counts_shard["sequences"] += 1
            counts_shard["gops"] += counts["gops"]
            counts_shard["frames"] += counts["frames"]
            if counts.get("corrupt_frames"):  # kept (--allow_corrupt_frames): recorded with the shard
              counts_shard.setdefault("corrupt_frames", {})[sources[i].sequence_id] = counts["corrupt_frames"]
            summary["sequences_written"] += 1
            if progress:
              progress(1)
      stats[os.path.basename(final)] = {**counts_shard, "bytes": os.path.getsize(final)}
      write_stats(stats_path, num_shards, stats, encoding)
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
  corrupt = {seq: frames for s in stats.values() for seq, frames in s.get("corrupt_frames", {}).items()}
  if corrupt:
    summary["corrupt_frames"] = corrupt
  summary["seconds"] = round(time.time() - start, 2)
  summary["bytes_per_frame"] = round(summary["bytes"] / max(summary["frames"], 1))
  return summary


def encoding_of(options: "PrepOptions") -> Dict[str, object]:
  """What a shard's records were encoded with (codec, GOP, quantisers, fps, residual mode):
  kept with the shard stats, so that a resumed build never mixes two encodings."""
  return {**dataclasses.asdict(options.encode), "residual_mode": options.residual_mode}


def write_stats(path: str, num_shards: int, stats: Dict[str, Dict[str, int]], encoding: Dict[str, object]):
  """THE `{split}-shards.json` write: the shard set's size, its encoding, each finished shard's counts."""
  fileio.write_json(path, {"count": num_shards, "encoding": encoding, "shards": stats})


def read_stats(path: str, num_shards: int, encoding: Optional[Dict[str, object]] = None) -> Dict[str, Dict[str, int]]:
  """Per-shard stats of finished shards (`{split}-shards.json`) of the `num_shards` set.

  Raises:
    ValueError: the finished shards were encoded otherwise than `encoding` (one line, naming
      the file and the settings that differ); files from before encodings were kept pass.
  """
  try:
    with fileio.open_file(path, "r") as f:
      data = json.load(f)
  except Exception:  # pylint: disable=broad-except
    return {}  # missing or unreadable: nothing is known to be finished
  old = data.get("encoding")
  if encoding is not None and old is not None and old != encoding and data.get("shards"):
    diff = ", ".join(f"{k}={old.get(k)!r} (asked {v!r})" for k, v in encoding.items() if old.get(k) != v)
    raise ValueError(f"{path}: its finished shards were encoded otherwise ({diff}); use a new output "
                     "directory, or remove those shards")
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

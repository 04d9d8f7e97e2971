"""Sources -> sharded TFRecords with the local process pool: which source goes to which
shard, the workers, the spill files, the `{split}-shards.json` bookkeeping that makes a build
resumable, and the stale sets and leftovers a rerun removes.

Sharding is by source, contiguous, so a sequence's GOPs stay together and in order.
Sources are processed in parallel by worker processes (which never import TensorFlow);
each worker streams its encoded GOPs to a spill file (`prepare.encode_source`), and the
parent appends them, in source order, to the shard's temporary file, renamed when the shard
is complete. A rerun skips shards that already exist, so an interrupted job resumes. On any
error the current temporary shard is removed and finished shards are kept.
"""

import dataclasses
import glob
import json
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

from tw_keras import fileio
from tw_keras.data import features, records
from tw_keras.data.prepare import PrepOptions, Source, encode_source
from tw_keras.errors import InputError


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

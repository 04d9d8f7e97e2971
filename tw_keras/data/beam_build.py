"""The TFRecord build as an Apache Beam pipeline: preprocessing past one machine.

Optional (`pip install -e ".[beam]"`); the local process pool (`build.build`) stays the
default. Both drivers call the same per-sequence transform, `prepare.sequence_gops`, and
write the same bytes: for the same inputs the shards are byte-identical.

Pipeline, per split::

  sources (i, shard) --Reshuffle--> EncodeSequence --(shard, i, spill)--> GroupByKey(shard)
      --> WriteShard
      \\--rejected (path, problem)--> WriteRejected (dead letter)

* EncodeSequence runs `sequence_gops` on one source (remote inputs are first copied to the
  worker's local disk) and writes the sequence's records, in GOP order, to a spill file
  `OUT/.spill_beam_{split}/{i:06d}.tfrecord`.
* WriteShard appends its sources' spill files in source order to
  `OUT/{split}-%05d-of-%05d.tfrecord`: the local path's contiguous sharding, so a sequence's
  GOPs stay together and in order; memory stays bounded by one record.
* Every write goes to a temporary name that is renamed over the final one (`fileio.atomic_uri`)
  and every name is a function of the inputs, so Beam's retries rewrite the same files with
  the same bytes: no duplicate records.
* Bad inputs: a dead-letter output. A rejected file does not stop the other sequences; the
  launcher lists every rejected file with its problem in `OUT/{split}-rejected.json` and in
  `dataset_info.json`, prints `rejected: FILE: PROBLEM` lines, and then fails with one line
  (exit 1). (The local path instead stops at the first bad file.) At the scale Beam is for,
  one unreadable clip must not throw away an overnight job, and must not pass unnoticed.

The launcher (this module's `run`) renders the synthetic benchmark locally when asked,
lists the sources, removes stale shard sets, skips shards an earlier run finished, runs
the pipeline, and then writes `{split}-shards.json` and `dataset_info.json`, as the local
path does. Input and output may be local paths or URIs that `tf.io.gfile` reaches.
"""

import contextlib
import json
import os
import posixpath
import tempfile
import time
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from tw_keras import fileio
from tw_keras.data import build, features, prepare, records
from tw_keras.video import codec

SPILL_DIR = ".spill_beam_{split}"  # `prepare.remove_stale` removes `.spill_*` leftovers
REJECTED = "{split}-rejected.json"


def _join(*parts: str) -> str:
  return posixpath.join(*parts) if fileio.is_remote(parts[0]) else os.path.join(*parts)


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def _localized(source: prepare.Source, tmp: str) -> prepare.Source:
  """The source with every remote file copied into the local directory `tmp`."""
  def local(path, i):
    if path is None or not fileio.is_remote(path):
      return path
    dst = os.path.join(tmp, f"{i:06d}_{posixpath.basename(path)}")
    _gfile().copy(path, dst, overwrite=True)
    return dst
  video = local(source.video, 0)
  images = tuple(local(p, i) for i, p in enumerate(source.images))
  labels = tuple(local(p, 100000 + i) for i, p in enumerate(source.labels))
  return prepare.Source(source.sequence_id, video=video, images=images, labels=labels,
                        first_index=source.first_index)


class EncodeSequence(beam.DoFn):
  """(i, shard, source) -> (shard, {i, spill, gops, frames}); bad input -> "rejected"."""

  def __init__(self, options: prepare.PrepOptions, spill_dir: str):
    self.options, self.spill_dir = options, spill_dir

  def process(self, job):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    i, shard, source = job
    spill = _join(self.spill_dir, f"{i:06d}.tfrecord")
    counts = {"i": i, "spill": spill, "gops": 0, "frames": 0}
    try:
      with tempfile.TemporaryDirectory(prefix="tw_keras_beam_") as tmp:
        local = _localized(source, tmp)
        with fileio.atomic_uri(spill) as out, tf.io.TFRecordWriter(out) as writer:
          for context, frames in prepare.sequence_gops(local, self.options, tmp):
            writer.write(records.to_sequence_example(context, frames))
            counts["gops"] += 1
            counts["frames"] += len(frames)
    except codec.VideoError as e:
      original = source.video or (source.images[0] if source.images else source.sequence_id)
      path = e.path if not str(e.path).startswith(tempfile.gettempdir()) else original
      yield beam.pvalue.TaggedOutput("rejected", {"path": path, "problem": e.problem,
                                                  "sequence_id": source.sequence_id})
      return
    yield shard, counts


class WriteShard(beam.DoFn):
  """(shard, [{i, spill, ...}]) -> the shard file (spills appended in source order) and its
  stats file in the spill directory."""

  def __init__(self, output_dir: str, split: str, num_shards: int, spill_dir: str):
    self.output_dir, self.split, self.num_shards, self.spill_dir = output_dir, split, num_shards, spill_dir

  def process(self, element):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    shard, parts = element
    parts = sorted(parts, key=lambda p: p["i"])
    final = _join(self.output_dir, features.SHARD_PATTERN.format(split=self.split, index=shard,
                                                                count=self.num_shards))
    with fileio.atomic_uri(final) as tmp, tf.io.TFRecordWriter(tmp) as writer:
      for part in parts:
        for record in tf.data.TFRecordDataset(part["spill"]):
          writer.write(record.numpy())
    stats = {"sequences": len(parts), "gops": sum(p["gops"] for p in parts),
             "frames": sum(p["frames"] for p in parts), "bytes": _gfile().stat(final).length}
    fileio.write_json(_join(self.spill_dir, f"shard-{shard:05d}.json"), {posixpath.basename(final): stats})
    yield shard


class WriteRejected(beam.DoFn):
  """One small JSON per rejected source (its name is the sequence's: retries overwrite it)."""

  def __init__(self, spill_dir: str):
    self.spill_dir = spill_dir

  def process(self, rejected):
    name = rejected["sequence_id"].replace("/", "_")
    fileio.write_json(_join(self.spill_dir, f"rejected-{name}.json"), rejected)
    yield rejected["path"]


def _remove_stale(output_dir: str, split: str, num_shards: int) -> int:
  """`prepare.remove_stale` for any file system: other `-of-N` sets and the spill directory."""
  if not fileio.is_remote(output_dir):
    return prepare.remove_stale(output_dir, split, num_shards)
  gfile = _gfile()
  n = 0
  for count, files in features.shard_sets(output_dir, split, glob_fn=gfile.glob).items():
    if count != num_shards:
      for f in files:
        gfile.remove(f)
        n += 1
  return n


def _read_json_files(directory: str, pattern: str) -> List[object]:
  gfile = _gfile()
  out = []
  for path in sorted(gfile.glob(_join(directory, pattern))):
    with gfile.GFile(path, "r") as f:
      out.append(json.load(f))
  return out


def run(config: build.BuildConfig, runner: str, beam_args: Sequence[str] = (), log=print) -> Dict[str, object]:
  """Runs the build on Beam's `runner` (DirectRunner, DataflowRunner, FlinkRunner, ...).

  `beam_args` are passed to Beam's PipelineOptions as they are (e.g. `--project=...`,
  `--temp_location=gs://...`, `--direct_num_workers=2`). Returns the dataset report.
  """
  if not config.output_dir:
    raise ValueError("BuildConfig.output_dir is required")
  start = time.time()
  gfile = _gfile()
  out = config.output_dir
  report = {"dataset": config.dataset, "gop": config.gop, "qscale": config.qscale,
            "residual_mode": config.residual_mode, "runner": runner, "splits": {}}
  if fileio.is_remote(out):
    gfile.makedirs(out)
  else:
    prepare.check_writable(out)
  # One job per local output directory (an OS lock); object stores have no such lock.
  with (contextlib.nullcontext() if fileio.is_remote(out) else fileio.DirectoryLock(out)):
    if config.dataset == "synthetic":
      t = time.time()
      build.render_synthetic(config.source_root, config.synthetic_config, config.workers)
      report["synthetic_render_seconds"] = round(time.time() - t, 2)
      report["synthetic_root"] = config.source_root

    plans = []
    for split in config.output_splits:
      sources = build.find_sources(config, split)
      num_shards = max(1, min(build.num_shards(config, len(sources)), len(sources)))
      removed = _remove_stale(out, split, num_shards)  # also every `.spill_*` directory, locally
      spill_dir = _join(out, SPILL_DIR.format(split=split))
      if gfile.exists(spill_dir):
        gfile.rmtree(spill_dir)
      stats_path = _join(out, features.SHARD_STATS.format(split=split))
      stats = prepare.read_stats(stats_path, num_shards)
      bounds = prepare.shard_bounds(len(sources), num_shards)
      todo = [s for s in range(num_shards)
              if not (features.SHARD_PATTERN.format(split=split, index=s, count=num_shards) in stats
                      and gfile.exists(_join(out, features.SHARD_PATTERN.format(split=split, index=s,
                                                                               count=num_shards))))]
      jobs = [(i, s, sources[i]) for s in todo for i in range(bounds[s], bounds[s + 1])]
      plans.append(dict(split=split, num_shards=num_shards, removed=removed, spill_dir=spill_dir,
                        stats_path=stats_path, stats=stats, todo=todo, jobs=jobs))

    for plan in plans:
      gfile.makedirs(plan["spill_dir"])
    t = time.time()
    options = PipelineOptions([f"--runner={runner}", *beam_args])
    with beam.Pipeline(options=options) as pipeline:
      for plan in plans:
        if not plan["jobs"]:
          continue
        split = plan["split"]
        encoded = (pipeline
                   | f"{split}/sources" >> beam.Create(plan["jobs"])
                   | f"{split}/spread" >> beam.Reshuffle()
                   | f"{split}/encode" >> beam.ParDo(EncodeSequence(config.prep_options, plan["spill_dir"]))
                   .with_outputs("rejected", main="encoded"))
        _ = (encoded.encoded
             | f"{split}/by_shard" >> beam.GroupByKey()
             | f"{split}/write" >> beam.ParDo(WriteShard(out, split, plan["num_shards"], plan["spill_dir"])))
        _ = encoded.rejected | f"{split}/dead_letter" >> beam.ParDo(WriteRejected(plan["spill_dir"]))
    pipeline_seconds = time.time() - t

    rejected_all = []
    for plan in plans:
      split, stats = plan["split"], plan["stats"]
      for shard_stats in _read_json_files(plan["spill_dir"], "shard-*.json"):
        stats.update(shard_stats)
      for s in plan["todo"]:  # a shard whose every source was rejected: empty, so the set is complete
        name = features.SHARD_PATTERN.format(split=split, index=s, count=plan["num_shards"])
        if name not in stats:
          fileio.write_bytes(_join(out, name), b"")
          stats[name] = {"sequences": 0, "gops": 0, "frames": 0, "bytes": 0}
      rejected = sorted(_read_json_files(plan["spill_dir"], "rejected-*.json"), key=lambda r: r["path"])
      fileio.write_json(plan["stats_path"], {"count": plan["num_shards"], "shards": stats})
      fileio.write_json(_join(out, REJECTED.format(split=split)), rejected)
      gfile.rmtree(plan["spill_dir"])
      summary = {"split": split, "shards": plan["num_shards"],
                 "shards_skipped": plan["num_shards"] - len(plan["todo"]), "stale_removed": plan["removed"],
                 "sequences_written": len(plan["jobs"]) - len(rejected), "rejected": len(rejected)}
      summary = prepare.add_totals(summary, stats, start)
      summary["seconds"] = round(pipeline_seconds, 2)
      report["splits"][split] = summary
      log(build.split_line(split, summary))
      for r in rejected:
        log(f"rejected: {r['path']}: {r['problem']}")
      rejected_all += rejected
    report["seconds"] = round(time.time() - start, 2)
    report["rejected"] = rejected_all
    fileio.write_json(_join(out, features.DATASET_INFO), report)
  if rejected_all:
    raise codec.VideoError(_join(out, REJECTED.format(split="*")),
                           f"{len(rejected_all)} input file(s) rejected (listed there, with reasons); "
                           "the shards hold every other sequence")
  log(f"done in {report['seconds']} s ({runner}); shards and dataset_info.json in {out}")
  return report

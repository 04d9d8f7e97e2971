"""The TFRecord build as an Apache Beam pipeline: preprocessing past one machine.

Optional (`pip install -e ".[beam]"`, which brings Dask for the DaskRunner too); the local
process pool (`build.build`) stays the default. Both drivers call the same per-sequence
transform, `prepare.sequence_gops`, and write the same bytes: for the same inputs the shards
are byte-identical.

The pipeline is ONE linear chain to ONE sink, for every split at once::

  jobs (key, i, source, spill) --Reshuffle--> EncodeSequence --(key, part)--> GroupByKey(key)
      --> WriteShard (the sink)

`key` is an integer naming one shard of one split (integers hash alike in every worker
process); a part is an encoded sequence or a rejected one, in the same collection. This is
the shape every runner executes as written: real runners do not forgive what DirectRunner
does (Beam's DaskRunner feeds every consumer of a multi-output ParDo the producer's whole
bag, and computes only the graph's last leaf, so side branches and extra sinks never run).

* EncodeSequence runs `sequence_gops` on one source (remote inputs are first copied to the
  worker's local disk) and writes the sequence's records, in GOP order, to a spill file
  `OUT/.spill_beam_{split}/{i:06d}.tfrecord`. Bad input (an `errors.InputError`) becomes a
  rejected part naming the original file, wherever it lives.
* WriteShard appends its encoded parts' spill files in source order to
  `OUT/{split}-%05d-of-%05d.tfrecord` (the local path's contiguous sharding, so a sequence's
  GOPs stay together and in order; memory stays bounded by one record), counting the records
  it writes, and reports the shard, its rejected sources and the worker processes in one
  small JSON file in the spill directory.
* Every write goes to a temporary name that is renamed over the final one (`fileio.atomic_uri`)
  and every name is a function of the inputs, so Beam's retries rewrite the same files with
  the same bytes: no duplicate records.

The launcher (this module's `run`) renders the synthetic benchmark locally when asked,
lists the sources, removes stale shard sets, skips shards an earlier run finished, runs
the pipeline, and then trusts nothing it did not see: every shard of the plan must have been
reported by the pipeline, exist, and hold exactly the records reported for it (counted from
the file's framing, `records.count_records`); a missing, empty or short shard is a one-line
error naming it (exit 1), and `{split}-shards.json` and `build_report.json` are written only
from what was verified. Rejected files are listed with their problem in
`OUT/{split}-rejected.json` and `build_report.json`, printed as `rejected: FILE: PROBLEM`
lines, and the job then fails with one line (exit 1): at the scale Beam is for, one unreadable
clip must not throw away an overnight job, and must not pass unnoticed. (The local path
instead stops at the first bad file.) Input and output may be local paths or URIs that
`tf.io.gfile` reaches.

Runners: any Beam runner by name or module path; `DaskRunner` (alias `dask`) is
`apache_beam.runners.dask.dask_runner.DaskRunner`, given `--dask_client_address=tcp://HOST:8786`
through `beam_args` (without one it starts a local Dask cluster). Unless the arguments choose
a partitioning, each sequence is its own Dask partition, so the work spreads over the workers.
"""

import dataclasses
import contextlib
import json
import os
import posixpath
import socket
import tempfile
import time
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from tw_keras import dataset_info, fileio
from tw_keras.errors import InputError
from tw_keras.data import build, features, prepare, records, shards

SPILL_DIR = ".spill_beam_{split}"  # `shards.remove_stale` removes `.spill_*` leftovers
REJECTED = "{split}-rejected.json"
SHARD_REPORT = "shard-{index:05d}.json"  # WriteShard's report, in the split's spill directory
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
RUNNER_ALIASES = {"daskrunner": DASK_RUNNER, "dask": DASK_RUNNER}


def _join(*parts: str) -> str:
  return posixpath.join(*parts) if fileio.is_remote(parts[0]) else os.path.join(*parts)


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def runner_path(runner: str) -> str:
  """Beam's name or module path for `runner`, with the project's aliases (DaskRunner)."""
  return RUNNER_ALIASES.get(runner.lower(), runner)


def pipeline_args(runner: str, beam_args: Sequence[str]) -> List[str]:
  """The PipelineOptions arguments: the runner, the user's arguments, and on Dask one
  partition per sequence unless the arguments choose a partitioning."""
  args = [f"--runner={runner_path(runner)}", *beam_args]
  if runner_path(runner) == DASK_RUNNER and not any(
      a.startswith(("--dask_partition_size", "--dask_npartitions")) for a in beam_args):
    args.append("--dask_partition_size=1")
  return args


def _localized(source: prepare.Source, tmp: str):
  """(source with every remote file copied into the local directory `tmp`, {local: original})."""
  originals = {}

  def local(path, i):
    if path is None or not fileio.is_remote(path):
      return path
    dst = os.path.join(tmp, f"{i:06d}_{posixpath.basename(path)}")
    _gfile().copy(path, dst, overwrite=True)
    originals[dst] = path
    return dst
  video = local(source.video, 0)
  images = tuple(local(p, i) for i, p in enumerate(source.images))
  labels = tuple(local(p, 100000 + i) for i, p in enumerate(source.labels))
  return dataclasses.replace(source, video=video, images=images, labels=labels), originals


def original_path(error_path: str, originals: Dict[str, str], tmp: str, source: prepare.Source) -> str:
  """The user's name for the file a `VideoError` names: a worker's local copy maps back to
  its original; any other file in the worker's scratch directory (the canonical stream)
  stands for the source itself; everything else is the user's file as given."""
  if error_path in originals:
    return originals[error_path]
  if os.path.abspath(str(error_path)).startswith(os.path.abspath(tmp) + os.sep):
    return source.video or (source.images[0] if source.images else source.sequence_id)
  return error_path


def _worker_id() -> str:
  return f"{socket.gethostname()}:{os.getpid()}"


class EncodeSequence(beam.DoFn):
  """(key, i, source, spill) -> (key, part): part is {i, spill, gops, frames, worker}, or
  {i, rejected: {path, problem, sequence_id}, worker} for bad input."""

  def __init__(self, options: prepare.PrepOptions):
    self.options = options

  def process(self, job):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    key, i, source, spill = job
    part = {"i": i, "spill": spill, "gops": 0, "frames": 0, "worker": _worker_id()}
    with tempfile.TemporaryDirectory(prefix="tw_keras_beam_") as tmp:
      originals = {}
      try:
        local, originals = _localized(source, tmp)
        with fileio.atomic_uri(spill) as out, tf.io.TFRecordWriter(out) as writer:
          for context, frames in prepare.sequence_gops(local, self.options, tmp):
            writer.write(records.to_sequence_example(context, frames))
            part["gops"] += 1
            part["frames"] += len(frames)
      except InputError as e:
        rejected = {"path": original_path(e.path, originals, tmp, source), "problem": e.problem,
                    "sequence_id": source.sequence_id}
        yield key, {"i": i, "rejected": rejected, "worker": part["worker"]}
        return
    yield key, part


class WriteShard(beam.DoFn):
  """(key, [part, ...]) -> the shard file (encoded parts' spills appended in source order;
  empty when every source was rejected) and its report, `SHARD_REPORT` in the spill
  directory: {"name", "stats": {sequences, gops, frames, bytes}, "rejected": [...],
  "workers": [...]}, the counts being what this step wrote. Yields the report.

  `shards`: {key: (output_dir, split, index, count, spill_dir)}.
  """

  def __init__(self, shards: Dict[int, tuple]):
    self.shards = shards

  def process(self, element):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    key, parts = element
    output_dir, split, index, count, spill_dir = self.shards[key]
    parts = sorted(parts, key=lambda p: p["i"])
    encoded = [p for p in parts if "rejected" not in p]
    name = features.SHARD_PATTERN.format(split=split, index=index, count=count)
    final = _join(output_dir, name)
    stats = {"sequences": len(encoded), "gops": 0, "frames": sum(p["frames"] for p in encoded)}
    with fileio.atomic_uri(final) as tmp:
      with tf.io.TFRecordWriter(tmp) as writer:
        for part in encoded:
          for record in tf.data.TFRecordDataset(part["spill"]):
            writer.write(record.numpy())
            stats["gops"] += 1
    stats["bytes"] = _gfile().stat(final).length
    report = {"name": name, "stats": stats, "rejected": [p["rejected"] for p in parts if "rejected" in p],
              "workers": sorted({p["worker"] for p in parts})}
    fileio.write_json(_join(spill_dir, SHARD_REPORT.format(index=index)), report)
    yield report


def _remove_stale(output_dir: str, split: str, num_shards: int) -> int:
  """`shards.remove_stale` for any file system: other `-of-N` sets and the spill directory."""
  if not fileio.is_remote(output_dir):
    return shards.remove_stale(output_dir, split, num_shards)
  gfile = _gfile()
  n = 0
  for count, files in features.shard_sets(output_dir, split, glob_fn=gfile.glob).items():
    if count != num_shards:
      for f in files:
        gfile.remove(f)
        n += 1
  return n


def _read_json(path: str):
  with fileio.open_file(path, "r") as f:
    return json.load(f)


def _plan(config: build.BuildConfig, out: str, split: str, first_key: int) -> Dict[str, object]:
  """What the pipeline must do for one split: its shard set, the shards still to write
  (keyed from `first_key` on), and one job per source of those shards."""
  gfile = _gfile()
  sources, skipped = build.find_sources(config, split)
  num_shards = max(1, min(build.num_shards(config, len(sources)), len(sources)))
  removed = _remove_stale(out, split, num_shards)  # also every `.spill_*` directory, locally
  spill_dir = _join(out, SPILL_DIR.format(split=split))
  if gfile.exists(spill_dir):
    gfile.rmtree(spill_dir)
  stats_path = _join(out, features.SHARD_STATS.format(split=split))
  stats = shards.read_stats(stats_path, num_shards, shards.encoding_of(config.prep_options))
  bounds = shards.shard_bounds(len(sources), num_shards)
  name = lambda s: features.SHARD_PATTERN.format(split=split, index=s, count=num_shards)
  todo = [s for s in range(num_shards) if not (name(s) in stats and gfile.exists(_join(out, name(s))))]
  keys = {first_key + n: (out, split, s, num_shards, spill_dir) for n, s in enumerate(todo)}
  jobs = [(key, i, sources[i], _join(spill_dir, f"{i:06d}.tfrecord"))
          for key, (_, _, s, _, _) in keys.items() for i in range(bounds[s], bounds[s + 1])]
  return dict(split=split, num_shards=num_shards, removed=removed, skipped=skipped,
              formed=build.formed_line(split, sources, skipped), spill_dir=spill_dir, stats_path=stats_path,
              stats={k: v for k, v in stats.items() if k not in {name(s) for s in todo}}, todo=todo,
              keys=keys, jobs=jobs, name=name)


def verify_split(plan: Dict[str, object], out: str, runner: str):
  """Checks the split's whole shard set against what the pipeline reported, and returns
  (stats of every shard, rejected sources, worker processes, sequences written this run).

  Raises:
    errors.InputError: naming the first shard that the pipeline did not report, or that is
      missing, or whose records differ from the count reported (empty or short).
  """
  gfile = _gfile()
  stats, rejected, workers, written = dict(plan["stats"]), [], set(), 0
  for s in plan["todo"]:
    name = plan["name"](s)
    report_path = _join(plan["spill_dir"], SHARD_REPORT.format(index=s))
    if not gfile.exists(report_path):
      raise InputError(_join(out, name), f"the {runner} pipeline never wrote this shard (no report from "
                             "its write step); nothing was recorded as finished, rerun to write it")
    report = _read_json(report_path)
    stats[name] = report["stats"]
    rejected += report["rejected"]
    workers.update(report["workers"])
    written += report["stats"]["sequences"]
  for s in range(plan["num_shards"]):
    name = plan["name"](s)
    path = _join(out, name)
    if not gfile.exists(path):
      raise InputError(path, "shard missing after the pipeline ran")
    found = records.count_records(path)
    if found != stats[name]["gops"]:
      raise InputError(path, f"shard holds {found} records, the pipeline reported "
                             f"{stats[name]['gops']}; nothing was recorded as finished, rerun to rewrite it")
  return stats, sorted(rejected, key=lambda r: r["path"]), workers, written


def run(config: build.BuildConfig, runner: str, beam_args: Sequence[str] = (), log=print) -> Dict[str, object]:
  """Runs the build on Beam's `runner` (DirectRunner, DaskRunner, DataflowRunner, FlinkRunner, ...).

  `beam_args` are passed to Beam's PipelineOptions as they are (e.g.
  `--dask_client_address=tcp://HOST:8786`, `--project=...`, `--temp_location=gs://...`,
  `--direct_num_workers=2`). Returns the dataset report.
  """
  if not config.output_dir:
    raise ValueError("BuildConfig.output_dir is required")
  start = time.time()
  gfile = _gfile()
  out = config.output_dir
  report = build.report_header(config, runner=runner)
  if fileio.is_remote(out):
    gfile.makedirs(out)
  else:
    fileio.check_output_dir(out)
  # One job per local output directory (an OS lock); object stores have no such lock.
  with (contextlib.nullcontext() if fileio.is_remote(out) else fileio.DirectoryLock(out)):
    build.make_inputs(config, report)

    if not fileio.is_remote(out):
      build.check_descriptor(config, out)
    plans, shard_keys, jobs = [], {}, []
    for split in config.output_splits:
      plan = _plan(config, out, split, first_key=len(shard_keys))
      if plan["skipped"]:
        log(build.skipped_line(split, plan["skipped"], config.num_frames))
        report.setdefault("skipped_labelled_frames", {})[split] = plan["skipped"]
      if plan["formed"]:
        log(plan["formed"])
      plans.append(plan)
      shard_keys.update(plan["keys"])
      jobs += plan["jobs"]
    for plan in plans:  # after every plan: planning a split removes every `.spill_*` directory
      gfile.makedirs(plan["spill_dir"])

    t = time.time()
    if jobs:
      options = PipelineOptions(pipeline_args(runner, beam_args))
      with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | "sources" >> beam.Create(jobs)
             | "spread" >> beam.Reshuffle()
             | "encode" >> beam.ParDo(EncodeSequence(config.prep_options))
             | "by_shard" >> beam.GroupByKey()
             | "write" >> beam.ParDo(WriteShard(shard_keys)))
    pipeline_seconds = time.time() - t

    verified = [verify_split(plan, out, runner) for plan in plans]  # all of them before any is recorded
    rejected_all, workers_all = [], set()
    for plan, (stats, rejected, workers, written) in zip(plans, verified):
      split = plan["split"]
      shards.write_stats(plan["stats_path"], plan["num_shards"], stats, shards.encoding_of(config.prep_options))
      fileio.write_json(_join(out, REJECTED.format(split=split)), rejected)
      gfile.rmtree(plan["spill_dir"])
      summary = {"split": split, "shards": plan["num_shards"],
                 "shards_skipped": plan["num_shards"] - len(plan["todo"]), "stale_removed": plan["removed"],
                 "sequences_written": written, "rejected": len(rejected)}
      summary = shards.add_totals(summary, stats, start)
      summary["seconds"] = round(pipeline_seconds, 2)
      report["splits"][split] = summary
      log(build.split_line(split, summary))
      for r in rejected:
        log(f"rejected: {r['path']}: {r['problem']}")
      rejected_all += rejected
      workers_all |= workers
    report["seconds"] = round(time.time() - start, 2)
    report["rejected"] = rejected_all
    report["workers"] = sorted(workers_all)
    if fileio.is_remote(out):
      if config.info is not None:
        fileio.write_json(_join(out, dataset_info.DESCRIPTOR), config.info.to_json())
    else:
      build.write_descriptor(config, out)
    fileio.write_json(_join(out, features.BUILD_REPORT), report)
  if rejected_all:
    raise InputError(_join(out, REJECTED.format(split="*")),
                           f"{len(rejected_all)} input file(s) rejected (listed there, with reasons); "
                           "the shards hold every other sequence")
  log(f"done in {report['seconds']} s ({runner}, {len(workers_all)} worker process(es)); "
      f"shards and build_report.json in {out}")
  return report

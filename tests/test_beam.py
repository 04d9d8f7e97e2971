"""The Beam driver of the TFRecord build (DirectRunner): the same records as the local
pool, a dead-letter output for bad files, and idempotent writes under retries."""
import hashlib
import glob
import json
import os
import subprocess
import sys

import pytest

from helpers import translated_clip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, "-m", "data_prep.build_tfrecords", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=600)


def _records(path):
  import tensorflow as tf
  return [hashlib.sha256(r.numpy()).hexdigest() for r in tf.data.TFRecordDataset(path)]


def _sha(path):
  return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def local_and_beam(tiny_records, tmp_path_factory):
  """The tiny synthetic set (built by the local pool, 2 sequences per shard), rebuilt by Beam."""
  out = str(tmp_path_factory.mktemp("beam"))
  local = str(tmp_path_factory.mktemp("local"))
  root = tiny_records
  for d, extra in ((local, []), (out, ["--runner=DirectRunner"])):
    r = run_cli("--dataset=cityscapes", f"--input_dir={root}", f"--output_dir={d}", "--sequences_per_shard=2",
                "--workers=2", *extra)
    assert r.returncode == 0, r.stderr[-3000:]
  return local, out


def test_beam_writes_the_same_records_and_shards_as_the_local_pool(local_and_beam):
  local, beam = local_and_beam
  names = sorted(os.path.basename(p) for p in glob.glob(f"{local}/*.tfrecord"))
  assert names == sorted(os.path.basename(p) for p in glob.glob(f"{beam}/*.tfrecord"))
  assert names == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord", "val-00000-of-00001.tfrecord"]
  for name in names:
    assert _records(f"{beam}/{name}") == _records(f"{local}/{name}")  # record for record, in order
    assert _sha(f"{beam}/{name}") == _sha(f"{local}/{name}")  # and byte for byte
  info_local, info_beam = (json.load(open(f"{d}/build_report.json")) for d in (local, beam))
  for split in ("train", "val"):
    for key in ("sequences", "gops", "frames", "bytes", "shards"):
      assert info_beam["splits"][split][key] == info_local["splits"][split][key], (split, key)
    assert json.load(open(f"{beam}/{split}-shards.json")) == json.load(open(f"{local}/{split}-shards.json"))
  assert info_beam["runner"] == "DirectRunner" and info_beam["rejected"] == []
  assert not glob.glob(f"{beam}/.spill*") and not glob.glob(f"{beam}/.tmp-*")


def test_beam_rerun_skips_finished_shards(local_and_beam, tiny_records):
  _, beam = local_and_beam
  before = {p: _sha(p) for p in glob.glob(f"{beam}/*.tfrecord")}
  r = run_cli("--dataset=cityscapes", f"--input_dir={tiny_records}", f"--output_dir={beam}",
              "--sequences_per_shard=2", "--runner=DirectRunner")
  assert r.returncode == 0, r.stderr[-3000:]
  info = json.load(open(f"{beam}/build_report.json"))
  assert info["splits"]["train"]["shards_skipped"] == 2 and info["splits"]["train"]["frames"] == 36
  assert {p: _sha(p) for p in glob.glob(f"{beam}/*.tfrecord")} == before


def test_a_bad_file_goes_to_the_dead_letter_output_and_the_rest_is_written(tmp):
  from tw_keras.video import codec
  videos = os.path.join(tmp, "videos")
  os.makedirs(videos)
  codec.encode_frames(translated_clip(64, 96, 24, 1, 1), f"{videos}/a.mp4")
  codec.encode_frames(translated_clip(64, 96, 12, 2, 0, seed=1), f"{videos}/c.mp4")
  open(f"{videos}/b.mp4", "w").write("not a video\n" * 40)
  out = os.path.join(tmp, "out")
  r = run_cli("--dataset=video", f"--input_pattern={videos}/*.mp4", f"--output_dir={out}",
              "--sequences_per_shard=1", "--runner=DirectRunner")
  assert r.returncode == 1
  errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "1 input file(s) rejected" in errors[0], r.stderr[-2000:]
  assert f"rejected: {videos}/b.mp4: not a video FFmpeg can read" in r.stdout, r.stdout
  rejected = json.load(open(f"{out}/video-rejected.json"))
  assert [x["path"] for x in rejected] == [f"{videos}/b.mp4"]
  info = json.load(open(f"{out}/build_report.json"))["splits"]["video"]
  assert (info["sequences"], info["gops"], info["frames"], info["rejected"]) == (2, 3, 36, 1)
  # The set is complete (the rejected file's shard is empty) and readable.
  from tw_keras.data import dataset
  files = dataset.shard_files(out, "video")
  assert len(files) == 3 and sum(1 for _ in dataset.gop_dataset(files)) == 3


def test_concealed_damage_is_dead_lettered_as_any_bad_input(tmp):
  """Frames the decoder flags as corrupt make a bad input on Beam too: dead-lettered, named."""
  from helpers import damage_packets  # pylint: disable=g-import-not-at-top
  from tw_keras.video import codec
  videos = os.path.join(tmp, "videos")
  os.makedirs(videos)
  codec.encode_frames(translated_clip(64, 96, 24, 1, 1), f"{videos}/a.mp4")
  codec.encode_frames(translated_clip(64, 96, 24, 2, 1), f"{tmp}/b_clean.mp4")
  damage_packets(f"{tmp}/b_clean.mp4", f"{videos}/b.mp4", [15])
  out = os.path.join(tmp, "out")
  r = run_cli("--dataset=video", f"--input_pattern={videos}/*.mp4", f"--output_dir={out}",
              "--sequences_per_shard=1", "--runner=DirectRunner")
  assert r.returncode == 1, r.stderr[-2000:]
  assert f"rejected: {videos}/b.mp4: corrupt frame(s) 15: the decoder concealed damage" in r.stdout, r.stdout
  assert [x["path"] for x in json.load(open(f"{out}/video-rejected.json"))] == [f"{videos}/b.mp4"]


def test_retried_work_rewrites_the_same_bytes(local_and_beam, tiny_records, tmp):
  """Beam may run a bundle twice: both DoFns write the same names with the same bytes."""
  from tw_keras.data import beam_build, build
  config = build.BuildConfig(dataset="cityscapes", input_dir=tiny_records, output_dir=tmp)
  source = build.find_sources(config, "val")[0][0]
  encode = beam_build.EncodeSequence(config.prep_options)
  first = list(encode.process((7, 0, source, f"{tmp}/000000.tfrecord")))
  (key, part), = first
  spill = part["spill"]
  sha = _sha(spill)
  assert key == 7 and part["gops"] == 1 and part["frames"] == 12
  assert list(encode.process((7, 0, source, f"{tmp}/000000.tfrecord"))) == first and _sha(spill) == sha
  write = beam_build.WriteShard({7: (tmp, "val", 0, 1, tmp)})
  (report,) = write.process((7, [part]))
  shard = f"{tmp}/val-00000-of-00001.tfrecord"
  sha_shard = _sha(shard)
  assert list(write.process((7, [part]))) == [report]
  assert _sha(shard) == sha_shard and not glob.glob(f"{tmp}/.tmp-*")
  assert _records(shard) == _records(spill)
  assert report["stats"]["gops"] == 1 and report["stats"]["sequences"] == 1 and report["rejected"] == []


def _run_val(tiny_records, out):
  from tw_keras.data import beam_build, build
  config = build.BuildConfig(dataset="cityscapes", input_dir=tiny_records, output_dir=out, splits=("val",),
                             sequences_per_shard=1)
  return beam_build.run(config, "DirectRunner", log=lambda _: None)


def test_a_write_step_that_never_ran_is_an_error_naming_the_shard(tiny_records, tmp, monkeypatch):
  """A runner that skips the sink (as DaskRunner did with side branches) cannot end in success."""
  from tw_keras.data import beam_build
  from tw_keras import errors
  monkeypatch.setattr(beam_build.WriteShard, "process", lambda self, element: iter(()))
  with pytest.raises(errors.InputError) as e:
    _run_val(tiny_records, tmp)
  assert e.value.path == f"{tmp}/val-00000-of-00002.tfrecord" and "never wrote this shard" in e.value.problem
  assert not os.path.exists(f"{tmp}/build_report.json") and not os.path.exists(f"{tmp}/val-shards.json")


def test_a_short_shard_is_an_error_and_is_not_recorded_as_finished(tiny_records, tmp, monkeypatch):
  import tensorflow as tf
  from tw_keras import errors
  from tw_keras.data import beam_build
  write = beam_build.WriteShard.process

  def short(self, element):  # the shard loses its last record after the step reported it
    reports = list(write(self, element))
    path = os.path.join(tmp, reports[0]["name"])
    kept = [r.numpy() for r in tf.data.TFRecordDataset(path)][:-1]
    with tf.io.TFRecordWriter(path) as w:
      for r in kept:
        w.write(r)
    return iter(reports)

  monkeypatch.setattr(beam_build.WriteShard, "process", short)
  with pytest.raises(errors.InputError) as e:
    _run_val(tiny_records, tmp)
  assert e.value.path == f"{tmp}/val-00000-of-00002.tfrecord"
  assert "holds 0 records, the pipeline reported 1" in e.value.problem
  assert not os.path.exists(f"{tmp}/build_report.json") and not os.path.exists(f"{tmp}/val-shards.json")
  monkeypatch.undo()  # a rerun with a sound pipeline rewrites and records the set
  report = _run_val(tiny_records, tmp)
  assert report["splits"]["val"]["sequences_written"] == 2 and report["splits"]["val"]["gops"] == 2


def test_dask_runner_alias_and_one_partition_per_sequence():
  from tw_keras.data import beam_build
  assert beam_build.pipeline_args("DaskRunner", ["--dask_client_address=tcp://127.0.0.1:1"]) == [
      f"--runner={beam_build.DASK_RUNNER}", "--dask_client_address=tcp://127.0.0.1:1", "--dask_partition_size=1"]
  assert beam_build.pipeline_args("dask", ["--dask_npartitions=4"]) == [
      f"--runner={beam_build.DASK_RUNNER}", "--dask_npartitions=4"]
  assert beam_build.pipeline_args("DirectRunner", []) == ["--runner=DirectRunner"]


def test_the_dead_letter_name_is_the_users_file_wherever_it_lives(tmp):
  from tw_keras.data import beam_build, prepare
  scratch = os.path.join(tmp, "scratch")
  source = prepare.Source("val/x", images=(f"{tmp}/a.png", f"{tmp}/b.png"), labels=(None, f"{tmp}/b_label.png"))
  name = lambda p, originals={}: beam_build.original_path(p, originals, scratch, source)
  assert name(f"{tmp}/b_label.png") == f"{tmp}/b_label.png"  # a local input under the temp dir: as given
  assert name(f"{scratch}/transcode_1/canonical.mp4") == f"{tmp}/a.png"  # the worker's own scratch file
  assert name(f"{scratch}/000001_b.png", {f"{scratch}/000001_b.png": "gs://bucket/b.png"}) == "gs://bucket/b.png"

"""The Beam build on a live Dask cluster: a `dask scheduler` and two `dask worker` processes
on 127.0.0.1 (real processes over TCP, dashboards off), started and stopped by PID here.

The records, `{split}-shards.json` and `build_report.json`'s counts must equal the local
pool's byte for byte, both workers must have done work, and a corrupt file must land in the
dead-letter list under its own name (the inputs live under the system temp directory, where
the old launcher misnamed it)."""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from test_beam import ROOT, _records, _sha, run_cli

WORKERS = 2


def _stop(procs):
  for p in reversed(procs):
    if p.poll() is None:
      p.terminate()
  for p in reversed(procs):
    try:
      p.wait(timeout=20)
    except subprocess.TimeoutExpired:
      p.kill()
      p.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
  """(scheduler address, {worker PID}) of a cluster that lives for this module."""
  distributed = pytest.importorskip("distributed")  # the [beam] extra brings it; CI installs it
  d = str(tmp_path_factory.mktemp("dask"))
  scheduler_file = os.path.join(d, "scheduler.json")
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", DASK_DISTRIBUTED__WORKER__DAEMON="False")
  procs = []

  def start(name, *args):
    log = open(os.path.join(d, f"{name}.log"), "w")
    procs.append(subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))

  try:
    start("scheduler", "scheduler", "--host=127.0.0.1", "--port=0", "--no-dashboard",
          f"--scheduler-file={scheduler_file}")
    deadline = time.time() + 120
    while not os.path.exists(scheduler_file):
      assert procs[0].poll() is None and time.time() < deadline, open(f"{d}/scheduler.log").read()[-2000:]
      time.sleep(0.2)
    for n in range(WORKERS):  # no nanny: the PIDs started here are the processes that work
      start(f"worker{n}", "worker", f"--scheduler-file={scheduler_file}", "--host=127.0.0.1", "--nthreads=1",
            "--no-nanny", "--no-dashboard", f"--name=w{n}")
    with distributed.Client(scheduler_file=scheduler_file, timeout=60) as client:
      client.wait_for_workers(WORKERS, timeout=120)
      pids = set(client.run(os.getpid).values())
      address = client.scheduler.address
    assert pids == {p.pid for p in procs[1:]}
    yield address, pids
  finally:
    _stop(procs)


def _build(*args):
  r = run_cli("--sequences_per_shard=2", *args)
  return r


def _workers_pids(info):
  return {int(w.rsplit(":", 1)[1]) for w in info["workers"]}


@pytest.fixture(scope="module")
def local_and_dask(tiny_records, dask_cluster, tmp_path_factory):
  address, _ = dask_cluster
  local, dask = (str(tmp_path_factory.mktemp(n)) for n in ("local_pool", "dask_out"))
  r = _build("--dataset=cityscapes", f"--input_dir={tiny_records}", f"--output_dir={local}", "--workers=2")
  assert r.returncode == 0, r.stderr[-3000:]
  r = _build("--dataset=cityscapes", f"--input_dir={tiny_records}", f"--output_dir={dask}", "--runner=DaskRunner",
             f"--beam_args=--dask_client_address={address}")
  assert r.returncode == 0, r.stderr[-3000:]
  return local, dask, r


def test_dask_cluster_writes_the_local_pools_bytes_with_both_workers(local_and_dask, dask_cluster):
  local, dask, r = local_and_dask
  _, pids = dask_cluster
  names = sorted(os.path.basename(p) for p in glob.glob(f"{local}/*.tfrecord"))
  assert names == sorted(os.path.basename(p) for p in glob.glob(f"{dask}/*.tfrecord")) and len(names) == 3
  for name in names:
    assert _sha(f"{dask}/{name}") == _sha(f"{local}/{name}"), name
  info_local, info_dask = (json.load(open(f"{d}/build_report.json")) for d in (local, dask))
  for split in ("train", "val"):
    assert open(f"{dask}/{split}-shards.json", "rb").read() == open(f"{local}/{split}-shards.json", "rb").read()
    for key in ("sequences", "gops", "frames", "bytes", "shards", "sequences_written"):
      assert info_dask["splits"][split][key] == info_local["splits"][split][key], (split, key)
    assert json.load(open(f"{dask}/{split}-rejected.json")) == []
  assert info_dask["runner"] == "DaskRunner" and info_dask["rejected"] == []
  assert _workers_pids(info_dask) == pids, info_dask["workers"]  # both workers encoded sequences
  assert "2 worker process(es)" in r.stdout
  assert not glob.glob(f"{dask}/.spill*") and not glob.glob(f"{dask}/.tmp-*")


def test_a_corrupt_label_on_dask_is_dead_lettered_under_its_own_name(local_and_dask, dask_cluster, tiny_records,
                                                                     tmp_path_factory):
  local, _, _ = local_and_dask
  address, _ = dask_cluster
  root = str(tmp_path_factory.mktemp("corrupt_root"))  # under the system temp directory
  for d in ("leftImg8bit_sequence", "gtFine"):
    shutil.copytree(os.path.join(tiny_records, d), os.path.join(root, d))
  bad = sorted(glob.glob(f"{root}/gtFine/val/*/*_000019_gtFine_labelTrainIds.png"))[1]
  open(bad, "wb").write(b"\x89PNG not really\n" * 10)
  out = str(tmp_path_factory.mktemp("dask_corrupt"))
  r = _build("--dataset=cityscapes", f"--input_dir={root}", f"--output_dir={out}", "--runner=dask",
             f"--beam_args=--dask_client_address={address}")
  assert r.returncode == 1
  errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "1 input file(s) rejected" in errors[0], r.stderr[-2000:]
  assert f"rejected: {bad}: not a readable label PNG" in r.stdout, r.stdout
  assert [x["path"] for x in json.load(open(f"{out}/val-rejected.json"))] == [bad]
  info = json.load(open(f"{out}/build_report.json"))
  assert [x["path"] for x in info["rejected"]] == [bad]
  assert (info["splits"]["val"]["sequences"], info["splits"]["val"]["rejected"]) == (1, 1)
  # Train is untouched by the bad val label: the local pool's bytes; val keeps its good sequence.
  for name in ("train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"):
    assert _sha(f"{out}/{name}") == _sha(f"{local}/{name}")
  assert _records(f"{out}/val-00000-of-00001.tfrecord") == _records(f"{local}/val-00000-of-00001.tfrecord")[:1]

"""Fault injection: damaged inputs, kill -9, SIGINT, concurrent jobs, stale outputs.

Every case asserts what WORKSPACE.md's "What bad input gets" table promises: one line
`error: <file>: <problem>` (exit 1) or `interrupted...` (exit 130), and what stays on disk.
"""
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from tw_keras.video import codec
from tw_keras.data import features
from tw_keras import fileio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
SYNTH = ["--dataset=synthetic", "--synthetic_height=32", "--synthetic_width=64", "--synthetic_train=4",
         "--synthetic_val=0", "--splits=train", "--sequences_per_shard=1"]


def cli(module, *args, timeout=600):
  return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                        timeout=timeout)


def one_error_line(r, *fragments, code=1):
  assert r.returncode == code, (r.returncode, r.stdout, r.stderr[-2000:])
  lines = [l for l in r.stderr.strip().splitlines() if l.startswith(("error:", "interrupted"))]
  assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
  for f in fragments:
    assert f in lines[0], lines[0]
  return lines[0]


def shard_hashes(out, split="train"):
  return {os.path.basename(f): hashlib.sha256(open(f, "rb").read()).hexdigest()
          for f in sorted(glob.glob(os.path.join(out, f"{split}-*.tfrecord")))}


def leftovers(directory):
  return [p for p in glob.glob(os.path.join(directory, "**", "*"), recursive=True)
          if fileio.TMP_MARK in p or ".spill_" in p or "transcode_" in p]


# ---------------------------------------------------------------------------- damaged videos

def _mp4(path, n=40, faststart=True):
  c = av.open(path, "w", options={"movflags": "faststart"} if faststart else {})
  s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=17)
  s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
  base = (np.random.default_rng(0).random((64, 400, 3)) * 255).astype(np.uint8)
  for t in range(n):
    f = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, 3 * t:3 * t + 96]), format="rgb24")
    f.pts = t
    for p in s.encode(f):
      c.mux(p)
  for p in s.encode():
    c.mux(p)
  c.close()
  return open(path, "rb").read()


@pytest.mark.parametrize("faststart", [True, False])
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_video_is_rejected_whole_never_silently(tmp_path, faststart, fraction):
  data = _mp4(str(tmp_path / "full.mp4"), faststart=faststart)
  bad = tmp_path / "cut.mp4"
  bad.write_bytes(data[:int(len(data) * fraction)])
  with pytest.raises(codec.VideoError) as e:
    for _ in codec.iter_source_frames(str(bad)):
      pass
  assert str(bad) in str(e.value)


def test_flipped_bytes_mid_stream_are_an_error(tmp_path):
  data = bytearray(_mp4(str(tmp_path / "full.mp4")))
  for i in range(len(data) // 2, len(data) // 2 + 3000, 5):
    data[i] ^= 0xFF
  bad = tmp_path / "flipped.mp4"
  bad.write_bytes(bytes(data))
  with pytest.raises(codec.VideoError, match="corrupt"):
    for _ in codec.iter_source_frames(str(bad)):
      pass


def _damaged_streams(tmp_path):
  """{name: (path, flagged frames)}: a canonical MPEG-4 file and an H.264 file (no B-frames,
  one reference: its own motion is used) with P-frames 15 and 22 damaged (an I-frame, 12, too
  in the canonical one)."""
  from helpers import damage_packets, translated_clip  # pylint: disable=g-import-not-at-top
  frames = translated_clip(64, 96, 36, 2, 1)
  canonical = str(tmp_path / "canonical.mp4")
  codec.encode_frames(frames, canonical)
  h264 = str(tmp_path / "h264.mp4")
  codec.encode_frames(frames, h264, codec.EncodeOptions(codec="h264"))
  out = {}
  for name, path, packets in (("canonical", canonical, [12, 15, 22]), ("h264", h264, [15, 22])):
    damage_packets(path, str(tmp_path / f"bad_{name}.mp4"), packets)
    out[name] = (str(tmp_path / f"bad_{name}.mp4"), packets)
  return out


@pytest.mark.parametrize("path_kind", ["canonical file", "native", "transcode, 1 worker", "transcode, 2 workers"])
def test_concealed_damage_is_seen_on_every_front_end_path(tmp_path, path_kind):
  """FFmpeg conceals the damage (no error) and flags the frames: refused by default with one
  error naming them; listed, frame by frame, with CorruptFrames(allow=True)."""
  from tw_keras.video import sources  # pylint: disable=g-import-not-at-top
  streams = _damaged_streams(tmp_path)
  path, flagged = streams["canonical" if path_kind == "canonical file" else "h264"]
  if path_kind == "canonical file":
    run = lambda corrupt: codec.decode_compressed(path, with_residual=False, corrupt=corrupt)
  else:
    motion, workers = ("native", 1) if path_kind == "native" else ("transcode", int(path_kind.split(", ")[1][0]))
    run = lambda corrupt: codec.stream_compressed(path, with_residual=False, motion_source=motion, workers=workers,
                                                  corrupt=corrupt)
  with pytest.raises(codec.VideoError, match=rf"^{path}: corrupt frame\(s\) {', '.join(map(str, flagged))}: "
                     "the decoder concealed damage"):
    list(run(None))
  corrupt = sources.CorruptFrames(allow=True)
  seen = []
  for frame in run(corrupt):
    seen.append(frame.index in corrupt.frames)  # flagged before its frame comes out
  assert len(seen) == 36 and [i for i, s in enumerate(seen) if s] == flagged == corrupt.frames


def test_concealed_damage_stops_preparation_unless_allowed_and_segmenting_keys_past_it(tmp_path, tiny_model_dir):
  streams = _damaged_streams(tmp_path)
  videos = tmp_path / "videos"
  videos.mkdir()
  os.rename(streams["h264"][0], videos / "bad.mp4")
  out = tmp_path / "out"
  r = cli("data_prep.build_tfrecords", "--dataset=video", f"--input_dir={videos}", f"--output_dir={out}")
  one_error_line(r, "bad.mp4: corrupt frame(s) 15, 22: the decoder concealed damage", "--allow_corrupt_frames")
  assert not glob.glob(str(out / "*.tfrecord")) and not leftovers(str(out))
  r = cli("data_prep.build_tfrecords", "--dataset=video", f"--input_dir={videos}", f"--output_dir={out}",
          "--allow_corrupt_frames")
  assert r.returncode == 0, r.stderr[-2000:]
  assert "warning: video: kept 2 frame(s) the decoder flagged as corrupt" in r.stdout + r.stderr
  with open(out / features.BUILD_REPORT) as f:
    assert json.load(f)["splits"]["video"]["corrupt_frames"] == {"bad.mp4": [15, 22]}
  r = cli("experiments.segment_video", f"--video={streams['canonical'][0]}", f"--checkpoint={tiny_model_dir}",
          f"--output={tmp_path / 'seg.mp4'}", "--variant=layer1_cfr_rga")
  assert r.returncode == 0, r.stderr[-2000:]
  warnings = [l for l in r.stderr.splitlines() if l.startswith("warning:")]
  assert warnings == [f"warning: {streams['canonical'][0]}: the decoder flagged frame(s) 12, 15, 22 as corrupt "
                      "(damage it concealed); key frames forced at 13, 16, 23"], r.stderr[-2000:]
  assert "36 frames (6 key)" in r.stdout and "3 corrupt frame(s), 3 key frame(s) forced after them" in r.stdout


def _h264(path, frames, fmt=None):
  """x264 without B-frames, one reference, GOP 12 (its own motion is unambiguous)."""
  from helpers import write_h264  # pylint: disable=g-import-not-at-top
  write_h264(path, frames, fmt, options={"bf": "0", "refs": "1", "g": "12"})


FRONT_ENDS = {  # every way a user's video is decoded: preparation's reader, and the segmenter's paths
    "preparation": lambda p: codec.iter_source_frames(p),
    "native": lambda p: codec.stream_compressed(p, with_residual=False, motion_source="native"),
    "transcode, 1 worker": lambda p: codec.stream_compressed(p, with_residual=False, motion_source="transcode"),
    "transcode, 2 workers": lambda p: codec.stream_compressed(p, with_residual=False, motion_source="transcode",
                                                              workers=2),
}


@pytest.mark.parametrize("front_end", list(FRONT_ENDS))
def test_stream_faults_end_in_one_error_on_every_front_end_path(tmp_path, front_end):
  """A truncated final GOP, a resolution change mid-stream, a zero-byte file, a Matroska file
  cut in half (no index: its demuxing just ends): each a one-line VideoError naming the file on
  every path; timestamps that go backwards (two MPEG-TS files
  joined) are no damage: every frame, in decode order, as frames are counted, never timed."""
  from helpers import translated_clip  # pylint: disable=g-import-not-at-top
  clip = translated_clip(64, 96, 28, 2, 1)
  _h264(tmp_path / "full.h264", clip, fmt="h264")
  data = (tmp_path / "full.h264").read_bytes()
  (tmp_path / "cut.h264").write_bytes(data[:int(len(data) * 0.9)])
  _h264(tmp_path / "a.h264", clip[:14], fmt="h264")
  _h264(tmp_path / "b.h264", [f[:48, :80].copy() for f in clip[14:]], fmt="h264")
  (tmp_path / "resized.h264").write_bytes((tmp_path / "a.h264").read_bytes() + (tmp_path / "b.h264").read_bytes())
  (tmp_path / "empty.mp4").write_bytes(b"")
  _h264(tmp_path / "full.mkv", clip, fmt="matroska")  # no frame index: a cut ends the demuxing early, silently
  data = (tmp_path / "full.mkv").read_bytes()
  (tmp_path / "cut.mkv").write_bytes(data[:len(data) // 2])
  _h264(tmp_path / "a.ts", clip[:14], fmt="mpegts")
  _h264(tmp_path / "b.ts", clip[14:], fmt="mpegts")
  (tmp_path / "backwards.ts").write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
  run = FRONT_ENDS[front_end]
  for name, problem in (("cut.h264", r"corrupt frame\(s\) 24: the decoder concealed damage"),
                        ("resized.h264", "the resolution changes mid-stream: frame 14 is 80x48, the frames before "
                                         "it 96x64"),
                        ("empty.mp4", r"empty file \(0 bytes\)"),
                        ("cut.mkv", r"truncated or corrupt video: its frames end at \d\.\d\d s, its header says "
                                    r"1\.6\d s")):
    with pytest.raises(codec.VideoError, match=f"^{tmp_path / name}: {problem}"):
      list(run(str(tmp_path / name)))
  frames = [f if isinstance(f, np.ndarray) else f.rgb for f in run(str(tmp_path / "backwards.ts"))]
  assert len(frames) == 28
  assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(frames, clip)) < 5  # in order: each its own frame


def test_a_zero_byte_file_among_good_ones_stops_preparation_with_one_line(tmp_path):
  videos = tmp_path / "videos"
  videos.mkdir()
  _mp4(str(videos / "a.mp4"), n=14)
  (videos / "b.mp4").write_bytes(b"")
  out = tmp_path / "out"
  r = cli("data_prep.build_tfrecords", "--dataset=video", f"--input_dir={videos}", f"--output_dir={out}",
          "--sequences_per_shard=1", "--workers=1")
  one_error_line(r, f"{videos / 'b.mp4'}: empty file (0 bytes)")
  assert len(glob.glob(str(out / "*.tfrecord"))) == 1 and not leftovers(str(out))  # a.mp4's shard is kept


def test_truncated_video_via_the_cli_one_line_and_nothing_left(tmp_path):
  videos = tmp_path / "videos"
  videos.mkdir()
  data = _mp4(str(tmp_path / "full.mp4"))
  (videos / "cut.mp4").write_bytes(data[:len(data) // 2])
  out = tmp_path / "out"
  r = cli("data_prep.build_tfrecords", "--dataset=video", f"--input_dir={videos}", f"--output_dir={out}")
  one_error_line(r, "cut.mp4", "truncated or corrupt")
  assert not glob.glob(str(out / "*.tfrecord")) and not leftovers(str(out))


def test_oversize_frames_get_a_scale_down_message(tmp_path):
  with pytest.raises(codec.VideoError, match="exceeds MPEG-4 Part 2's limit.*scale the video down"):
    codec.encode_frames([np.zeros((2000, 8400, 3), np.uint8)], str(tmp_path / "x.mp4"), source_name="big.mp4")
  assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------------- records

def test_records_are_byte_reproducible_and_resume_after_kill_9(tmp_path):
  a, b = tmp_path / "a", tmp_path / "b"
  assert cli("data_prep.build_tfrecords", *SYNTH, f"--output_dir={a}", "--workers=1").returncode == 0
  reference = shard_hashes(str(a))
  assert len(reference) == 4
  # kill -9 part-way (after the first finished shard), then resume: the same bytes.
  p = subprocess.Popen([sys.executable, "-m", "data_prep.build_tfrecords", *SYNTH, f"--output_dir={b}",
                        "--workers=1"], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  while not glob.glob(str(b / "train-*.tfrecord")) and time.time() < deadline and p.poll() is None:
    time.sleep(0.05)
  p.send_signal(signal.SIGKILL)
  p.wait()
  partial = shard_hashes(str(b))
  assert len(partial) < 4  # killed before the end
  r = cli("data_prep.build_tfrecords", *SYNTH, f"--output_dir={b}", "--workers=1")
  assert r.returncode == 0, r.stderr
  assert shard_hashes(str(b)) == reference
  assert not leftovers(str(b))
  info = json.load(open(b / features.BUILD_REPORT))["splits"]["train"]
  assert (info["sequences"], info["frames"]) == (4, 48)  # totals, not just the rerun's work


def test_stale_shard_set_is_removed_and_a_mixed_set_refused(tmp_path):
  from tw_keras.data import dataset
  videos, out = tmp_path / "videos", tmp_path / "out"
  videos.mkdir()
  frames = [np.full((32, 48, 3), 10 * t, np.uint8) for t in range(12)]
  for name in "abcd":
    codec.encode_frames(frames, str(videos / f"{name}.mp4"))
  args = ["data_prep.build_tfrecords", "--dataset=video", f"--input_dir={videos}", f"--output_dir={out}",
          "--sequences_per_shard=1", "--splits=clips", "--workers=1"]
  assert cli(*args).returncode == 0
  os.remove(videos / "b.mp4")  # a user removes one input and reruns into the same directory
  r = cli(*args)
  assert r.returncode == 0, r.stderr
  assert sorted(shard_hashes(str(out), "clips")) == [f"clips-0000{i}-of-00003.tfrecord" for i in range(3)]
  assert len(list(dataset.gop_dataset(dataset.shard_files(str(out), "clips")))) == 3
  # A stray shard of another set (copied in by hand) makes the reader refuse, naming both.
  (out / "clips-00000-of-00007.tfrecord").write_bytes((out / "clips-00000-of-00003.tfrecord").read_bytes())
  with pytest.raises(ValueError, match="-of-00003, -of-00007"):
    dataset.shard_files(str(out), "clips")


def test_second_job_into_the_same_directory_is_refused_and_kill_9_frees_the_lock(tmp_path):
  out = tmp_path / "out"
  holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from tw_keras import fileio\n"
                             f"with fileio.DirectoryLock({str(out)!r}):\n  print('held', flush=True); time.sleep(600)"],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "held"
  r = cli("data_prep.build_tfrecords", *SYNTH, f"--output_dir={out}")
  one_error_line(r, str(out), "another job is writing here")
  holder.kill()
  holder.wait()
  with fileio.DirectoryLock(str(out)):  # the kernel released it
    pass


def test_corrupt_shards_are_named_by_evaluate_and_no_pngs_are_left(tmp_path, tiny_records):
  import shutil
  from tw_keras.data import dataset
  from tw_keras.model import per_frame as per_frame_lib
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras import config as config_lib
  data = tmp_path / "data"
  shutil.copytree(tiny_records, data)
  model_dir = tmp_path / "model"
  cfg = config_lib.PRESETS["tiny"]
  model_dir_lib.save_model_config(str(model_dir), cfg)
  model_dir_lib.save_weights(per_frame_lib.build_per_frame(cfg), str(model_dir / "stage1" / model_dir_lib.STAGE1_WEIGHTS))
  val = dataset.shard_files(str(data), "val")
  half = open(val[-1], "rb").read()
  open(val[-1], "wb").write(half[:len(half) // 2])  # cut in half
  out = tmp_path / "eval"
  r = cli("experiments.evaluate", f"--data_dir={data}", f"--model_dir={model_dir}", f"--output_dir={out}",
          "--variants=per_frame", "--schedulers=")
  one_error_line(r, os.path.basename(val[-1]), "corrupt TFRecord shard")
  assert not os.path.exists(out / "labelids") and not leftovers(str(out))
  open(val[-1], "wb").write(os.urandom(5000))  # random bytes
  r = cli("experiments.evaluate", f"--data_dir={data}", f"--model_dir={model_dir}", f"--output_dir={out}",
          "--variants=per_frame", "--schedulers=")
  one_error_line(r, os.path.basename(val[-1]), "corrupt")


@pytest.mark.parametrize("case", ["no_model", "no_data", "output_under_a_file"])
def test_evaluate_bad_paths_give_one_line(tmp_path, tiny_records, case):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  args = {"no_model": [f"--data_dir={tiny_records}", f"--model_dir={tmp_path / 'nope'}"],
          "no_data": [f"--data_dir={tmp_path / 'nodata'}", f"--model_dir={tmp_path / 'nope'}"],
          "output_under_a_file": [f"--data_dir={tiny_records}", f"--model_dir={tmp_path / 'nope'}",
                                  f"--output_dir={blocker / 'out'}"]}[case]
  r = cli("experiments.evaluate", *args, "--schedulers=")
  one_error_line(r, str(tmp_path))


# ---------------------------------------------------------------------------- training

def test_train_refuses_a_model_dir_of_another_preset_before_writing(tmp_path, tiny_records):
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras import config as config_lib
  model_dir = tmp_path / "model"
  model_dir_lib.save_model_config(str(model_dir), config_lib.PRESETS["cpu_small"])
  before = (model_dir / model_dir_lib.MODEL_CONFIG).read_bytes()
  r = cli("experiments.train", "--preset=tiny", f"--data_dir={tiny_records}", f"--model_dir={model_dir}",
          "--stages=1", "--stage1_steps=2", "--eval=false")
  one_error_line(r, model_dir_lib.MODEL_CONFIG, "another configuration", "use a new model directory")
  assert (model_dir / model_dir_lib.MODEL_CONFIG).read_bytes() == before
  assert sorted(os.listdir(model_dir)) == [model_dir_lib.MODEL_CONFIG]


def _default_sigint():
  """In the child, before exec: SIGINT's default disposition. A suite started in the background
  by a non-interactive shell inherits SIGINT as ignored, and Python then never raises
  KeyboardInterrupt: these tests must see the command as a user at a terminal does."""
  signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_during_training_saves_a_checkpoint_and_exits_with_one_line(tmp_path, tiny_records):
  model_dir = tmp_path / "model"
  p = subprocess.Popen([sys.executable, "-m", "experiments.train", "--preset=tiny", f"--data_dir={tiny_records}",
                        f"--model_dir={model_dir}", "--stages=1", "--stage1_steps=100000", "--eval=false"],
                       cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       preexec_fn=_default_sigint)
  events = model_dir / "stage1" / "train"
  deadline = time.time() + 300
  while not glob.glob(str(events / "events*")) and time.time() < deadline:
    time.sleep(0.2)
  time.sleep(4)  # some steps
  p.send_signal(signal.SIGINT)
  _, err = p.communicate(timeout=300)
  r = subprocess.CompletedProcess(p.args, p.returncode, "", err)
  line = one_error_line(r, "stopped at step", "checkpoint saved", code=130)
  step = int(line.split("stopped at step ")[1].split()[0])
  import tensorflow as tf
  assert tf.train.latest_checkpoint(str(model_dir / "stage1")).endswith(f"ckpt-{step}")


def test_killed_checkpoint_write_leftovers_are_removed_and_weights_are_never_half_written(tmp_path):
  import keras
  from tw_keras.train import loop
  from tw_keras.model import model_dir as model_dir_lib
  directory = tmp_path / "stage1"
  (directory / "ckpt-7_temp").mkdir(parents=True)
  (directory / "ckpt-7_temp" / "part-00000-of-00001").write_bytes(b"")
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  loop.Loop(__import__("tensorflow").distribute.get_strategy(), str(directory), None, {"model": model},
            loop.LoopConfig(steps=1, checkpoint_every=1, progress=False, desc="t"), model=model)
  assert not (directory / "ckpt-7_temp").exists()
  # A weights write that dies part-way leaves the previous file intact and no temporary.
  path = str(tmp_path / "w.weights.h5")
  model_dir_lib.save_weights(model, path)
  before = open(path, "rb").read()

  class Boom(keras.Model):
    def save_weights(self, filepath, overwrite=True):
      open(filepath, "wb").write(b"half")
      raise KeyboardInterrupt

  with pytest.raises(KeyboardInterrupt):
    model_dir_lib.save_weights(Boom(), path)
  assert open(path, "rb").read() == before and sorted(os.listdir(tmp_path)) == ["stage1", "w.weights.h5"]


@pytest.mark.parametrize("phase", ["render", "shards"])
def test_sigint_during_preprocessing_exits_with_one_line_and_leaves_no_temporaries(tmp_path, phase):
  out = tmp_path / "out"
  args = ["--dataset=synthetic", "--synthetic_height=64", "--synthetic_width=128", "--synthetic_train=12",
          "--synthetic_val=0", "--splits=train", "--sequences_per_shard=1"]
  p = subprocess.Popen([sys.executable, "-m", "data_prep.build_tfrecords", *args, f"--output_dir={out}",
                        "--workers=2"], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
  pattern = str(out / ("synthetic_cityscapes/leftImg8bit_sequence/*/*/*.png" if phase == "render" else "train-*.tfrecord"))
  deadline = time.time() + 300
  while not glob.glob(pattern) and time.time() < deadline and p.poll() is None:
    time.sleep(0.02)
  assert p.poll() is None, "finished before it could be interrupted"
  p.send_signal(signal.SIGINT)
  _, err = p.communicate(timeout=120)
  one_error_line(subprocess.CompletedProcess(p.args, p.returncode, "", err), "interrupted", code=130)
  assert not leftovers(str(out))
  for f in glob.glob(str(out / "train-*.tfrecord")):  # what was finished is whole
    assert sum(1 for _ in __import__("tensorflow").data.TFRecordDataset(f)) == 1

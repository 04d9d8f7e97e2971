"""The preprocessing CLI end to end, the tf.data reader, resumability and bad input."""
import glob
import os
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

from tw_keras.video import codec
from tw_keras import dataset_info
from tw_keras.data import features, label_files, layouts, shards, synthetic
from helpers import translated_clip

CS = dataset_info.CITYSCAPES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, "-m", "data_prep.build_tfrecords", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def synthetic_records(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("records"))
  r = run_cli("--dataset=synthetic", f"--output_dir={out}", "--synthetic_height=64", "--synthetic_width=128",
              "--synthetic_train=3", "--synthetic_val=1", "--sequences_per_shard=2", "--workers=2")
  assert r.returncode == 0, r.stderr
  return out, r


def test_cli_writes_sequence_shards_and_summary(synthetic_records):
  out, r = synthetic_records
  assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "*.tfrecord"))) == [
      "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord", "val-00000-of-00001.tfrecord"]
  assert "train: 3 sequences, 3 GOPs, 36 frames" in r.stdout
  assert os.path.exists(os.path.join(out, features.BUILD_REPORT))
  assert not glob.glob(os.path.join(out, "*.tmp")) and not glob.glob(os.path.join(out, ".spill_*"))


def _dense(gop):
  """(motion, residual) of every frame of a parsed GOP, by the model's one expansion."""
  from tw_keras.video import compensation
  motion, residual = compensation.dense_inputs(gop[features.CLIP_IMAGES], gop[features.CLIP_REFERENCES],
                                               gop[features.CLIP_MOTION_GRID], int(gop[features.CLIP_MOTION_CELL]))
  return motion.numpy(), residual.numpy()


def test_reader_returns_gops_matching_the_source(synthetic_records):
  from tw_keras.data import dataset
  out, _ = synthetic_records
  gops = list(dataset.gop_dataset(dataset.shard_files(out, "train")))
  assert [g[features.CLIP_SEQUENCE_ID].numpy() for g in gops] == [
      b"train/aachen_000000", b"train/bochum_000001", b"train/bremen_000002"]
  g = gops[1]
  assert g[features.CLIP_IMAGES].shape == (12, 64, 128, 3)
  assert g[features.CLIP_REFERENCES].shape == (12, 64, 128, 3) and int(g[features.CLIP_MOTION_CELL]) == 8
  assert g[features.CLIP_MOTION_GRID].shape == (12, 8, 16, 2)
  assert [t.decode() for t in g[features.CLIP_PICT_TYPES].numpy()] == ["I"] + ["P"] * 11
  assert g[features.CLIP_FRAME_INDEX].numpy().tolist() == list(range(8, 20))
  assert g[features.CLIP_HAS_LABEL].numpy().all()
  root = os.path.join(out, "synthetic_cityscapes")
  _, train_ids, _ = synthetic.snippet_paths(root, "train", "bochum", 1, 19)
  np.testing.assert_array_equal(g[features.CLIP_LABELS][-1].numpy(), cv2.imread(train_ids, cv2.IMREAD_UNCHANGED))
  # The stored motion and residuals are exactly what the codec decodes for that snippet.
  images = [synthetic.snippet_paths(root, "train", "bochum", 1, f)[0] for f in range(8, 20)]
  stream = os.path.join(out, "check.mp4")
  codec.transcode(images, stream)
  frames = list(codec.decode_compressed(stream))
  os.remove(stream)
  # Records store no residual: the model's one expansion of the compact inputs (the reader's
  # frames, their references and grids) gives the decoder's motion and residual, to the integer.
  motion, residual = _dense(g)
  np.testing.assert_array_equal(motion, np.stack([f.motion for f in frames]))
  np.testing.assert_array_equal(residual, np.stack([f.residual for f in frames]))
  np.testing.assert_array_equal(g[features.CLIP_REFERENCES][1:].numpy(), g[features.CLIP_IMAGES][:-1].numpy())
  np.testing.assert_array_equal(g[features.CLIP_MOTION_GRID].numpy(), np.stack([f.motion_grid for f in frames]))
  np.testing.assert_array_equal(g[features.CLIP_IMAGES][5].numpy(), frames[5].rgb)
  clip = dataset.slice_clip(g, 4, 3)
  assert clip[features.CLIP_FRAME_INDEX].numpy().tolist() == [12, 13, 14]


def test_rerun_skips_finished_shards(synthetic_records):
  out, _ = synthetic_records
  shard = os.path.join(out, "train-00000-of-00002.tfrecord")
  mtime = os.path.getmtime(shard)
  os.remove(os.path.join(out, "train-00001-of-00002.tfrecord"))
  r = run_cli("--dataset=synthetic", f"--output_dir={out}", "--synthetic_height=64", "--synthetic_width=128",
              "--synthetic_train=3", "--synthetic_val=1", "--sequences_per_shard=2", "--workers=1")
  assert r.returncode == 0, r.stderr
  assert "(1 already done, skipped)" in r.stdout and "(1 sequences written" in r.stdout
  assert "train: 3 sequences, 3 GOPs, 36 frames" in r.stdout  # totals over the whole shard set
  assert os.path.getmtime(shard) == mtime
  assert os.path.exists(os.path.join(out, "train-00001-of-00002.tfrecord"))


def test_video_folder_is_converted_unlabelled(tmp):
  videos = os.path.join(tmp, "videos")
  os.makedirs(videos)
  codec.encode_frames(translated_clip(48, 64, 26, 1, 0), os.path.join(videos, "a.mp4"))
  out = os.path.join(tmp, "out")
  r = run_cli("--dataset=video", f"--input_dir={videos}", f"--output_dir={out}", "--splits=clips")
  assert r.returncode == 0, r.stderr
  from tw_keras.data import dataset
  gops = list(dataset.gop_dataset(dataset.shard_files(out, "clips")))
  assert [int(g[features.CLIP_IMAGES].shape[0]) for g in gops] == [12, 12, 2]
  assert not any(g[features.CLIP_HAS_LABEL].numpy().any() for g in gops)
  assert (gops[0][features.CLIP_LABELS].numpy() == 255).all()


# ---- Bad input: one line naming the file and the problem, exit 1, no partial shard. ----

def _cityscapes_tree(root, size=(48, 64), label_size=None, drop_label=None):
  config = synthetic.SyntheticConfig(height=size[0], width=size[1], num_frames=20, sequences=(("val", 1),))
  synthetic.write_snippet(config, root, "val", "lindau", 0)
  if drop_label is not None:
    for p in synthetic.snippet_paths(root, "val", "lindau", 0, drop_label)[1:]:
      os.remove(p)
  if label_size:
    for p in synthetic.snippet_paths(root, "val", "lindau", 0, 19)[1:]:
      cv2.imwrite(p, np.zeros(label_size, np.uint8))


def _assert_clean_failure(r, out, path_fragment, problem):
  assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
  lines = [l for l in r.stderr.strip().splitlines() if l.startswith("error:")]
  assert len(lines) == 1, r.stderr
  assert path_fragment in lines[0] and problem in lines[0], lines[0]
  if os.path.isdir(out):
    assert not [f for f in os.listdir(out) if ".tfrecord" in f or ".tmp" in f or f.startswith(".spill")]


def _video_case(tmp, name, content):
  videos = os.path.join(tmp, "videos")
  os.makedirs(videos, exist_ok=True)
  path = os.path.join(videos, name)
  content(path)
  out = os.path.join(tmp, "out")
  return run_cli("--dataset=video", f"--input_dir={videos}", f"--output_dir={out}"), out, path


def test_non_video_file(tmp):
  r, out, path = _video_case(tmp, "notes.mp4", lambda p: open(p, "w").write("hello, not a video\n" * 50))
  _assert_clean_failure(r, out, path, "not a video")


def test_empty_video(tmp):
  r, out, path = _video_case(tmp, "empty.mp4", lambda p: open(p, "wb").close())
  _assert_clean_failure(r, out, path, "empty file")


def test_truncated_video(tmp):
  def truncated(p):
    full = p + ".full.mp4"
    codec.encode_frames(translated_clip(64, 64, 24, 1, 1), full)
    data = open(full, "rb").read()
    open(p, "wb").write(data[:200])  # header only: the frames are gone
    os.remove(full)
  r, out, path = _video_case(tmp, "cut.mp4", truncated)
  # 200 bytes of a moov-at-the-end MP4 hold no readable container header at all.
  _assert_clean_failure(r, out, path, "not a video FFmpeg can read")


def test_zero_frames(tmp):
  def no_frames(p):
    c = av.open(p, "w")
    s = c.add_stream("mpeg4", rate=25)
    s.width = s.height = 64
    s.pix_fmt = "yuv420p"
    c.start_encoding()  # a header, then no frame at all
    c.close()
  r, out, path = _video_case(tmp, "none.mkv", no_frames)
  _assert_clean_failure(r, out, path, "zero frames: the file ends before its first frame")


def test_missing_label_file(tmp):
  root = os.path.join(tmp, "cs")
  _cityscapes_tree(root, drop_label=19)
  out = os.path.join(tmp, "out")
  r = run_cli("--dataset=cityscapes", f"--input_dir={root}", f"--output_dir={out}", "--splits=val")
  _assert_clean_failure(r, out, "lindau_000000_000019_gtFine_labelTrainIds.png", "missing label file")


def test_label_size_mismatch(tmp):
  root = os.path.join(tmp, "cs")
  _cityscapes_tree(root, label_size=(40, 64))
  out = os.path.join(tmp, "out")
  r = run_cli("--dataset=cityscapes", f"--input_dir={root}", f"--output_dir={out}", "--splits=val")
  _assert_clean_failure(r, out, "lindau_000000_000019_gtFine_label", "does not match frame size 64x48")


def test_unwritable_output_dir(tmp):
  blocker = os.path.join(tmp, "a_file")
  open(blocker, "w").close()
  out = os.path.join(blocker, "out")  # a directory cannot be created under a file (even as root)
  r = run_cli("--dataset=synthetic", f"--output_dir={out}")
  _assert_clean_failure(r, out, out, "not writable")


def test_failure_keeps_finished_shards_and_removes_the_partial_one(tmp):
  videos = os.path.join(tmp, "videos")
  os.makedirs(videos)
  codec.encode_frames(translated_clip(32, 32, 12, 1, 0), os.path.join(videos, "a.mp4"))
  codec.encode_frames(translated_clip(32, 32, 12, 1, 0), os.path.join(videos, "b.mp4"))
  open(os.path.join(videos, "c.mp4"), "w").write("garbage" * 100)
  out = os.path.join(tmp, "out")
  r = run_cli("--dataset=video", f"--input_dir={videos}", f"--output_dir={out}", "--sequences_per_shard=2",
              "--workers=1")
  assert r.returncode == 1
  assert sorted(f for f in os.listdir(out) if ".tfrecord" in f or f.startswith(".spill")) == [
      "video-00000-of-00002.tfrecord"]


def test_accumulate_mode_records_round_trip(tmp):
  """--residual_mode=accumulate stores a per-pixel accumulated field (cell 1) that reads back exactly."""
  from tw_keras.data import dataset, prepare
  videos = os.path.join(tmp, "videos")
  os.makedirs(videos)
  path = os.path.join(videos, "a.mp4")
  codec.encode_frames(translated_clip(40, 72, 6, 2, 1), path)
  out = os.path.join(tmp, "out")
  options = prepare.PrepOptions(residual_mode="accumulate")
  shards.write_shards(layouts.find_video_sources(videos), out, "acc", 1, options)
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(out, "acc"))))
  canonical = os.path.join(tmp, "canonical.mp4")
  codec.transcode(path, canonical)  # what prepare does (the encoder is deterministic)
  expected = list(codec.decode_compressed(canonical, residual_mode="accumulate"))
  assert int(gop[features.CLIP_MOTION_CELL]) == 1
  motion, residual = _dense(gop)
  np.testing.assert_array_equal(motion, np.stack([f.motion for f in expected]))
  # Expanded in the model against the I-frame (every frame's reference), to the integer.
  np.testing.assert_array_equal(residual, np.stack([f.residual for f in expected]))
  assert all((gop[features.CLIP_REFERENCES][t].numpy() == gop[features.CLIP_IMAGES][0].numpy()).all() for t in range(6))
  inner = motion[5][12:-12, 16:-16]
  assert np.mean(np.all(inner == [10, 5], axis=-1)) > 0.8  # 5 steps of (2, 1)


def test_array_encoding_is_the_documented_one():
  """zlib-compressed raw little-endian int16: NumPy encoder, NumPy decoder and the TF reader agree."""
  import zlib
  from tw_keras.data import dataset, records
  a = np.random.default_rng(0).integers(-255, 256, (5, 7, 3)).astype(np.int16)
  data = records.encode_array(a)
  np.testing.assert_array_equal(np.frombuffer(zlib.decompress(data), "<i2").reshape(a.shape), a)
  np.testing.assert_array_equal(records.decode_array(data, a.shape), a)
  np.testing.assert_array_equal(dataset._decode_int16(data).numpy().reshape(a.shape), a)


def test_read_label_converts_label_ids_and_checks_size(tmp):
  ids = np.array([[7, 26, 0], [24, 8, 11]], np.uint8)  # road, car, unlabeled / person, sidewalk, building
  path = os.path.join(tmp, "x_gtFine_labelIds.png")
  cv2.imwrite(path, ids)
  t = CS.train_id
  np.testing.assert_array_equal(label_files.read_label(path, (2, 3)),
                                [[t["road"], t["car"], 255], [t["person"], t["sidewalk"], t["building"]]])
  train_ids_path = os.path.join(tmp, "x_gtFine_labelTrainIds.png")
  train_ids = np.array([[0, 13, 255], [11, 1, 2]], np.uint8)
  cv2.imwrite(train_ids_path, train_ids)
  np.testing.assert_array_equal(label_files.read_label(train_ids_path, (2, 3)), train_ids)  # already trainIds
  cv2.imwrite(train_ids_path, ids)  # labelIds saved under the trainIds name: 24 and 26 are no trainIds
  with pytest.raises(label_files.LabelError, match=r"labelTrainIds.png: label value\(s\) not in the class table "
                     r"of cityscapes: 24 x1, 26 x1 pixels"):
    label_files.read_label(train_ids_path, (2, 3))
  with pytest.raises(label_files.LabelError, match="does not match frame size 4x2"):
    label_files.read_label(path, (2, 4))

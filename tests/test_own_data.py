"""Other labelled datasets, end to end on built-in data: the benchmark written in CamVid's layout
(11 classes, per-sequence videos, half-size labels) and in the labelled_video layout (a custom
5-class table of colour labels) goes records -> 2 training steps per stage -> evaluation with
its own class table -> segmentation -> a SavedModel with its number of logits; and the
errors that keep class tables apart."""
import glob
import json
import os

import cv2
import numpy as np
import pytest

from tw_keras import config as config_lib, dataset_info, errors
from tw_keras.data import build, dataset, synthetic_layouts

TINY = config_lib.TRAIN_PRESETS["tiny"]
PRESET = config_lib.Preset(TINY.model, TINY.stage1, TINY.stage2, eval_every=10**9, checkpoint_every=10**9)


def _whole_path(tmp, layout, root, info, height, width):
  """records -> stage 1 and stage 2 (2 steps each) -> evaluate -> segment -> export."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import export, runner, segment  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.train import stages  # pylint: disable=g-import-not-at-top
  data = os.path.join(tmp, "data")
  lines = []
  report = build.build(build.BuildConfig(dataset=layout, input_dir=root, output_dir=data, workers=1), log=lines.append)
  # Labels at frames 5, 11 and 23 of 24-frame videos: frame 5 has too short a history for 12 frames.
  assert report["skipped_labelled_frames"] == {"train": 2, "val": 1}
  assert "train: 2 labelled frame(s) end no GOP: fewer than 11 frames before them in their video (never scored; stage 2 still trains on those inside a GOP)" in lines
  assert report["splits"]["train"]["gops"] == 4 and report["splits"]["val"]["gops"] == 2
  assert dataset.dataset_info_of(data) == info
  gop = next(iter(dataset.gop_dataset(dataset.shard_files(data, "val"))))
  assert gop[dataset.features.CLIP_IMAGES].shape == (12, height, width, 3)
  assert list(gop[dataset.features.CLIP_FRAME_INDEX].numpy()) == list(range(0, 12))
  # frame 5 ends no window but lies inside the one ending at 11: scored there (as CamVid's runs)
  assert [bool(v) for v in gop[dataset.features.CLIP_HAS_LABEL].numpy()] == [False] * 5 + [True] + [False] * 5 + [True]
  seen = set(np.unique(gop[dataset.features.CLIP_LABELS][-1].numpy()))
  assert seen <= set(range(info.num_classes)) | {255} and len(seen - {255}) >= 3

  model = os.path.join(tmp, "model")
  stages.train_stage1(PRESET.model, PRESET, data, model, steps=2, progress=False, eval_split=None)
  stages.train_stage2("layer1_cfr_rga", PRESET, data, model, steps=2, progress=False, eval_split=None)
  assert model_dir_lib.load_model_config(model).num_classes == info.num_classes
  assert dataset_info.in_directory(model) == info

  rep = job.evaluate_model_dir(data, model, os.path.join(tmp, "eval"), variants=["per_frame", "layer1_cfr_rga"],
                               quiet=True)
  assert rep["dataset"] == info.name and rep["classes"] == list(info.class_names)
  pooled = rep["variants"]["layer1_cfr_rga"]["pooled_over_d"]
  assert set(pooled["class_iou"]) == set(info.class_names)
  assert set(pooled["category_iou"]) == set(info.categories)
  pngs = sorted(glob.glob(os.path.join(tmp, "eval", "labelids", "gt", "*.png")))
  assert len(pngs) == 2
  gt_png = cv2.imread(pngs[0], cv2.IMREAD_UNCHANGED)
  assert set(np.unique(gt_png)) <= set(range(info.num_classes)) | {info.ignore_ids[0]}

  net = model_dir_lib.load(model, "layer1_cfr_rga")
  video = sorted(glob.glob(os.path.join(root, "**", "*.mp4"), recursive=True))[0]
  out, labels_dir = os.path.join(tmp, "seg.mp4"), os.path.join(tmp, "labels")
  stats = segment.segment_video(video, runner.StreamSegmenter(net, "gop"), out, labels_dir, max_frames=14)
  assert stats.frames == 14 and stats.key_frames == 2 and os.path.getsize(out) > 0
  assert len(os.listdir(labels_dir)) == 14

  path = export.export(net, os.path.join(tmp, "export"))
  with open(os.path.join(path, "assets", dataset_info.DESCRIPTOR)) as f:
    assert dataset_info.DatasetInfo.from_json(json.load(f)) == info
  served = tf.saved_model.load(path).signatures["key_frame"](image=tf.zeros([1, height, width, 3], tf.uint8))
  assert served["logits"].shape == (1, height, width, info.num_classes)
  return data, model


def test_camvid_layout_end_to_end(tmp):
  root = os.path.join(tmp, "camvid")
  synthetic_layouts.write_camvid(root, height=64, width=96)
  assert cv2.imread(glob.glob(os.path.join(root, "trainannot", "*.png"))[0], -1).shape == (32, 48)  # half size
  data, model = _whole_path(tmp, "camvid", root, dataset_info.CAMVID, 64, 96)

  # A 19-class model and 11-class records do not mix, in either direction.
  from tw_keras.evaluation import job  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib, twnet  # pylint: disable=g-import-not-at-top
  other = os.path.join(tmp, "cityscapes_model")
  model_dir_lib.save(other, twnet.build(config_lib.PRESETS["tiny"], "per_frame"))
  with pytest.raises(ValueError, match=r"the classes differ: the model directory \S+cityscapes_model has "
                     r"cityscapes \(19 classes\), the records in \S+data has camvid \(11 classes\)"):
    job.evaluate_model_dir(data, other, os.path.join(tmp, "eval2"), variants=["per_frame"], quiet=True)
  with pytest.raises(ValueError, match=r"dataset.json: this records directory holds camvid \(11 classes\), not "
                     r"cityscapes \(19 classes\)"):
    build.build(build.BuildConfig(dataset="cityscapes", input_dir=root, output_dir=data, workers=1))


def test_labelled_video_layout_with_its_own_classes_end_to_end(tmp):
  root = os.path.join(tmp, "mine")
  synthetic_layouts.write_labelled_video(root, height=64, width=128)
  _whole_path(tmp, "labelled_video", root, synthetic_layouts.FIVE, 64, 128)


def test_a_bad_label_names_the_file_values_and_pixels_and_writes_nothing(tmp):
  root = os.path.join(tmp, "mine")
  synthetic_layouts.write_labelled_video(root, height=64, width=128, sequences=(("train", 1),), labelled=(11,))
  label = glob.glob(os.path.join(root, "train", "labels", "*.png"))[0]
  rgb = cv2.imread(label)
  rgb[:2, :3] = (9, 8, 7)  # BGR of the colour (7, 8, 9): in no class
  cv2.imwrite(label, rgb)
  out = os.path.join(tmp, "data")
  with pytest.raises(errors.LabelError, match=r"clip00_000011.png: colour\(s\) not in the class table of street5: "
                     r"\(7, 8, 9\) x6 pixels"):
    build.build(build.BuildConfig(dataset="labelled_video", input_dir=root, output_dir=out, workers=1,
                                  splits=("train",)))
  assert set(os.listdir(out)) <= {".lock"}  # nothing written: no shard, no descriptor (the lock file stays)
  os.remove(os.path.join(root, dataset_info.DESCRIPTOR))
  with pytest.raises(errors.InputError, match=r"mine/dataset.json: missing: a labelled_video tree carries its dataset "
                     "descriptor"):
    build.build(build.BuildConfig(dataset="labelled_video", input_dir=root, output_dir=out, workers=1,
                                  splits=("train",)))


def test_windows_end_at_each_labelled_frame_and_frame_offsets_shift_them(tmp):
  """CamVid names: the number is the frame in its recording, plus the descriptor's offset."""
  from tw_keras.data import layouts  # pylint: disable=g-import-not-at-top
  for rel in ("videos/0001TP.MXF", "videos/Seq05VD.avi", "trainannot/0001TP_000020.png",
              "trainannot/0001TP_000040.png", "trainannot/Seq05VD_f00005.png", "trainannot/Seq05VD_f00030.png"):
    os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
    open(os.path.join(tmp, rel), "w").close()
  info = dataset_info.DatasetInfo.from_json({**dataset_info.CAMVID.to_json(), "frame_offsets": {"0001TP": -5}})
  sources, skipped = layouts.find_camvid_sources(tmp, "train", info, num_frames=12)
  assert skipped == 1  # Seq05VD frame 5: 5 frames of history, 11 needed
  tp, vd = sources
  assert tp.sequence_id == "train/0001TP" and tp.video.endswith("0001TP.MXF")
  assert tp.windows == ((4, 15), (24, 35)) and tp.first_index == 5  # records count 9..20 and 29..40
  assert tp.labels[15].endswith("0001TP_000020.png") and tp.labels[35].endswith("0001TP_000040.png")
  assert sum(p is not None for p in tp.labels) == 2 and tp.resize_labels
  assert vd.windows == ((19, 30),) and vd.first_index == 0
  open(os.path.join(tmp, "trainannot", "0016E5_00390.png"), "w").close()
  with pytest.raises(layouts.VideoError, match=r"videos/0016E5\.\*: no video for sequence 0016E5$"):
    layouts.find_camvid_sources(tmp, "train", info)


def _segnet_copy(root, split, frames, height=64, width=96):
  """A SegNet-style CamVid split without recordings: `{split}/{name}` frames (random texture
  that moves one pixel a frame) and `{split}annot/{name}` index labels (0..11)."""
  rng = np.random.default_rng(len(frames))
  texture = rng.integers(0, 256, (height, width + 64, 3), np.uint8)
  labels = {}
  for k, name in enumerate(frames):
    for d in (split, split + "annot"):
      os.makedirs(os.path.join(root, d), exist_ok=True)
    cv2.imwrite(os.path.join(root, split, name), texture[:, k:k + width])
    labels[name] = rng.integers(0, 12, (height, width), np.uint8)
    cv2.imwrite(os.path.join(root, split + "annot", name), labels[name])
  return labels


def test_segnets_camvid_copy_goes_in_as_it_is(tmp):
  """No videos/: a run of labelled frames at a fixed small step is a video (a GOP ends at each
  labelled frame with 11 before it), the 1 Hz stills are single-frame samples."""
  from tw_keras.data import layouts  # pylint: disable=g-import-not-at-top
  assert layouts.frame_runs([1, 3, 5, 7, 37, 67, 68]) == [[1, 3, 5, 7], [37], [67, 68]]
  assert layouts.frame_runs([30, 60, 90, 91, 92, 94]) == [[30], [60], [90, 91, 92], [94]]
  root = os.path.join(tmp, "camvid")
  run = [f"0016E5_{7959 + 2 * i:05d}.png" for i in range(14)]  # 15 Hz: 3 GOPs, 11 frames skipped
  stills = ["0001TP_006690.png", "0001TP_006720.png", "Seq05VD_f00000.png"]
  val = _segnet_copy(root, "val", run + stills)
  lines = []
  report = build.build(build.BuildConfig(dataset="camvid", input_dir=root, output_dir=os.path.join(tmp, "data"),
                                         splits=("val",), workers=1), log=lines.append)
  assert "val: 1 video(s) -> 3 GOPs; 3 single-frame sample(s); 11 labelled frame(s) end no GOP (too short a history)" \
      in lines
  assert report["splits"]["val"]["gops"] == 6 and report["splits"]["val"]["frames"] == 3 * 12 + 3
  gops = list(dataset.gop_dataset(dataset.shard_files(os.path.join(tmp, "data"), "val")))
  windows = [g for g in gops if g[dataset.features.CLIP_IMAGES].shape[0] == 12]
  singles = [g for g in gops if g[dataset.features.CLIP_IMAGES].shape[0] == 1]
  assert len(windows) == 3 and len(singles) == 3
  for i, gop in enumerate(windows):  # every frame of the run is labelled, void 11 -> ignore 255
    assert all(gop[dataset.features.CLIP_HAS_LABEL].numpy())
    want = val[run[11 + i]].copy()
    want[want == 11] = 255
    np.testing.assert_array_equal(gop[dataset.features.CLIP_LABELS][-1].numpy(), want)
    assert list(gop[dataset.features.CLIP_FRAME_INDEX].numpy()) == list(range(i, i + 12))
  for gop in singles:
    assert gop[dataset.features.CLIP_IMAGES].shape == (1, 64, 96, 3) and bool(gop[dataset.features.CLIP_HAS_LABEL][0])
  assert sorted(int(g[dataset.features.CLIP_FRAME_INDEX][0]) for g in singles) == [0, 6690, 6720]
  os.remove(os.path.join(root, "val", stills[0]))
  with pytest.raises(layouts.VideoError, match=r"val/0001TP_006690\.png: missing: the frame of label "):
    layouts.find_camvid_sources(root, "val", dataset_info.CAMVID)

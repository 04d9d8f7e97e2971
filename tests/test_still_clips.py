"""Clips from labelled stills: the path's geometry against NumPy, the labels moving with the
frames, and the build that encodes them through the canonical codec."""
import os

import cv2
import numpy as np
import pytest

from tw_keras import dataset_info
from tw_keras.data import build, dataset, features, still_clips, synthetic_layouts

MOTION = still_clips.CameraMotion()


def test_homographies_map_the_focus_and_the_first_frame_as_documented():
  path = still_clips.CameraPath(zoom=0.05, pan=(2.0, -1.0), roll=0.01, focus=(200.0, 150.0), shake=np.zeros((5, 2)))
  homs = still_clips.homographies(path, 5, (360, 480), (352, 480), first_zoom=1.1)
  apply = lambda h, p: (h @ np.array([p[0], p[1], 1.0]))[:2]
  # frame 0: the still's centre at the clip's centre, magnified 1.1
  np.testing.assert_allclose(apply(homs[0], (239.5, 179.5)), (239.5, 175.5), atol=1e-9)
  np.testing.assert_allclose(apply(homs[0], (249.5, 179.5)) - apply(homs[0], (239.5, 179.5)), (11.0, 0.0), atol=1e-9)
  anchor = apply(homs[0], path.focus)
  for t, hom in enumerate(homs):  # the focus only pans; scale and roll grow per frame
    np.testing.assert_allclose(apply(hom, path.focus), anchor + np.array(path.pan) * t, atol=1e-9)
    a = hom[:2, :2]
    assert np.sqrt(abs(np.linalg.det(a))) == pytest.approx(1.1 * 1.05 ** t)
    assert np.arctan2(a[1, 0], a[0, 0]) == pytest.approx(0.01 * t)


def test_labels_move_with_the_frames_nearest_and_ignore_outside():
  still = np.zeros((60, 80, 3), np.uint8)
  label = np.zeros((60, 80), np.uint8)
  still[20:30, 30:40] = 255
  label[20:30, 30:40] = 3
  path = still_clips.CameraPath(zoom=0.0, pan=(3.0, 0.0), roll=0.0, focus=(40.0, 30.0), shake=np.zeros((3, 2)))
  homs = still_clips.homographies(path, 3, (60, 80), (60, 80), first_zoom=1.0)
  frames, labels = still_clips.render_clip(still, label, homs, (60, 80))
  assert frames.shape == (3, 60, 80, 3) and labels.shape == (3, 60, 80) and labels.dtype == np.uint8
  for t in range(3):  # a pure pan of 3 pixels a frame
    ys, xs = np.nonzero(labels[t] == 3)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 29, 30 + 3 * t, 39 + 3 * t)
    np.testing.assert_array_equal(frames[t][..., 0] == 255, labels[t] == 3)
    assert (labels[t][:, :3 * t] == dataset_info.IGNORE_LABEL).all()  # the still does not reach there
  assert set(np.unique(labels)) <= {0, 3, dataset_info.IGNORE_LABEL}


def test_drawn_paths_stay_inside_the_still_and_repeat_with_the_seed():
  for seed in range(20):
    path = still_clips.draw_path(np.random.default_rng(seed), MOTION, 12, (360, 480), (352, 480))
    homs = still_clips.homographies(path, 12, (360, 480), (352, 480), MOTION.first_zoom)
    assert still_clips._inside(homs, (360, 480), (352, 480))  # pylint: disable=protected-access
    again = still_clips.draw_path(np.random.default_rng(seed), MOTION, 12, (360, 480), (352, 480))
    np.testing.assert_array_equal(again.shake, path.shake)
  wild = still_clips.CameraMotion(zoom=0.3, pan=0.2, roll=5.0, shake=0.05, stopped=0.0)
  path = still_clips.draw_path(np.random.default_rng(0), wild, 12, (360, 480), (352, 480))
  assert still_clips._inside(still_clips.homographies(path, 12, (360, 480), (352, 480), wild.first_zoom),  # pylint: disable=protected-access
                             (360, 480), (352, 480))


def test_a_camvid_build_turns_the_train_stills_into_labelled_clips(tmp_path):
  root = str(tmp_path / "camvid")
  synthetic_layouts.write_camvid(root, height=128, width=192, sequences=(("train", 1),), labelled=(5, 11))
  out = str(tmp_path / "records")
  lines = []
  config = build.BuildConfig(dataset="camvid", input_dir=root, output_dir=out, splits=("train",),
                             still_clips=("train",), num_frames=4, workers=1)
  report = build.build(config, log=lines.append)
  assert "train: 2 clip(s) of 4 frames at 96x64 from its stills in " + os.path.join(out, "still_clips") in lines
  assert report["splits"]["train"]["gops"] == 2
  gops = list(dataset.gop_dataset(dataset.shard_files(out, "train")))
  stills = sorted(os.listdir(os.path.join(root, "trainannot")))
  for gop, name in zip(gops, stills):
    assert gop[features.CLIP_IMAGES].shape == (4, 64, 96, 3)
    assert all(gop[features.CLIP_HAS_LABEL].numpy())  # every frame of a clip is labelled
    assert [t.decode() for t in gop[features.CLIP_PICT_TYPES].numpy()] == ["I", "P", "P", "P"]
    # the first frame's label is the still's, magnified 1.1 about its centre (nearest)
    still_label = cv2.imread(os.path.join(root, "trainannot", name), cv2.IMREAD_UNCHANGED)
    still_label[still_label == 11] = 255
    want = still_clips.render_clip(np.zeros(still_label.shape + (3,), np.uint8), still_label,
                                   still_clips.homographies(still_clips.CameraPath(0, (0, 0), 0, (0, 0), np.zeros((1, 2))),
                                                            1, still_label.shape, (64, 96), MOTION.first_zoom), (64, 96))[1][0]
    np.testing.assert_array_equal(gop[features.CLIP_LABELS][0].numpy(), want)
  # a rerun keeps the clips (resumable), and writes the same records
  before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out) if f.endswith(".tfrecord")}
  build.build(config, log=lines.append)
  assert before == {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out) if f.endswith(".tfrecord")}
  with pytest.raises(ValueError, match="--still_clips: clips are made from CamVid's stills"):
    build.BuildConfig(dataset="labelled_video", input_dir=root, output_dir=out, still_clips=("train",))
  with pytest.raises(ValueError, match="--still_clips=train: each must be one of --splits=val"):
    build.BuildConfig(dataset="camvid", input_dir=root, output_dir=out, splits=("val",), still_clips=("train",))

"""data/dataset: the clips of the one input contract -- frames, their residual references and
motion grids, sliced per frame with the per-clip keys kept whole."""
import numpy as np
import pytest
import tensorflow as tf

from tw_keras.data import dataset, features


def _frames(t=5, h=4, w=6):
  return tf.constant(np.arange(t)[:, None, None, None] * np.ones((t, h, w, 3)), tf.uint8)  # frame i is all i


@pytest.mark.parametrize("mode,expected", [(b"step", [0, 0, 1, 2, 3]), (b"accumulate", [0, 0, 0, 0, 0])])
def test_each_frames_reference_is_the_previous_frame_or_the_i_frame(mode, expected):
  references = dataset._references(_frames(), tf.constant(mode)).numpy()  # pylint: disable=protected-access
  assert references[:, 0, 0, 0].tolist() == expected


def test_slicing_a_clip_keeps_the_per_clip_keys_whole():
  t = 5
  gop = {features.CLIP_IMAGES: _frames(t), features.CLIP_REFERENCES: _frames(t),
         features.CLIP_MOTION_GRID: tf.zeros([t, 2, 2, 2], tf.int16),
         features.CLIP_MOTION_CELL: tf.constant(8), features.CLIP_SEQUENCE_ID: tf.constant(b"val/x")}
  clip = dataset.slice_clip(gop, 2, 3)
  assert clip[features.CLIP_IMAGES][:, 0, 0, 0].numpy().tolist() == [2, 3, 4]
  assert clip[features.CLIP_MOTION_GRID].shape[0] == 3
  assert int(clip[features.CLIP_MOTION_CELL]) == 8 and clip[features.CLIP_SEQUENCE_ID].numpy() == b"val/x"


def test_motion_cell_of_a_shard_set(tiny_records):
  assert dataset.motion_cell(dataset.shard_files(tiny_records, "val")) == 8

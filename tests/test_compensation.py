"""The in-graph motion compensation (`video.compensation`) against the codec's NumPy rule."""

import numpy as np
import pytest

from tw_keras.video import codec, compensation
from helpers import translated_clip


@pytest.mark.parametrize("height,width,cell", [(50, 70, 8), (64, 128, 8), (37, 41, 1)])
def test_compensation_equals_the_host_motion_compensator(height, width, cell):
  """Random quarter-pel grids, including samples far outside the frame: identical to OpenCV's remap."""
  rng = np.random.default_rng(height)
  image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
  grid = rng.integers(-60, 60, (-(-height // cell) + 1, -(-width // cell) + 1, 2)).astype(np.int16)
  expected = codec.MotionCompensator(height, width).warp(image, grid, cell)
  np.testing.assert_array_equal(compensation.compensate(image[None], grid[None], cell).numpy()[0], expected)
  np.testing.assert_array_equal(compensation.expand_motion(grid[None], cell, height, width).numpy()[0],
                                codec.dense_motion(grid, cell, height, width))


def test_residual_in_the_graph_equals_the_decoders(tmp):
  """The issue's check: the residual computed on the device from (frame, previous frame, block
  grid) equals `codec.decode_compressed`'s within +-1 (it is in fact exact)."""
  path = f"{tmp}/clip.mp4"
  codec.encode_frames(translated_clip(72, 104, 8, 2.75, -1.25), path)
  frames = list(codec.decode_compressed(path))
  compact = list(codec.decode_compressed(path, with_residual=False))
  assert all(f.residual is None for f in compact)
  for prev, cur, c in zip(frames, frames[1:], compact[1:]):
    np.testing.assert_array_equal(c.motion_grid, cur.motion_grid)
    got = compensation.residual(cur.rgb[None], prev.rgb[None], cur.motion_grid[None], c.motion_cell).numpy()[0]
    assert np.abs(got - cur.residual).max() <= 1
    np.testing.assert_array_equal(got, cur.residual)
  assert np.abs(frames[4].residual).mean() > 0  # a test that could fail: the clip moves


def test_batched_compensation_keeps_frames_apart():
  """A batch of two frames with different grids equals the two frames done alone."""
  rng = np.random.default_rng(1)
  images = rng.integers(0, 256, (2, 24, 40, 3), dtype=np.uint8)
  grids = rng.integers(-20, 20, (2, 3, 5, 2)).astype(np.int16)
  both = compensation.compensate(images, grids, 8).numpy()
  for i in range(2):
    np.testing.assert_array_equal(both[i], compensation.compensate(images[i:i + 1], grids[i:i + 1], 8).numpy()[0])

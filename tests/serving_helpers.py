"""Helpers of the runner and export tests: random block grids and the NumPy reference of the
compact inputs' expansion."""
import numpy as np

from tw_keras.video import codec


def _grid(rng, height=50, width=70):
  """A random int16 quarter-pel block grid over the coded (16-padded) size of height x width."""
  return rng.integers(-24, 24, (-(-height // 16) * 2, -(-width // 16) * 2, 2)).astype(np.int16)


def _dense_inputs(frame, previous, grid):
  """NumPy reference of the compact inputs' expansion: (motion px, residual), codec rule."""
  h, w = frame.shape[:2]
  predicted = codec.MotionCompensator(h, w).warp(previous, grid, codec.MV_CELL)
  return codec.dense_motion(grid, codec.MV_CELL, h, w), frame.astype(np.float32) - predicted

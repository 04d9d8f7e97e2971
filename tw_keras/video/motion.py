"""Motion vectors in our units (docs/CONVENTIONS.md, section 1) and motion compensation on the host.

FFmpeg's `AVMotionVector` records become an int16 quarter-pel grid, one vector (dx, dy) =
dst - src per 8x8 block of the coded frame (`block_motion_from_vectors`); `expand_grid` and
`dense_motion` expand a grid per pixel; `MotionCompensator` warps images by a grid with
OpenCV's fixed-point remap, `out(p) = image(p - mv(p))`, edge-replicated (the residual's
prediction; `tw_keras.video.compensation` is the same rule in TF, equal to the integer).
"""

from typing import Optional, Tuple

import cv2
import numpy as np

MACROBLOCK = 16


def coded_length(n):
  """A frame side rounded up to whole macroblocks: the codec's coded size (ints or tensors)."""
  return -(-n // MACROBLOCK) * MACROBLOCK


def grid_shape(height: int, width: int, cell: int) -> Tuple[int, int]:
  """(rows, columns) of the block motion grid of a height x width frame: its coded size in
  `cell` x `cell` blocks."""
  return coded_length(height) // cell, coded_length(width) // cell
# Motion-vector grid cell: MPEG-4 blocks are 16x16 or 8x8 (4MV), so an 8x8 grid is exact.
MV_CELL = 8
# A codec's finest motion partition: the grid cell of its own vectors (FFmpeg decoder name).
CELLS = {"h264": 4, "mpeg4": 8, "h263": 8, "h263p": 8}
# Block motion is stored in quarter pixels (exact for half- and quarter-pel codecs).
MV_UNITS_PER_PIXEL = 4


def block_motion_from_vectors(vectors: Optional[np.ndarray], coded_height: int,
                              coded_width: int, cell: int = MV_CELL) -> np.ndarray:
  """FFmpeg AVMotionVector records -> [ceil(Hc/cell), ceil(Wc/cell), 2] int16 quarter-pel grid.

  `src = dst + motion / motion_scale`, so `dst - src = -motion / motion_scale`. Only
  forward predictions (`source < 0`) are used; blocks without a vector (intra) get 0.
  `cell`: the codec's finest partition (8 for MPEG-4 Part 2, 4 for H.264).
  """
  gh, gw = -(-coded_height // cell), -(-coded_width // cell)
  if vectors is None or len(vectors) == 0:
    return np.zeros((gh, gw, 2), np.int16)
  field = lambda name: vectors[name].astype(np.int32)  # (a boolean row selection of the
  # structured records would cost more than the rest of this function)
  # Quarter pixels: -motion * 4 / scale (exact for scale 1, 2, 4); (dx, dy) as one int32.
  motion, scale = np.stack([field("motion_x"), field("motion_y")], -1), field("motion_scale")
  if (scale == scale[0]).all() and MV_UNITS_PER_PIXEL % scale[0] == 0:  # one scale: no division
    motion *= -(MV_UNITS_PER_PIXEL // scale[0])
  else:
    motion = (-MV_UNITS_PER_PIXEL * motion) // scale[:, None]
  value = motion.astype(np.int16).view(np.int32)[:, 0]
  bw, bh = field("w"), field("h")
  x0, y0 = (field("dst_x") - bw // 2) // cell, (field("dst_y") - bh // 2) // cell
  nx, ny = np.maximum(bw // cell, 1), np.maximum(bh // cell, 1)
  # All blocks of one shape at once (H.264 has 7 shapes, MPEG-4 2; a 2048x1024 H.264 frame has
  # up to 131,072 4x4 cells), each shape on the coarsest grid it sits on: level L paints
  # L x L-cell squares, from the macroblock (L = 16 / cell) down to 1, and each level is
  # expanded 2x into the next. Only forward predictions (source < 0) count; shape 0 marks the
  # others. Blocks of a valid stream do not overlap.
  code = nx * (int(ny.max()) + 1) + ny
  shape = np.where(field("source") < 0, code, 0)
  m = MACROBLOCK // cell
  levels = [m >> i for i in range(m.bit_length())] if MACROBLOCK % cell == 0 and m & (m - 1) == 0 else [1]
  if gh % levels[0] or gw % levels[0]:
    levels = [1]
  painted = {level: [] for level in levels}
  for s in np.flatnonzero(np.bincount(shape)[1:]) + 1:
    k = np.flatnonzero(shape == s)
    bx, by, ys, xs = int(nx[k[0]]), int(ny[k[0]]), y0[k], x0[k]
    inside = ys.min() >= 0 and xs.min() >= 0 and ys.max() + by <= gh and xs.max() + bx <= gw
    level = next(l for l in levels if l == 1 or (inside and bx % l == 0 and by % l == 0 and not (ys % l).any()
                                                 and not (xs % l).any()))
    painted[level].append((ys, xs, value[k], bx, by))
  level_grid = np.zeros((gh // levels[0], gw // levels[0]), np.int32)
  for level in levels:
    if level != levels[0]:  # the coarser level's squares, 2x2 each here
      level_grid = np.repeat(np.repeat(level_grid, 2, 0), 2, 1)
    lh, lw = level_grid.shape
    for y, x, v, bx, by in painted[level]:
      ys = y[:, None] // level + np.arange(by // level, dtype=np.int32)  # [K, by / level]
      xs = x[:, None] // level + np.arange(bx // level, dtype=np.int32)  # [K, bx / level]
      if level == 1:  # (outside the frame only in a damaged stream)
        ys, xs = np.clip(ys, 0, lh - 1), np.clip(xs, 0, lw - 1)
      level_grid.reshape(-1)[ys[:, :, None] * lw + xs[:, None, :]] = v[:, None, None]
  return level_grid.view(np.int16).reshape(gh, gw, 2)  # each int32 back to its (dx, dy)


def expand_grid(grid: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
  """[h', w', ...] grid of `cell`-pixel cells -> [height, width, ...] per pixel (nearest), cropped."""
  if cell > 1:
    grid = cv2.resize(grid, (grid.shape[1] * cell, grid.shape[0] * cell), interpolation=cv2.INTER_NEAREST)
  return np.ascontiguousarray(grid[:height, :width])


def dense_motion(motion_grid: np.ndarray, cell: int, height: int, width: int) -> np.ndarray:
  """[h', w', 2] int16 quarter-pel grid of `cell`-pixel cells -> [height, width, 2] float32 pixels."""
  return expand_grid(motion_grid, cell, height, width).astype(np.float32) * (1.0 / MV_UNITS_PER_PIXEL)


# cv2.remap fixed-point maps: fractional positions in 1/32 (cv::INTER_TAB_SIZE).
_TAB = 32
_QUARTER = _TAB // MV_UNITS_PER_PIXEL


class MotionCompensator:
  """Warps images of one size by quarter-pel motion grids: `out(p) = image(p - mv(p))`.

  Bilinear, sample positions clamped to the frame (edge replication). Exact for
  quarter-pel motion: the grid is turned into OpenCV's fixed-point sampling maps at
  cell level and expanded by nearest-neighbour resizing, which is several times faster
  than float maps at 2048x1024. uint8 results are rounded.
  """

  def __init__(self, height: int, width: int):
    self.height, self.width = height, width
    xs, ys = np.meshgrid(np.arange(width, dtype=np.int16), np.arange(height, dtype=np.int16))
    self._base = np.stack([xs, ys], axis=-1)  # [H, W, 2] pixel coordinates

  def expand(self, grid, cell):
    """[h', w', ...] cell grid -> [H, W, ...] per pixel (nearest), cropped to the frame."""
    return expand_grid(grid, cell, self.height, self.width)

  def maps(self, motion_grid: np.ndarray, cell: int):
    """Quarter-pel grid -> (map1 [H, W, 2] int16, map2 [H, W] uint16) for cv2.remap."""
    q = -motion_grid.astype(np.int32)  # sample offset p - mv, quarter pixels
    whole = (q >> 2).astype(np.int16)  # floor
    frac = ((q[..., 1] & 3) * (_QUARTER * _TAB) + (q[..., 0] & 3) * _QUARTER).astype(np.uint16)
    return cv2.add(self.expand(whole, cell), self._base), self.expand(frac, cell)

  def warp(self, image: np.ndarray, motion_grid: np.ndarray, cell: int,
           interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """[H, W, C] image, [h', w', 2] quarter-pel grid -> [H, W, C] warped image."""
    map1, map2 = self.maps(motion_grid, cell)
    out = cv2.remap(image, map1, map2, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)

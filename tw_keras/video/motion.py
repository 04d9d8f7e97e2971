"""Motion vectors in our units (docs/CONVENTIONS.md, section 1) and motion compensation on the host.

FFmpeg's `AVMotionVector` records become an int16 quarter-pel grid, one vector (dx, dy) =
dst - src per 8x8 block of the coded frame (`block_motion_from_vectors`); `expand_grid` and
`dense_motion` expand a grid per pixel; `MotionCompensator` warps images by a grid with
OpenCV's fixed-point remap, `out(p) = image(p - mv(p))`, edge-replicated (the residual's
prediction; `tw_keras.video.compensation` is the same rule in TF, equal to the integer).
"""

from typing import Optional

import cv2
import numpy as np

MACROBLOCK = 16
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
  grid = np.zeros((-(-coded_height // cell), -(-coded_width // cell), 2), np.int16)
  if vectors is None or len(vectors) == 0:
    return grid
  v = vectors[vectors["source"] < 0]
  scale = v["motion_scale"].astype(np.int32)
  # Quarter pixels: -motion * 4 / scale (exact for scale 1, 2, 4).
  mx = (-v["motion_x"].astype(np.int32) * MV_UNITS_PER_PIXEL) // scale
  my = (-v["motion_y"].astype(np.int32) * MV_UNITS_PER_PIXEL) // scale
  x0 = (v["dst_x"].astype(np.int32) - v["w"].astype(np.int32) // 2) // cell
  y0 = (v["dst_y"].astype(np.int32) - v["h"].astype(np.int32) // 2) // cell
  nx = np.maximum(v["w"].astype(np.int32) // cell, 1)
  ny = np.maximum(v["h"].astype(np.int32) // cell, 1)
  for oy in range(int(ny.max())):
    for ox in range(int(nx.max())):
      sel = (oy < ny) & (ox < nx)
      ys = np.clip(y0[sel] + oy, 0, grid.shape[0] - 1)
      xs = np.clip(x0[sel] + ox, 0, grid.shape[1] - 1)
      grid[ys, xs, 0] = mx[sel]
      grid[ys, xs, 1] = my[sel]
  return grid


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

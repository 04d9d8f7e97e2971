"""Exact optical flow of the street scene, from its geometry: what no real dataset has.

For each pixel p of frame t the ray-caster knows the surface it hit (primitive id, depth),
so its 3D point X. Each primitive moves rigidly between frames (movers translate, limbs
rotate about their joints; the ground and the static world stay), so X's position at t-1 is
X carried back through its primitive's pose change, and projecting it with the camera of t-1
gives where p's content was. In our motion convention (docs/CONVENTIONS.md: dst - src, on the
current frame's pixels, so that F_t(p) = F_{t-1}(p - flow(p))):

  flow(p) = p - project_{t-1}(X_{t-1})     [H, W, 2] float32 pixels (x, y)
  valid(p) = the point is visible in both frames: hit (not sky), in front of camera t-1,
             inside frame t-1, and not hidden there (frame t-1's hit near it is the same
             primitive at the same depth, within `DEPTH_TOLERANCE`): neither occluded nor
             disoccluded.
"""

from typing import Tuple

import numpy as np

from tw_keras.scene.raycast import NEAR

DEPTH_TOLERANCE = 0.03  # relative: a hit of the same primitive within 3% of the point's depth


def _pose(primitive):
  """(centre [3], axes [3, 3]: columns = local axes in world) of a Box or an Ellipsoid."""
  return np.asarray(primitive.center, np.float64), np.asarray(primitive.axes, np.float64)


def exact_flow(previous, current, ground_ids: int = 3) -> Tuple[np.ndarray, np.ndarray]:
  """The flow from frame t-1 to frame t and where it is valid (module doc).

  Args:
    previous, current: `street_scene.FrameState`s (camera, items, raster) of frames t-1, t;
      item i of both is the same primitive (movers keep their parts' order), cast as id
      `ground_ids + i`; ids below `ground_ids` are the static ground.
  Returns:
    (flow [H, W, 2] float32, valid [H, W] bool); flow is 0 where nothing was hit.
  """
  raster, camera = current.raster, current.camera
  h, w = raster.depth.shape
  ids = raster.ids
  hit = ids >= 0
  depth = np.where(hit, raster.depth, 0).astype(np.float64)
  points = np.asarray(camera.position, np.float64) + depth[..., None] * raster.dirs.astype(np.float64)  # [H, W, 3]
  before = points.copy()  # the ground and the static world: the same point
  for pid in np.unique(ids[ids >= ground_ids]):
    sel = ids == pid
    c1, a1 = _pose(current.items[pid - ground_ids].primitive)
    c0, a0 = _pose(previous.items[pid - ground_ids].primitive)
    before[sel] = c0 + ((points[sel] - c1) @ a1) @ a0.T  # local coordinates, then the old pose
  xy, z = previous.camera.project(before.reshape(-1, 3))
  xy, z = xy.reshape(h, w, 2), z.reshape(h, w)
  grid = np.stack(np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5), -1)  # pixel centres (x, y)
  flow = np.where(hit[..., None], grid - xy, 0).astype(np.float32)
  inside = hit & (z > NEAR) & np.all(np.isfinite(xy), -1)
  inside &= (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
  valid = np.zeros((h, w), bool)
  if inside.any():
    # Visible at t-1: one of the pixel centres that bilinear sampling at the old position
    # weighs (up to 4; 1 on a centre) holds the same primitive at the point's depth.
    px, py, pz, pid = xy[inside, 0] - 0.5, xy[inside, 1] - 0.5, z[inside], ids[inside]
    fx, fy = px - np.floor(px), py - np.floor(py)
    seen = np.zeros(pid.shape, bool)
    for dx, wx in ((0, fx < 1 - 1e-3), (1, fx > 1e-3)):
      for dy, wy in ((0, fy < 1 - 1e-3), (1, fy > 1e-3)):
        x = np.clip(np.floor(px).astype(int) + dx, 0, w - 1)
        y = np.clip(np.floor(py).astype(int) + dy, 0, h - 1)
        same = previous.raster.ids[y, x] == pid
        close = np.abs(previous.raster.depth[y, x] - pz) <= DEPTH_TOLERANCE * pz
        seen |= wx & wy & same & close
    valid[inside] = seen
  return flow, valid

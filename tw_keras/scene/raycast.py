"""An analytic ray-caster in NumPy: a pinhole camera, oriented boxes and ellipsoids, a z-buffer.

Geometry only; what the surfaces look like is `tw_keras.scene.street_scene`'s business.

Conventions:
  * World: X right, Y up, Z forward (metres). Camera frame: x right, y down, z forward
    (OpenCV). A camera's `rotation` R maps world directions to camera directions.
  * Ray directions are scaled so that their camera-z component is 1: the ray parameter t
    of a hit IS its depth along the optical axis (what `Camera.project` returns).
  * Each primitive is cast only against the pixels inside its projected bounding box.

Buffers after `Raster.cast` (all [H, W]): depth t (inf = no hit), primitive id (-1 = none),
face coordinates u, v (metres on the face, fixed in object space), and the world normal
[H, W, 3].
"""

import dataclasses
from typing import Tuple

import numpy as np

NEAR = 0.05


def rotation_y(angle: float) -> np.ndarray:
  """[3, 3] rotation about the world's up axis (positive turns +Z towards +X)."""
  c, s = np.cos(angle), np.sin(angle)
  return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float64)


def rotation_x(angle: float) -> np.ndarray:
  """[3, 3] rotation about X (positive turns +Y towards +Z)."""
  c, s = np.cos(angle), np.sin(angle)
  return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], np.float64)


@dataclasses.dataclass
class Camera:
  """A pinhole camera.

  Attributes:
    width, height: image size in pixels.
    focal: focal length in pixels (square pixels); principal point at the image centre.
    position: [3] world position.
    yaw: heading (radians; positive turns right, towards +X).
    pitch: radians; positive looks down.
  """
  width: int
  height: int
  focal: float
  position: np.ndarray
  yaw: float = 0.0
  pitch: float = 0.0

  @property
  def rotation(self) -> np.ndarray:
    """[3, 3] world -> camera directions."""
    # Camera axes in world coordinates (rows): x right, y down, z forward.
    cam_to_world = rotation_y(self.yaw) @ rotation_x(self.pitch)
    flip = np.diag([1.0, -1.0, 1.0])  # camera y points down, world Y up
    return (cam_to_world @ flip).T

  def project(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """[N, 3] world points -> ([N, 2] pixel (x, y) of the point, [N] depth along the axis).

    Pixel (x, y) is continuous: pixel centres are at integer + 0.5.
    """
    cam = (np.asarray(points, np.float64) - self.position) @ self.rotation.T
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
      xy = cam[:, :2] / z[:, None] * self.focal + np.array([self.width / 2, self.height / 2])
    return xy, z

  def ray_directions(self) -> np.ndarray:
    """[H, W, 3] float32 world directions through pixel centres, camera-z component 1."""
    x = (np.arange(self.width, dtype=np.float64) + 0.5 - self.width / 2) / self.focal
    y = (np.arange(self.height, dtype=np.float64) + 0.5 - self.height / 2) / self.focal
    cam = np.stack(np.broadcast_arrays(x[None, :], y[:, None], np.ones((1, 1))), -1)
    return (cam @ self.rotation).astype(np.float32)  # row vectors: world = R^T cam


_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], np.float64)


@dataclasses.dataclass
class Box:
  """An oriented box: centre [3], axes [3, 3] (columns = local axes in world), half extents [3]."""
  center: np.ndarray
  half: np.ndarray
  axes: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))

  def corners(self) -> np.ndarray:
    return self.center + (_SIGNS * self.half) @ self.axes.T


@dataclasses.dataclass
class Ellipsoid:
  """An oriented ellipsoid: centre [3], radii [3] along the local axes [3, 3] (columns)."""
  center: np.ndarray
  radii: np.ndarray
  axes: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(3))

  def corners(self) -> np.ndarray:
    return Box(self.center, self.radii, self.axes).corners()


def intersect_box(box: Box, origin: np.ndarray, dirs: np.ndarray):
  """Rays (one origin [3], dirs [N, 3]) against a box (slab test, per axis).

  Returns (t [N] (inf where missed), normal [N, 3] world, u [N], v [N] face coordinates).
  """
  o = ((origin - box.center) @ box.axes).astype(np.float32)
  d = dirs @ box.axes.astype(np.float32)
  e = box.half.astype(np.float32)
  n = len(d)
  t_in = np.full(n, -np.inf, np.float32)
  t_out = np.full(n, np.inf, np.float32)
  axis = np.zeros(n, np.int8)
  for k in range(3):
    dk = d[:, k]
    dk = np.where(np.abs(dk) < 1e-12, np.float32(1e-12), dk)
    a = (-e[k] - o[k]) / dk
    b = (e[k] - o[k]) / dk
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    better = lo > t_in
    axis[better] = k
    t_in = np.maximum(t_in, lo)
    t_out = np.minimum(t_out, hi)
  hit = (t_in <= t_out) & (t_in > NEAR)
  t = np.full(n, np.inf, np.float32)
  t[hit] = t_in[hit]
  normal = np.zeros((n, 3), np.float32)
  u = np.zeros(n, np.float32)
  v = np.zeros(n, np.float32)
  if hit.any():
    ax, dh, th = axis[hit], d[hit], t_in[hit]
    sign = -np.sign(dh[np.arange(len(dh)), ax])
    normal[hit] = box.axes.T.astype(np.float32)[ax] * sign[:, None]
    p = o + th[:, None] * dh + e  # local, shifted to 0..2e
    # Face coordinates: the two axes that span the face (horizontal first, then vertical).
    u[hit] = np.where(ax == 0, p[:, 2], p[:, 0])
    v[hit] = np.where(ax == 1, p[:, 2], p[:, 1])
  return t, normal, u, v


def intersect_ellipsoid(ell: Ellipsoid, origin: np.ndarray, dirs: np.ndarray):
  """Rays against an ellipsoid; returns as `intersect_box` (u: arc length around Y, v: height)."""
  r = ell.radii.astype(np.float32)
  o = ((origin - ell.center) @ ell.axes).astype(np.float32)
  d = dirs @ ell.axes.astype(np.float32)
  os_, ds = o / r, d / r
  a = (ds * ds).sum(1)
  b = 2 * (ds @ os_)
  c = float(os_ @ os_) - 1.0
  disc = b * b - 4 * a * c
  with np.errstate(invalid="ignore"):
    t_in = (-b - np.sqrt(disc)) / (2 * a)
  hit = (disc >= 0) & (t_in > NEAR)
  t = np.where(hit, t_in, np.inf).astype(np.float32)
  p = o + np.where(hit, t_in, 0)[:, None] * d
  n = p / (r * r)
  n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
  normal = n @ ell.axes.T.astype(np.float32)
  u = np.arctan2(p[:, 0], p[:, 2]) * r.mean()
  v = p[:, 1] + r[1]
  return t, normal, u, v


class Raster:
  """Z-buffered hit buffers for one camera; cast primitives, then read the buffers."""

  def __init__(self, camera: Camera):
    self.camera = camera
    h, w = camera.height, camera.width
    self.dirs = camera.ray_directions()
    self.origin = np.asarray(camera.position, np.float64)
    self.depth = np.full((h, w), np.inf, np.float32)
    self.ids = np.full((h, w), -1, np.int32)
    self.u = np.zeros((h, w), np.float32)
    self.v = np.zeros((h, w), np.float32)
    self.normal = np.zeros((h, w, 3), np.float32)

  def window(self, corners: np.ndarray):
    """(pixel window (y0, y1, x0, x1) that covers the projected `corners`, their nearest
    depth), or None if unseen (behind the camera, outside the image, or behind what the
    buffer already holds)."""
    xy, z = self.camera.project(corners)
    h, w = self.depth.shape
    if (z <= NEAR).all():
      return None
    if (z <= NEAR).any():  # straddles the camera plane: test the whole image
      return (0, h, 0, w), NEAR
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1:
      return None
    # Occlusion culling: every pixel of the window already holds something nearer than the
    # primitive's nearest point (a ray's t is its depth, and depth >= the corners' minimum).
    zmin = z.min()
    if self.depth[y0:y1, x0:x1].max() < zmin:
      return None
    return (y0, y1, x0, x1), zmin

  def write(self, pid: int, window, t, normal, u, v, where=None):
    """Keeps the hits of primitive `pid` that are nearer than the buffer.

    Arrays are window-shaped, or hold only the window's pixels selected by `where`.
    """
    y0, y1, x0, x1 = window
    sl = (slice(y0, y1), slice(x0, x1))
    if where is None:
      shape = (y1 - y0, x1 - x0)
      t, u, v, normal = t.reshape(shape), u.reshape(shape), v.reshape(shape), normal.reshape(shape + (3,))
      nearer = t < self.depth[sl]
      sel = nearer
    else:
      nearer = t < self.depth[sl][where]
      sel = np.zeros(where.shape, bool)
      sel[where] = nearer
    if not nearer.any():
      return
    self.depth[sl][sel] = t[nearer]
    self.ids[sl][sel] = pid
    self.u[sl][sel] = u[nearer]
    self.v[sl][sel] = v[nearer]
    self.normal[sl][sel] = normal[nearer]

  def cast(self, pid: int, primitive, max_depth: float = np.inf):
    """Casts one Box or Ellipsoid as primitive `pid`."""
    seen = self.window(primitive.corners())
    if seen is None:
      return
    window, zmin = seen
    y0, y1, x0, x1 = window
    # Only rays whose buffer holds something farther than the primitive's nearest corner.
    where = self.depth[y0:y1, x0:x1] > zmin
    dirs = self.dirs[y0:y1, x0:x1][where]
    fn = intersect_box if isinstance(primitive, Box) else intersect_ellipsoid
    t, normal, u, v = fn(primitive, self.origin, dirs)
    if max_depth < np.inf:
      t[t > max_depth] = np.inf
    self.write(pid, window, t, normal, u, v, where)

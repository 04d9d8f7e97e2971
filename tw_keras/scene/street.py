"""The street: its layout (lanes, markings, crosswalks, parking lanes, an intersection, raised
sidewalks with curbs, terrain) and the analytic ground it casts."""

import dataclasses
from typing import Tuple

import numpy as np

from tw_keras.scene.raycast import Raster
from tw_keras.scene.world import GREYS, MAX_DEPTH, Material, jitter, pick


@dataclasses.dataclass
class Street:
  """Ground layout. Road |X| <= road_half; sidewalks out to road_half + sidewalk (raised by
  `curb`); beyond: terrain. Z in [cross_z0, cross_z1] is an intersection (road everywhere)."""
  lane: float
  lanes: int  # per direction
  parking: float  # width of a parking lane at each road edge (0 = none)
  sidewalk: float
  curb: float
  cross_z0: float
  cross_z1: float
  road: Material
  walk: Material
  grass: Material
  marking: Tuple[float, float, float]

  @property
  def road_half(self):
    return self.lanes * self.lane + self.parking

  def in_crossing(self, z):
    return (z >= self.cross_z0) & (z <= self.cross_z1)


def make_street(rng) -> Street:
  cross = rng.random() < 0.5
  z0 = rng.uniform(25, 70) if cross else 1e9
  return Street(
      lane=rng.uniform(3.0, 3.7), lanes=int(rng.integers(1, 3)),
      parking=rng.uniform(2.0, 2.5) if rng.random() < 0.6 else 0.0,
      sidewalk=rng.uniform(2.0, 5.0), curb=rng.uniform(0.10, 0.18),
      cross_z0=z0, cross_z1=z0 + rng.uniform(10, 16),
      road=Material(pick(rng, GREYS[:4]), noise=0.18, scale=rng.uniform(2, 5)),
      walk=Material(pick(rng, GREYS + [(160, 110, 95), (185, 170, 140)]), noise=0.12, scale=2.0,
                    pattern="tiles", period=(rng.uniform(0.3, 1.0),) * 2, accent=(60, 60, 60)),
      grass=Material(pick(rng, [(70, 100, 45), (110, 120, 60), (120, 110, 90), (95, 95, 85)]), noise=0.35,
                     scale=rng.uniform(2, 6)),
      marking=jitter(rng, (225, 225, 215), 0.05))


def cast_ground(raster: Raster, street: Street, base_id: int):
  """Road (id base), curb faces and sidewalks (base+1), terrain (base+2): analytic planes."""
  o = raster.origin
  d = raster.dirs
  down = d[..., 1] < -1e-6
  with np.errstate(divide="ignore", invalid="ignore"):
    t_road = np.where(down, -o[1] / d[..., 1], np.inf)
    t_walk = np.where(down, (street.curb - o[1]) / d[..., 1], np.inf)
  xr, zr = o[0] + t_road * d[..., 0], o[2] + t_road * d[..., 2]
  xw, zw = o[0] + t_walk * d[..., 0], o[2] + t_walk * d[..., 2]
  half = street.road_half
  road_hit = down & ((np.abs(xr) <= half) | street.in_crossing(zr))
  walk_hit = down & (np.abs(xw) > half) & ~street.in_crossing(zw) & (t_walk > 0)
  walk_is_side = np.abs(xw) <= half + street.sidewalk
  t = np.full(d.shape[:2], np.inf, np.float32)
  ids = np.full(d.shape[:2], -1, np.int32)
  u = np.zeros(d.shape[:2], np.float32)
  v = np.zeros(d.shape[:2], np.float32)
  normal = np.zeros(d.shape, np.float32)
  normal[..., 1] = 1
  t = np.where(walk_hit, t_walk, t)
  ids = np.where(walk_hit, np.where(walk_is_side, base_id + 1, base_id + 2), ids)
  u, v = np.where(walk_hit, xw, u), np.where(walk_hit, zw, v)
  rest = down & ~walk_hit
  t = np.where(rest & road_hit, t_road, t)
  ids = np.where(rest & road_hit, base_id, ids)
  u, v = np.where(rest & road_hit, xr, u), np.where(rest & road_hit, zr, v)
  # Whatever passes below the sidewalk's edge without reaching the road hits a curb face.
  curb = rest & ~road_hit
  side = np.sign(xr)
  with np.errstate(divide="ignore", invalid="ignore"):
    t_curb = (side * half - o[0]) / d[..., 0]
  curb &= np.isfinite(t_curb) & (t_curb > 0)
  t = np.where(curb, t_curb, t)
  ids = np.where(curb, base_id + 1, ids)
  u = np.where(curb, o[2] + t_curb * d[..., 2], u)
  v = np.where(curb, o[1] + t_curb * d[..., 1] + 50.0, v)  # off the tile grid: plain stone
  normal[curb] = np.stack([-side[curb], 0 * side[curb], 0 * side[curb]], -1)
  t = np.where(t > MAX_DEPTH, np.inf, t).astype(np.float32)
  raster.write(base_id, (0, raster.depth.shape[0], 0, raster.depth.shape[1]), t, normal, u, v)
  # raster.write stores one id; re-label the ground ids it kept.
  kept = raster.ids == base_id
  raster.ids[kept] = ids[kept]

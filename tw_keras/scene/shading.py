"""Shading: value noise, texture patterns with a level of detail, the ego bonnet, lighting
(sun, ambient, haze, exposure, tint), and the shading of sky, surfaces and ground."""

import dataclasses
from typing import Tuple

import numpy as np

from tw_keras.scene.world import PAINTS, Material, jitter, pick
from tw_keras.scene.street import Street


class Noise:
  """Tileable value noise sampled bilinearly in metres, faded out where texels get smaller
  than pixels (a cheap level of detail against aliasing)."""

  def __init__(self, rng, size=256):
    self.size = size
    self.table = (rng.random((size, size)).astype(np.float32) - 0.5) * 3.4  # ~unit std

  def __call__(self, u, v, scale, footprint, offset=0.0):
    x = u * scale + offset
    y = v * scale + offset * 1.7
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    m = self.size - 1
    i0, j0 = x0.astype(np.int64) & m, y0.astype(np.int64) & m
    i1, j1 = (i0 + 1) & m, (j0 + 1) & m
    t = self.table
    val = ((t[j0, i0] * (1 - fx) + t[j0, i1] * fx) * (1 - fy) + (t[j1, i0] * (1 - fx) + t[j1, i1] * fx) * fy)
    return val * _lod(1.0 / scale, footprint)


def _lod(period, footprint):
  """Weight of a pattern of `period` metres seen at `footprint` metres per pixel (0 = unresolved)."""
  return np.clip(period / np.maximum(footprint, 1e-6) / 2 - 0.5, 0, 1).astype(np.float32)


def _pattern(material: Material, u, v, footprint):
  """[N] weight of the accent colour (0..1) for the material's pattern."""
  pu, pv = material.period
  if material.pattern == "windows":
    fu, fv = (u % pu) / pu, (v % pv) / pv
    win = (fu > 0.22) & (fu < 0.78) & (fv > 0.3) & (fv < 0.82) & (v > 0.8)
    return win.astype(np.float32) * _lod(pu * 0.5, footprint)
  if material.pattern == "slats":
    return ((u % pu) / pu > 0.6).astype(np.float32) * _lod(pu * 0.4, footprint) * 0.9
  if material.pattern == "tiles":
    line = ((u % pu) < 0.04) | ((v % pv) < 0.04)
    return line.astype(np.float32) * 0.5 * _lod(0.08, footprint) + 0.1 * (1 - _lod(0.08, footprint))
  if material.pattern == "band":  # a band across the middle (bus windows, sign face)
    return ((v % (pv * 2)) / (pv * 2) > 0.55).astype(np.float32) * (u > 0.1)
  if material.pattern == "lamps":
    fv = (v % pv) / pv
    return ((fv > 0.25) & (fv < 0.75) & ((u % pu) / pu > 0.25) & ((u % pu) / pu < 0.75)
            & (v < pv)).astype(np.float32)
  return np.zeros_like(u)


@dataclasses.dataclass
class Hood:
  """The ego vehicle's bonnet at the bottom of the frame: fixed to the camera, so it never
  moves in the image (zero motion, as in Cityscapes), labelled ignore (255)."""
  height: float  # fraction of the frame height at the centre column
  curve: float  # how much lower it is at the sides (fraction of `height`)
  colour: Tuple[float, float, float]

  def mask(self, height: int, width: int) -> np.ndarray:
    x = (np.arange(width) + 0.5) / width * 2 - 1
    top = height * (1 - self.height * (1 - self.curve * x * x))
    return (np.arange(height)[:, None] + 0.5) >= top[None, :]


def make_hood(rng) -> Hood:
  return Hood(rng.uniform(0.1, 0.2), rng.uniform(0.3, 0.7), pick(rng, PAINTS))


@dataclasses.dataclass
class Lighting:
  sun: np.ndarray  # [3] unit vector towards the sun
  ambient: float
  diffuse: float
  exposure: np.ndarray  # [3] per-channel gain
  haze: float  # metres
  sky_top: np.ndarray
  sky_horizon: np.ndarray
  clouds: float


def make_lighting(rng) -> Lighting:
  elev, azim = np.radians(rng.uniform(15, 65)), rng.uniform(0, 2 * np.pi)
  overcast = rng.random() < 0.35
  top = np.array(jitter(rng, (110, 150, 210) if not overcast else (170, 172, 178), 0.1))
  return Lighting(np.array([np.cos(elev) * np.sin(azim), np.sin(elev), np.cos(elev) * np.cos(azim)]),
                  ambient=rng.uniform(0.55, 0.75) if overcast else rng.uniform(0.4, 0.6),
                  diffuse=rng.uniform(0.1, 0.25) if overcast else rng.uniform(0.35, 0.6),
                  exposure=rng.uniform(0.8, 1.2) * rng.uniform(0.93, 1.07, 3),
                  haze=rng.uniform(150, 600), sky_top=top,
                  sky_horizon=np.array(jitter(rng, (200, 205, 210), 0.08)), clouds=rng.uniform(0.0, 0.5))


def shade_sky(lighting, noise, dirs, mask):
  d = dirs[mask]
  n = d / np.linalg.norm(d, axis=1, keepdims=True)
  elev = np.clip(n[:, 1], 0, 1)[:, None]
  col = lighting.sky_horizon * (1 - elev) ** 2 + lighting.sky_top * (1 - (1 - elev) ** 2)
  az = np.arctan2(n[:, 0], n[:, 2])
  c = noise(az * 8.0, elev[:, 0] * 12.0, 1.0, np.full(len(n), 1e-3), offset=3.1)
  cloud = np.clip(c * lighting.clouds, 0, 1)[:, None]
  return col * (1 - cloud) + np.array([235.0, 235, 238]) * cloud


def shade_surface(material: Material, lighting: Lighting, noise: Noise, u, v, normal, depth, focal, key):
  footprint = depth / focal
  base = np.asarray(material.colour, np.float32)
  tex = 1 + material.noise * (0.6 * noise(u, v, material.scale, footprint, key)
                              + 0.4 * noise(u, v, material.scale * 4, footprint, key + 0.37))
  acc = _pattern(material, u, v, footprint)[:, None]
  col = base * tex[:, None] * (1 - acc) + np.asarray(material.accent, np.float32) * acc
  light = lighting.ambient + lighting.diffuse * np.clip(normal @ lighting.sun.astype(np.float32), 0, 1)
  col = col * light[:, None]
  fog = (1 - np.exp(-depth / lighting.haze))[:, None]
  return col * (1 - fog) + lighting.sky_horizon * fog


def shade_ground(street: Street, lighting, noise, raster, ids_sel, which, u, v, normal, depth, focal):
  """Ground pixels: road (markings), sidewalk/curb (tiles), terrain."""
  mat = (street.road, street.walk, street.grass)[which]
  col = shade_surface(mat, lighting, noise, u, v, normal, depth, focal, 11.0 * (which + 1))
  if which == 0:  # markings: x = u, z = v on the road plane
    footprint = depth / focal
    x, z = u, v
    mark = np.zeros_like(x)
    w = 0.07
    if street.lanes > 1:
      for i in range(1, street.lanes):
        for s in (-1, 1):
          mark = np.maximum(mark, (np.abs(x - s * i * street.lane) < w) & ((z % 9.0) < 3.0))
    mark = np.maximum(mark, (np.abs(x) < w) | ((np.abs(np.abs(x) - 0.25) < w) & (street.lanes > 1)))
    edge = street.lanes * street.lane
    mark = np.maximum(mark, np.abs(np.abs(x) - edge) < w)
    if street.cross_z0 < 1e8:
      zebra = (z > street.cross_z0 - 4.0) & (z < street.cross_z0 - 0.5) & ((x % 1.0) < 0.5) & (np.abs(x) < edge)
      mark = np.maximum(mark, zebra)
      mark = np.where(street.in_crossing(z) & (np.abs(x) > 0.5), 0, mark)
    mark = mark * _lod(0.3, footprint)
    light = (lighting.ambient + lighting.diffuse * max(lighting.sun[1], 0))
    fog = (1 - np.exp(-depth / lighting.haze))[:, None]
    paint = np.asarray(street.marking, np.float32) * light * (1 - fog) + lighting.sky_horizon * fog
    col = col * (1 - mark[:, None]) + paint * mark[:, None]
  return col

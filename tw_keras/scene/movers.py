"""Movers: parked, leading, overtaking, oncoming and crossing cars, trucks and buses; cyclists;
pedestrians with articulated legs and arms."""

import dataclasses
from typing import List, Optional

import numpy as np

from tw_keras.scene.raycast import Box, Ellipsoid, rotation_x, rotation_y
from tw_keras.scene.world import CLOTHES, FPS, GREYS, PAINTS, SKIN, T, Item, Material, make_box, pick
from tw_keras.scene.street import Street


@dataclasses.dataclass
class Vehicle:
  kind: str  # car | truck | bus
  position: np.ndarray  # [3] centre of the footprint at t = 0
  velocity: np.ndarray  # [3] m/s
  size: np.ndarray  # (width, height, length)
  paint: Material
  glass: Material

  def items(self, t: float) -> List[Item]:
    c = self.position + self.velocity * t / FPS
    w, h, length = self.size
    along_x = abs(self.velocity[0]) > abs(self.velocity[2])
    fwd = np.sign(self.velocity[0] if along_x else self.velocity[2]) or 1.0

    def part(dx, y0, y1, dz0, dz1, half_w):  # in the vehicle frame: dz along its heading
      z0, z1 = sorted((dz0 * fwd, dz1 * fwd))
      if along_x:
        return make_box((c[0] + z0, y0, c[2] - half_w + dx), (c[0] + z1, y1, c[2] + half_w + dx))
      return make_box((c[0] - half_w + dx, y0, c[2] + z0), (c[0] + half_w + dx, y1, c[2] + z1))

    cls = T[self.kind]
    out = []
    clear = 0.3 if self.kind == "car" else 0.45
    if self.kind == "car":
      out.append(Item(part(0, clear, clear + 0.5 * (h - clear), -length / 2, length / 2, w / 2), cls, self.paint))
      out.append(Item(part(0, clear + 0.5 * (h - clear), h, -length * 0.3, length * 0.22, w * 0.44), cls, self.glass))
    elif self.kind == "truck":
      cab = 2.2
      out.append(Item(part(0, clear, h * 0.8, length / 2 - cab, length / 2, w / 2), cls, self.paint))
      out.append(Item(part(0, clear + 0.2, h, -length / 2, length / 2 - cab - 0.2, w / 2), cls, self.glass))
    else:
      out.append(Item(part(0, clear, h, -length / 2, length / 2, w / 2), cls, self.paint))
    wheel = 0.32 if self.kind == "car" else 0.5
    for dz in (-length * 0.33, length * 0.33):
      for dx in (-w / 2 + 0.05, w / 2 - 0.05):
        out.append(Item(part(dx, 0.0, 2 * wheel, dz - wheel, dz + wheel, 0.12), cls, WHEEL))
    return out


WHEEL = Material((22, 22, 24), noise=0.1, scale=8)


@dataclasses.dataclass
class Person:
  """A walker (or a cyclist's rider when `bicycle` is set): articulated limbs per frame."""
  position: np.ndarray  # [3] feet (or bicycle footprint) at t = 0
  velocity: np.ndarray
  height: float
  top: Material
  bottom: Material
  skin: Material
  phase: float
  cadence: float  # gait (or crank) cycles per second
  bicycle: Optional[Material] = None

  def items(self, t: float) -> List[Item]:
    pos = self.position + self.velocity * t / FPS
    speed = np.linalg.norm(self.velocity)
    heading = rotation_y(np.arctan2(self.velocity[0], self.velocity[2])) if speed > 0 else rotation_y(self.phase)
    ph = self.phase + 2 * np.pi * self.cadence * t / FPS
    hgt = self.height
    thigh, shin, upper, lower = 0.245 * hgt, 0.25 * hgt, 0.19 * hgt, 0.17 * hgt
    limb = 0.075 * hgt
    cls = T["rider"] if self.bicycle else T["person"]
    out = []

    def seg(pivot, angle, length, thick, material):
      rot = heading @ rotation_x(angle)
      centre = pivot + rot @ np.array([0, -length / 2, 0])
      out.append(Item(Box(centre, np.array([thick / 2, length / 2, thick / 2]), rot), cls, material))
      return pivot + rot @ np.array([0, -length, 0])

    if self.bicycle is None:
      swing = 0.45 * np.sin(ph) if speed > 0.1 else 0.05 * np.sin(ph)
      hip = pos + np.array([0, thigh + shin + 0.015 * np.cos(2 * ph), 0])
      for s in (1, -1):
        side = heading @ np.array([s * 0.09 * hgt / 1.75, 0, 0])
        a = s * swing
        knee = seg(hip + side, a, thigh, limb * 1.2, self.bottom)
        seg(knee, a - 0.6 * max(0.0, np.sin(ph * s + 0.8)) * (speed > 0.1), shin, limb, self.bottom)
      torso_tilt = 0.05
    else:
      hip = pos + np.array([0, 0.95, 0]) + heading @ np.array([0, 0, -0.15])
      for s in (1, -1):
        side = heading @ np.array([s * 0.1, 0, 0])
        crank = ph + (0 if s > 0 else np.pi)
        a = -1.0 + 0.45 * np.sin(crank)  # thigh forward (negative: towards +Z)
        knee = seg(hip + side, a, thigh, limb * 1.2, self.bottom)
        seg(knee, 0.25 + 0.4 * np.cos(crank), shin, limb, self.bottom)
      torso_tilt = -0.45
      swing = 0.0
    torso_len = 0.3 * hgt
    rot = heading @ rotation_x(np.pi + torso_tilt)
    neck = hip + rot @ np.array([0, -torso_len, 0])
    out.append(Item(Box((hip + neck) / 2, np.array([0.11 * hgt, torso_len / 2, 0.065 * hgt]), rot), cls, self.top))
    head = 0.065 * hgt
    out.append(Item(Ellipsoid(neck + np.array([0, head * 1.3, 0]), np.array([head * 0.85, head, head * 0.95]),
                              heading), cls, self.skin))
    for s in (1, -1):
      shoulder = neck + heading @ np.array([s * 0.13 * hgt, -0.02 * hgt, 0])
      arm = -0.9 if self.bicycle is not None else -s * 0.35 * np.sin(ph)
      elbow = seg(shoulder, arm, upper, limb * 0.9, self.top)
      seg(elbow, arm - (0.3 if self.bicycle is not None else 0.15), lower, limb * 0.8, self.skin)
    if self.bicycle is not None:
      b = T["bicycle"]
      for dz in (-0.55, 0.55):
        centre = pos + heading @ np.array([0, 0.34, dz])
        out.append(Item(Ellipsoid(centre, np.array([0.025, 0.34, 0.34]), heading), b, WHEEL))
      frame = pos + heading @ np.array([0, 0.62, 0])
      out.append(Item(Box(frame, np.array([0.025, 0.05, 0.45]), heading), b, self.bicycle))
      out.append(Item(Box(frame + heading @ np.array([0, 0.14, -0.3]), np.array([0.025, 0.18, 0.03]), heading @ rotation_x(0.3)), b, self.bicycle))
      out.append(Item(Box(frame + heading @ np.array([0, 0.25, 0.42]), np.array([0.25, 0.02, 0.03]), heading), b, self.bicycle))
    return out


def _person(rng, position, velocity, bicycle=False) -> Person:
  return Person(np.asarray(position, np.float64), np.asarray(velocity, np.float64), rng.uniform(1.55, 1.95),
                Material(pick(rng, CLOTHES), noise=0.2, scale=6), Material(pick(rng, CLOTHES), noise=0.2, scale=6),
                Material(pick(rng, SKIN), noise=0.1, scale=8), rng.uniform(0, 2 * np.pi),
                rng.uniform(0.8, 1.0) if not bicycle else rng.uniform(0.9, 1.3),
                Material(pick(rng, PAINTS), noise=0.1) if bicycle else None)


def _vehicle(rng, kind, x, z, velocity) -> Vehicle:
  size = {"car": (rng.uniform(1.65, 1.95), rng.uniform(1.4, 1.65), rng.uniform(3.8, 4.9)),
          "truck": (2.5, rng.uniform(3.0, 3.8), rng.uniform(6.5, 9.0)),
          "bus": (2.55, rng.uniform(3.0, 3.3), rng.uniform(10.0, 12.5))}[kind]
  paint = Material(pick(rng, PAINTS), noise=0.06, scale=2)
  if kind == "bus":
    glass = paint = Material(paint.colour, noise=0.06, pattern="band", period=(1.5, 1.0), accent=(35, 40, 50))
  else:
    glass = Material(pick(rng, [(40, 45, 55), (60, 70, 80), (30, 30, 35)]), noise=0.1, scale=3)
    if kind == "truck":
      glass = Material(pick(rng, GREYS + [(220, 220, 220), (150, 40, 30)]), noise=0.1, scale=2)
  return Vehicle(kind, np.array([x, 0.0, z]), np.asarray(velocity, np.float64), np.array(size), paint, glass)


def make_movers(rng, street: Street, ego_speed: float):
  """Vehicles, cyclists and pedestrians; t = 0 positions relative to the ego start (z = 0)."""
  out = []
  half, lane = street.road_half, street.lane
  kind = lambda: rng.choice(["car", "truck", "bus"], p=[0.8, 0.1, 0.1])
  if street.parking:  # parked cars along both parking lanes
    for sgn in (-1, 1):
      z = rng.uniform(-8, 4)
      while z < 140:
        if rng.random() < 0.55 and not street.in_crossing(z):
          out.append(_vehicle(rng, "car", sgn * (half - street.parking / 2), z, (0, 0, 0)))
        z += rng.uniform(5.5, 8)
  lanes_x = [street.lane * (i + 0.5) for i in range(street.lanes)]
  for _ in range(int(rng.integers(0, 4))):  # same direction: leading or overtaking
    x = rng.choice(lanes_x)
    out.append(_vehicle(rng, kind(), x, rng.uniform(8, 90), (0, 0, max(0.0, ego_speed + rng.uniform(-3, 6)))))
  top = 8.0 if street.lanes == 1 else 13.0
  for _ in range(int(rng.integers(0, 5))):  # oncoming
    out.append(_vehicle(rng, kind(), -rng.choice(lanes_x), rng.uniform(15, 160), (0, 0, -rng.uniform(top / 2, top))))
  if street.cross_z0 < 1e8:
    for _ in range(int(rng.integers(0, 3))):  # crossing the intersection
      sgn = rng.choice([-1, 1])
      zc = street.cross_z0 + (street.cross_z1 - street.cross_z0) * (0.3 if sgn > 0 else 0.7)
      out.append(_vehicle(rng, "car", -sgn * rng.uniform(8, 35), zc, (sgn * rng.uniform(4, 9), 0, 0)))
  for _ in range(int(rng.integers(0, 3))):  # cyclists near the right edge, or oncoming
    sgn = rng.choice([-1, 1], p=[0.3, 0.7])
    x = sgn * (street.lanes * lane - 0.6)
    out.append(_person(rng, (x, 0, rng.uniform(6, 60)), (0, 0, sgn * rng.uniform(3, 6)), bicycle=True))
  for _ in range(int(rng.integers(4, 13))):  # pedestrians on the sidewalks
    sgn = rng.choice([-1, 1])
    x = sgn * (half + rng.uniform(0.4, street.sidewalk - 0.4))
    speed = 0.0 if rng.random() < 0.25 else rng.choice([-1, 1]) * rng.uniform(0.8, 1.7)
    out.append(_person(rng, (x, street.curb, rng.uniform(3, 70)), (0, 0, speed)))
  for _ in range(int(rng.integers(0, 3))):  # crossing the road ahead
    sgn = rng.choice([-1, 1])
    z = street.cross_z0 - 2.5 if street.cross_z0 < 1e8 and rng.random() < 0.6 else rng.uniform(10, 40)
    out.append(_person(rng, (-sgn * rng.uniform(0, half + 1), 0, z), (sgn * rng.uniform(1.0, 1.8), 0, 0)))
  return out

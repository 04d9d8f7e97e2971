"""A projective 3D street scene: world, movers, materials, camera path, and shading.

`render_sequence(rng, height, width, num_frames)` yields ([H, W, 3] uint8 RGB,
[H, W] uint8 trainIds) per frame. Every frame is cast by `tw_keras.scene.raycast` from a camera
that drives along a street, so image motion follows from geometry: near things move fast,
far things slowly, with parallax, occlusion and disocclusion. Textures are fixed in object
space (face coordinates in metres), so the codec sees consistent motion.

The world (metres; X right, Y up, Z along the street; right-hand traffic on X > 0):
  * ground: road (lanes, dashed and solid markings, crosswalks, optional parking lanes and
    an intersection), raised sidewalks with curbs, terrain strips;
  * static things: buildings with window grids, walls, fences, hedges, trees (trunk and
    crown: vegetation), poles, traffic signs, traffic lights;
  * movers: parked, leading, overtaking, oncoming and crossing cars, trucks and buses;
    cyclists (bicycle + rider, pedalling); pedestrians with articulated legs and arms,
    walking along the sidewalks or crossing the road, or standing;
  * sky with clouds, per-sequence sun direction, ambient light, haze and exposure.

Appearance does not give the class away: road, sidewalk, walls, buildings, poles and many
vehicles draw from the same greys; vehicles and clothing take per-instance colours; light,
exposure and tint vary per sequence. Only shape, position and context separate classes.
"""

import dataclasses
from typing import Iterator, List, Optional, Tuple

import numpy as np

from tw_keras import labels
from tw_keras.scene.raycast import Box, Camera, Ellipsoid, Raster, rotation_x, rotation_y

FPS = 17.0  # the canonical stream's rate: one frame = 1/17 s of world time
FOCAL_OVER_WIDTH = 1.104  # Cityscapes: fx 2262 px at 2048 px width
MAX_DEPTH = 260.0
T = labels.TRAIN_ID

# Shared palettes: greys appear in road, sidewalk, wall, building, pole and vehicle alike.
GREYS = [(70, 70, 72), (95, 95, 98), (120, 118, 115), (145, 143, 140), (170, 168, 165), (195, 193, 190)]
FACADES = GREYS + [(180, 160, 130), (150, 110, 85), (200, 190, 170), (130, 95, 80), (210, 205, 195)]
PAINTS = GREYS + [(25, 25, 28), (225, 225, 225), (140, 30, 30), (30, 50, 120), (35, 80, 55),
                  (185, 165, 120), (200, 120, 40), (60, 60, 90)]
CLOTHES = GREYS + [(25, 25, 30), (40, 45, 80), (120, 30, 40), (200, 190, 170), (60, 90, 60),
                   (150, 120, 90), (220, 220, 215), (90, 60, 110)]
SKIN = [(225, 190, 160), (190, 145, 110), (140, 95, 65), (95, 65, 45)]


@dataclasses.dataclass(frozen=True)
class Material:
  """How a surface looks, in its own face coordinates (metres).

  colour: base RGB; noise: relative amplitude of two-octave value noise at `scale`
  cycles per metre; pattern: "none" | "windows" | "slats" | "tiles" | "band";
  period: pattern period (u, v) in metres; accent: the pattern's RGB.
  """
  colour: Tuple[float, float, float]
  noise: float = 0.15
  scale: float = 2.0
  pattern: str = "none"
  period: Tuple[float, float] = (1.0, 1.0)
  accent: Tuple[float, float, float] = (30, 30, 35)


@dataclasses.dataclass
class Item:
  primitive: object  # raycast.Box or raycast.Ellipsoid
  cls: int  # trainId
  material: Material


def _jitter(rng, colour, amount=0.12):
  return tuple(float(np.clip(c * rng.uniform(1 - amount, 1 + amount), 0, 255)) for c in colour)


def _pick(rng, palette):
  return _jitter(rng, palette[int(rng.integers(len(palette)))])


def _box(lo, hi):
  lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
  return Box((lo + hi) / 2, (hi - lo) / 2)


# ---------------------------------------------------------------------------- the street

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


def _make_street(rng) -> Street:
  cross = rng.random() < 0.5
  z0 = rng.uniform(25, 70) if cross else 1e9
  return Street(
      lane=rng.uniform(3.0, 3.7), lanes=int(rng.integers(1, 3)),
      parking=rng.uniform(2.0, 2.5) if rng.random() < 0.6 else 0.0,
      sidewalk=rng.uniform(2.0, 5.0), curb=rng.uniform(0.10, 0.18),
      cross_z0=z0, cross_z1=z0 + rng.uniform(10, 16),
      road=Material(_pick(rng, GREYS[:4]), noise=0.18, scale=rng.uniform(2, 5)),
      walk=Material(_pick(rng, GREYS + [(160, 110, 95), (185, 170, 140)]), noise=0.12, scale=2.0,
                    pattern="tiles", period=(rng.uniform(0.3, 1.0),) * 2, accent=(60, 60, 60)),
      grass=Material(_pick(rng, [(70, 100, 45), (110, 120, 60), (120, 110, 90), (95, 95, 85)]), noise=0.35,
                     scale=rng.uniform(2, 6)),
      marking=_jitter(rng, (225, 225, 215), 0.05))


def _cast_ground(raster: Raster, street: Street, base_id: int):
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


# ---------------------------------------------------------------------------- static things

def _static_items(rng, street: Street) -> List[Item]:
  items = []
  half, side_w = street.road_half, street.sidewalk
  for sgn in (-1, 1):
    strip = rng.uniform(0.5, 4.0) if rng.random() < 0.5 else 0.0
    front = half + side_w + strip  # building line
    z = -30.0
    while z < MAX_DEPTH + 30:
      length = rng.uniform(8, 30)
      if street.in_crossing(z) or street.in_crossing(z + length) or (z < street.cross_z0 < z + length):
        z = max(z + length, street.cross_z1 + 1)
        continue
      if rng.random() < 0.2:  # a gap: wall, fence or hedge, open ground behind
        gap = rng.uniform(4, 14)
        kind = rng.choice(["wall", "fence", "hedge"])
        height = {"wall": rng.uniform(1.0, 3.0), "fence": rng.uniform(1.0, 2.0), "hedge": rng.uniform(0.8, 1.8)}[kind]
        x0 = front if sgn > 0 else -front - 0.25
        box = _box((x0, street.curb, z), (x0 + 0.25, street.curb + height, z + gap))
        if kind == "wall":
          items.append(Item(box, T["wall"], Material(_pick(rng, FACADES), noise=0.15, scale=3.0)))
        elif kind == "fence":
          items.append(Item(box, T["fence"], Material(_pick(rng, GREYS + [(120, 90, 60)]), noise=0.1,
                                                      pattern="slats", period=(rng.uniform(0.1, 0.3), 1),
                                                      accent=_pick(rng, [(40, 40, 40), (90, 110, 60)]))))
        else:
          items.append(Item(box, T["vegetation"], Material(_pick(rng, [(50, 85, 35), (70, 95, 45)]), noise=0.5,
                                                           scale=rng.uniform(3, 6))))
        z += gap
        continue
      height = rng.uniform(5, 25)
      depth = rng.uniform(8, 20)
      x0 = front if sgn > 0 else -front - depth
      mat = Material(_pick(rng, FACADES), noise=0.12, scale=rng.uniform(1, 3), pattern="windows",
                     period=(rng.uniform(2.0, 3.5), rng.uniform(2.8, 3.5)),
                     accent=_pick(rng, [(40, 45, 55), (70, 80, 95), (25, 25, 30), (110, 115, 120)]))
      items.append(Item(_box((x0, street.curb, z), (x0 + depth, street.curb + height, z + length)), T["building"], mat))
      z += length + (rng.uniform(0.5, 3) if rng.random() < 0.3 else 0.0)
    # Trees along the sidewalk or terrain strip.
    z = rng.uniform(-10, 10)
    while z < MAX_DEPTH:
      if rng.random() < 0.5 and not street.in_crossing(z):
        x = sgn * (half + side_w + strip / 2 if strip > 1.5 else half + side_w * rng.uniform(0.6, 0.9))
        trunk_h = rng.uniform(2.0, 4.0)
        green = _pick(rng, [(50, 85, 35), (70, 95, 45), (85, 100, 50), (60, 70, 40)])
        items.append(Item(_box((x - 0.15, street.curb, z - 0.15), (x + 0.15, street.curb + trunk_h, z + 0.15)),
                          T["vegetation"], Material(_pick(rng, [(80, 65, 50), (100, 90, 80)]), noise=0.3, scale=6)))
        r = rng.uniform(1.3, 3.0)
        items.append(Item(Ellipsoid(np.array([x, street.curb + trunk_h + r * 0.7, z]), np.array([r, r * 0.9, r])),
                          T["vegetation"], Material(green, noise=0.55, scale=rng.uniform(2.5, 5))))
      z += rng.uniform(8, 22)
    # Poles (some with signs) along the curb; traffic lights at the intersection.
    z = rng.uniform(-5, 15)
    while z < MAX_DEPTH:
      x = sgn * (half + 0.5)
      if not street.in_crossing(z):
        ph = rng.uniform(3.5, 8.0)
        grey = _pick(rng, GREYS + [(40, 60, 45), (30, 30, 30)])
        items.append(Item(_box((x - 0.08, street.curb, z - 0.08), (x + 0.08, street.curb + ph, z + 0.08)),
                          T["pole"], Material(grey, noise=0.08, scale=4)))
        if rng.random() < 0.45:
          s, y = rng.uniform(0.25, 0.45), street.curb + rng.uniform(2.0, min(3.0, ph - 0.3))
          colour = _pick(rng, [(190, 30, 30), (30, 70, 160), (230, 200, 40), (220, 220, 220), (30, 120, 60)])
          items.append(Item(_box((x - s, y - s, z - 0.12), (x + s, y + s, z - 0.08)), T["traffic sign"],
                            Material(colour, noise=0.05, pattern="band", period=(2 * s, 2 * s), accent=(235, 235, 235))))
      z += rng.uniform(12, 35)
    if street.cross_z0 < 1e8:
      for z in (street.cross_z0 - 1.0, street.cross_z1 + 1.0):
        x = sgn * (half + 0.6)
        items.append(Item(_box((x - 0.1, street.curb, z - 0.1), (x + 0.1, street.curb + 3.2, z + 0.1)), T["pole"],
                          Material(_pick(rng, GREYS[:3]), noise=0.08)))
        y = street.curb + 3.2
        items.append(Item(_box((x - 0.17, y, z - 0.25), (x + 0.17, y + 0.9, z - 0.1)), T["traffic light"],
                          Material((35, 35, 35), noise=0.05, pattern="lamps", period=(0.34, 0.3),
                                   accent=_pick(rng, [(220, 40, 30), (40, 200, 80), (230, 170, 30)]))))
  return items


# ---------------------------------------------------------------------------- movers

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
        return _box((c[0] + z0, y0, c[2] - half_w + dx), (c[0] + z1, y1, c[2] + half_w + dx))
      return _box((c[0] - half_w + dx, y0, c[2] + z0), (c[0] + half_w + dx, y1, c[2] + z1))

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
                Material(_pick(rng, CLOTHES), noise=0.2, scale=6), Material(_pick(rng, CLOTHES), noise=0.2, scale=6),
                Material(_pick(rng, SKIN), noise=0.1, scale=8), rng.uniform(0, 2 * np.pi),
                rng.uniform(0.8, 1.0) if not bicycle else rng.uniform(0.9, 1.3),
                Material(_pick(rng, PAINTS), noise=0.1) if bicycle else None)


def _vehicle(rng, kind, x, z, velocity) -> Vehicle:
  size = {"car": (rng.uniform(1.65, 1.95), rng.uniform(1.4, 1.65), rng.uniform(3.8, 4.9)),
          "truck": (2.5, rng.uniform(3.0, 3.8), rng.uniform(6.5, 9.0)),
          "bus": (2.55, rng.uniform(3.0, 3.3), rng.uniform(10.0, 12.5))}[kind]
  paint = Material(_pick(rng, PAINTS), noise=0.06, scale=2)
  if kind == "bus":
    glass = paint = Material(paint.colour, noise=0.06, pattern="band", period=(1.5, 1.0), accent=(35, 40, 50))
  else:
    glass = Material(_pick(rng, [(40, 45, 55), (60, 70, 80), (30, 30, 35)]), noise=0.1, scale=3)
    if kind == "truck":
      glass = Material(_pick(rng, GREYS + [(220, 220, 220), (150, 40, 30)]), noise=0.1, scale=2)
  return Vehicle(kind, np.array([x, 0.0, z]), np.asarray(velocity, np.float64), np.array(size), paint, glass)


def _movers(rng, street: Street, ego_speed: float):
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


# ---------------------------------------------------------------------------- camera path

@dataclasses.dataclass
class CameraPath:
  """Ego motion: speed (m/s), lane change, yaw wobble and drift, pitch bumps; at 17 fps."""
  height: float
  speed: float
  x0: float
  lane_shift: float
  shift_start: float
  shift_frames: float
  yaw_rate: float  # rad / s
  wobble: float  # rad
  wobble_hz: float
  pitch0: float
  bump: float
  bump_hz: float
  phase: float

  def camera(self, t: float, width: int, height: int) -> Camera:
    s = np.clip((t - self.shift_start) / self.shift_frames, 0, 1)
    x = self.x0 + self.lane_shift * (3 * s * s - 2 * s ** 3)
    dxdt = self.lane_shift * (6 * s - 6 * s * s) / self.shift_frames if 0 < s < 1 else 0.0
    z = self.speed * t / FPS
    sec = t / FPS
    yaw = (np.arctan2(dxdt * FPS, max(self.speed, 0.5)) + self.yaw_rate * sec
           + self.wobble * np.sin(2 * np.pi * self.wobble_hz * sec + self.phase))
    pitch = self.pitch0 + self.bump * np.sin(2 * np.pi * self.bump_hz * sec + 2 * self.phase)
    return Camera(width, height, FOCAL_OVER_WIDTH * width, np.array([x, self.height, z]), yaw, pitch)


def _camera_path(rng, street: Street) -> CameraPath:
  lane_i = int(rng.integers(street.lanes))
  # Narrow streets are driven slower: one lane per direction 3-8 m/s, two lanes 5-12 m/s.
  top = 8.0 if street.lanes == 1 else 12.0
  speed = rng.uniform(0.0, 2.0) if rng.random() < 0.15 else rng.uniform(top / 2.4, top)
  shift = 0.0
  if rng.random() < 0.4 and speed > 3 and street.lanes > 1:  # into the other lane of our direction
    shift = street.lane * (1 if lane_i == 0 else -1)
  return CameraPath(height=rng.uniform(1.2, 1.5), speed=speed, x0=street.lane * (lane_i + 0.5),
                    lane_shift=shift, shift_start=rng.uniform(-20, 15), shift_frames=rng.uniform(50, 85),
                    yaw_rate=np.radians(rng.uniform(-1.5, 1.5)), wobble=np.radians(rng.uniform(0, 0.3)),
                    wobble_hz=rng.uniform(0.2, 0.6), pitch0=np.radians(rng.uniform(-1.0, 2.0)),
                    bump=np.radians(rng.uniform(0, 0.15)), bump_hz=rng.uniform(0.8, 2.0),
                    phase=rng.uniform(0, 2 * np.pi))


# ---------------------------------------------------------------------------- shading

class _Noise:
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


def _hood(rng) -> Hood:
  return Hood(rng.uniform(0.1, 0.2), rng.uniform(0.3, 0.7), _pick(rng, PAINTS))


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


def _lighting(rng) -> Lighting:
  elev, azim = np.radians(rng.uniform(15, 65)), rng.uniform(0, 2 * np.pi)
  overcast = rng.random() < 0.35
  top = np.array(_jitter(rng, (110, 150, 210) if not overcast else (170, 172, 178), 0.1))
  return Lighting(np.array([np.cos(elev) * np.sin(azim), np.sin(elev), np.cos(elev) * np.cos(azim)]),
                  ambient=rng.uniform(0.55, 0.75) if overcast else rng.uniform(0.4, 0.6),
                  diffuse=rng.uniform(0.1, 0.25) if overcast else rng.uniform(0.35, 0.6),
                  exposure=rng.uniform(0.8, 1.2) * rng.uniform(0.93, 1.07, 3),
                  haze=rng.uniform(150, 600), sky_top=top,
                  sky_horizon=np.array(_jitter(rng, (200, 205, 210), 0.08)), clouds=rng.uniform(0.0, 0.5))


def _shade_sky(lighting, noise, dirs, mask):
  d = dirs[mask]
  n = d / np.linalg.norm(d, axis=1, keepdims=True)
  elev = np.clip(n[:, 1], 0, 1)[:, None]
  col = lighting.sky_horizon * (1 - elev) ** 2 + lighting.sky_top * (1 - (1 - elev) ** 2)
  az = np.arctan2(n[:, 0], n[:, 2])
  c = noise(az * 8.0, elev[:, 0] * 12.0, 1.0, np.full(len(n), 1e-3), offset=3.1)
  cloud = np.clip(c * lighting.clouds, 0, 1)[:, None]
  return col * (1 - cloud) + np.array([235.0, 235, 238]) * cloud


def _shade(material: Material, lighting: Lighting, noise: _Noise, u, v, normal, depth, focal, key):
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


def _shade_ground(street: Street, lighting, noise, raster, ids_sel, which, u, v, normal, depth, focal):
  """Ground pixels: road (markings), sidewalk/curb (tiles), terrain."""
  mat = (street.road, street.walk, street.grass)[which]
  col = _shade(mat, lighting, noise, u, v, normal, depth, focal, 11.0 * (which + 1))
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


def render_frame(camera: Camera, street: Street, items: List[Item], lighting: Lighting, noise: _Noise,
                 hood: Optional[Hood] = None):
  """One frame -> ([H, W, 3] uint8 RGB, [H, W] uint8 trainIds; 255 = ego vehicle)."""
  raster = Raster(camera)
  _cast_ground(raster, street, 0)
  ground_ids = 3
  z_cam = camera.position[2]
  centres = np.array([item.primitive.center for item in items]).reshape(-1, 3)
  dist = np.linalg.norm(centres - camera.position, axis=1)
  for i in np.argsort(dist, kind="stable"):  # front to back, so occlusion culling bites
    zc = centres[i, 2]
    if zc < z_cam - 40 or zc > z_cam + MAX_DEPTH + 30:
      continue
    raster.cast(ground_ids + int(i), items[i].primitive, MAX_DEPTH)
  h, w = raster.depth.shape
  image = np.zeros((h, w, 3), np.float32)
  label = np.full((h, w), T["sky"], np.uint8)
  sky = raster.ids < 0
  image[sky] = _shade_sky(lighting, noise, raster.dirs, sky)
  ids = raster.ids
  flat_ids = ids.ravel()
  order = np.argsort(flat_ids, kind="stable")
  sorted_ids = flat_ids[order]
  present, starts = np.unique(sorted_ids, return_index=True)
  ends = np.append(starts[1:], len(sorted_ids))
  u, v, depth = raster.u.ravel(), raster.v.ravel(), raster.depth.ravel()
  normal = raster.normal.reshape(-1, 3)
  flat_img, flat_lab = image.reshape(-1, 3), label.ravel()
  ground_cls = (T["road"], T["sidewalk"], T["terrain"])
  for pid, s, e in zip(present, starts, ends):
    if pid < 0:
      continue
    idx = order[s:e]
    if pid < ground_ids:
      flat_img[idx] = _shade_ground(street, lighting, noise, raster, None, pid, u[idx], v[idx], normal[idx],
                                    depth[idx], camera.focal)
      flat_lab[idx] = ground_cls[pid]
    else:
      item = items[pid - ground_ids]
      flat_img[idx] = _shade(item.material, lighting, noise, u[idx], v[idx], normal[idx], depth[idx],
                             camera.focal, float(pid % 97) * 0.61)
      flat_lab[idx] = item.cls
  if hood is not None:
    m = hood.mask(h, w)
    yy, xx = np.nonzero(m)
    shade = 0.55 + 0.35 * (yy - yy.min(initial=0)) / max(1, h * hood.height)  # a smooth reflection
    image[m] = np.asarray(hood.colour, np.float32) * shade[:, None].astype(np.float32) * lighting.ambient * 1.4
    label[m] = labels.IGNORE_LABEL
  image = np.clip(image * lighting.exposure.astype(np.float32), 0, 255)
  return (image + 0.5).astype(np.uint8), label


@dataclasses.dataclass
class Scene:
  """Everything of one sequence that does not change with time (movers know their paths)."""
  street: Street
  static: List[Item]
  movers: list
  path: CameraPath
  lighting: Lighting
  noise: _Noise
  hood: Optional[Hood]

  def items(self, t: float) -> List[Item]:
    out = list(self.static)
    for m in self.movers:
      out += m.items(t)
    return out

  def camera(self, t: float, width: int, height: int) -> Camera:
    return self.path.camera(t, width, height)

  def render(self, t: float, width: int, height: int):
    return render_frame(self.camera(t, width, height), self.street, self.items(t), self.lighting, self.noise,
                        self.hood)


def make_scene(rng: np.random.Generator) -> Scene:
  """A random street scene; deterministic given the generator's state."""
  street = _make_street(rng)
  path = _camera_path(rng, street)
  return Scene(street, _static_items(rng, street), _movers(rng, street, path.speed), path, _lighting(rng),
               _Noise(rng), _hood(rng))


def render_sequence(rng: np.random.Generator, height: int, width: int, num_frames: int
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """Yields `num_frames` ([H, W, 3] uint8 RGB, [H, W] uint8 trainIds) of one new scene."""
  scene = make_scene(rng)
  for t in range(num_frames):
    yield scene.render(float(t), width, height)

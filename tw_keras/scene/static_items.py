"""Static things along the street: buildings with window grids, walls, fences, hedges, trees,
poles, traffic signs and traffic lights."""

from typing import List

import numpy as np

from tw_keras.scene.raycast import Ellipsoid
from tw_keras.scene.world import FACADES, GREYS, MAX_DEPTH, T, Item, Material, make_box, pick
from tw_keras.scene.street import Street


def static_items(rng, street: Street) -> List[Item]:
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
        box = make_box((x0, street.curb, z), (x0 + 0.25, street.curb + height, z + gap))
        if kind == "wall":
          items.append(Item(box, T["wall"], Material(pick(rng, FACADES), noise=0.15, scale=3.0)))
        elif kind == "fence":
          items.append(Item(box, T["fence"], Material(pick(rng, GREYS + [(120, 90, 60)]), noise=0.1,
                                                      pattern="slats", period=(rng.uniform(0.1, 0.3), 1),
                                                      accent=pick(rng, [(40, 40, 40), (90, 110, 60)]))))
        else:
          items.append(Item(box, T["vegetation"], Material(pick(rng, [(50, 85, 35), (70, 95, 45)]), noise=0.5,
                                                           scale=rng.uniform(3, 6))))
        z += gap
        continue
      height = rng.uniform(5, 25)
      depth = rng.uniform(8, 20)
      x0 = front if sgn > 0 else -front - depth
      mat = Material(pick(rng, FACADES), noise=0.12, scale=rng.uniform(1, 3), pattern="windows",
                     period=(rng.uniform(2.0, 3.5), rng.uniform(2.8, 3.5)),
                     accent=pick(rng, [(40, 45, 55), (70, 80, 95), (25, 25, 30), (110, 115, 120)]))
      items.append(Item(make_box((x0, street.curb, z), (x0 + depth, street.curb + height, z + length)), T["building"], mat))
      z += length + (rng.uniform(0.5, 3) if rng.random() < 0.3 else 0.0)
    # Trees along the sidewalk or terrain strip.
    z = rng.uniform(-10, 10)
    while z < MAX_DEPTH:
      if rng.random() < 0.5 and not street.in_crossing(z):
        x = sgn * (half + side_w + strip / 2 if strip > 1.5 else half + side_w * rng.uniform(0.6, 0.9))
        trunk_h = rng.uniform(2.0, 4.0)
        green = pick(rng, [(50, 85, 35), (70, 95, 45), (85, 100, 50), (60, 70, 40)])
        items.append(Item(make_box((x - 0.15, street.curb, z - 0.15), (x + 0.15, street.curb + trunk_h, z + 0.15)),
                          T["vegetation"], Material(pick(rng, [(80, 65, 50), (100, 90, 80)]), noise=0.3, scale=6)))
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
        grey = pick(rng, GREYS + [(40, 60, 45), (30, 30, 30)])
        items.append(Item(make_box((x - 0.08, street.curb, z - 0.08), (x + 0.08, street.curb + ph, z + 0.08)),
                          T["pole"], Material(grey, noise=0.08, scale=4)))
        if rng.random() < 0.45:
          s, y = rng.uniform(0.25, 0.45), street.curb + rng.uniform(2.0, min(3.0, ph - 0.3))
          colour = pick(rng, [(190, 30, 30), (30, 70, 160), (230, 200, 40), (220, 220, 220), (30, 120, 60)])
          items.append(Item(make_box((x - s, y - s, z - 0.12), (x + s, y + s, z - 0.08)), T["traffic sign"],
                            Material(colour, noise=0.05, pattern="band", period=(2 * s, 2 * s), accent=(235, 235, 235))))
      z += rng.uniform(12, 35)
    if street.cross_z0 < 1e8:
      for z in (street.cross_z0 - 1.0, street.cross_z1 + 1.0):
        x = sgn * (half + 0.6)
        items.append(Item(make_box((x - 0.1, street.curb, z - 0.1), (x + 0.1, street.curb + 3.2, z + 0.1)), T["pole"],
                          Material(pick(rng, GREYS[:3]), noise=0.08)))
        y = street.curb + 3.2
        items.append(Item(make_box((x - 0.17, y, z - 0.25), (x + 0.17, y + 0.9, z - 0.1)), T["traffic light"],
                          Material((35, 35, 35), noise=0.05, pattern="lamps", period=(0.34, 0.3),
                                   accent=pick(rng, [(220, 40, 30), (40, 200, 80), (230, 170, 30)]))))
  return items

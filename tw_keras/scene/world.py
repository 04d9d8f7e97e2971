"""The street world's units and parts: frame rate, focal length and depth range, the shared
palettes (greys that several classes share, so appearance does not give the class away), materials,
and the labelled primitives (`Item`) the ray-caster draws."""

import dataclasses
from typing import Tuple

import numpy as np

from tw_keras import dataset_info
from tw_keras.scene.raycast import Box


FPS = 17.0  # the canonical stream's rate: one frame = 1/17 s of world time
FOCAL_OVER_WIDTH = 1.104  # Cityscapes: fx 2262 px at 2048 px width
MAX_DEPTH = 260.0
T = dataset_info.SYNTHETIC.train_id  # the benchmark's classes: Cityscapes' 19

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


def jitter(rng, colour, amount=0.12):
  return tuple(float(np.clip(c * rng.uniform(1 - amount, 1 + amount), 0, 255)) for c in colour)


def pick(rng, palette):
  return jitter(rng, palette[int(rng.integers(len(palette)))])


def make_box(lo, hi):
  lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
  return Box((lo + hi) / 2, (hi - lo) / 2)

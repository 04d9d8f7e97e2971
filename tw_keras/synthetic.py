"""A synthetic, labelled street-scene video benchmark in Cityscapes layout.

The project's built-in default data. It is rendered, never downloaded, and is
deterministic given (seed, split, sequence). Each snippet has 30 frames and labels for
every frame, so every key-frame distance can be scored.

Layout (the same as Cityscapes, so the same preparation path serves both)::

  ROOT/leftImg8bit_sequence/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png
  ROOT/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelTrainIds.png
  ROOT/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelIds.png

Content, chosen so that the compressed domain is exercised the way real driving video
exercises it:
  * classes covering all seven Cityscapes categories: road, sidewalk (flat); building,
    fence (construction); pole, traffic sign (object); vegetation, terrain (nature); sky;
    person (human); car, bus (vehicle);
  * every surface is textured (multi-octave noise, windows, lane marks) so the encoder
    finds real motion;
  * camera ego-motion: a forward zoom about the vanishing point plus a pan;
  * rigid vehicles that move on the road, enter the frame and occlude each other;
  * non-rigid, articulated people (swinging arms and legs, bobbing) whose silhouette
    changes every frame, walking on the sidewalks and across the road.
"""

import dataclasses
import os
from typing import Iterator, List, Tuple

import cv2
import numpy as np

from tw_keras import labels

FRAMES_PER_SNIPPET = 30
CITIES = {"train": ("aachen", "bochum", "bremen"),
          "val": ("frankfurt", "lindau", "munster"),
          "test": ("berlin", "bielefeld")}
SPLIT_SEED = {"train": 0, "val": 1, "test": 2}
T = labels.TRAIN_ID

# Base colour of each class's texture (RGB).
_COLOURS = {
    "road": (90, 88, 92), "sidewalk": (160, 150, 150), "building": (120, 100, 90),
    "fence": (150, 130, 100), "pole": (110, 110, 115), "traffic sign": (210, 200, 40),
    "vegetation": (60, 110, 40), "terrain": (130, 160, 80), "sky": (140, 180, 225),
    "person": (170, 60, 70), "car": (40, 60, 140), "bus": (200, 150, 40),
}


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  """Size and content of the benchmark.

  Attributes:
    height, width: frame size (default 256x512, Cityscapes' aspect ratio).
    num_frames: frames per snippet (Cityscapes: 30).
    sequences: snippets per split, e.g. {"train": 24, "val": 8}.
    seed: global seed; the same seed renders the same pixels.
  """
  height: int = 256
  width: int = 512
  num_frames: int = FRAMES_PER_SNIPPET
  sequences: Tuple[Tuple[str, int], ...] = (("train", 24), ("val", 8))
  seed: int = 0


def _noise(rng, h, w, octaves=4, base=8):
  """[h, w] float32 multi-octave value noise in [0, 1]."""
  out = np.zeros((h, w), np.float32)
  amp, total = 1.0, 0.0
  for o in range(octaves):
    cells = base * 2 ** o
    small = rng.random((max(2, h // cells + 2), max(2, w // cells + 2))).astype(np.float32)
    out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    total += amp
    amp *= 0.5
  return np.clip(out / total, 0, 1)


def _texture(rng, h, w, colour, contrast=60.0, base=8):
  """[h, w, 3] uint8 texture around `colour`."""
  n = _noise(rng, h, w, base=base)[..., None] - 0.5
  fine = rng.random((h, w, 1)).astype(np.float32) - 0.5
  tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
  img = np.float32(colour) * tint + contrast * n + 18.0 * fine
  return np.clip(img, 0, 255).astype(np.uint8)


class _Background:
  """Static world canvas (texture + trainIds), seen through a zooming, panning camera."""

  def __init__(self, rng, h, w):
    self.h, self.w = h, w
    ch, cw = int(h * 1.3), int(w * 1.6)  # margins for panning and zooming out
    self.ox, self.oy = (cw - w) / 2, (ch - h) / 2
    horizon = int(self.oy + h * rng.uniform(0.38, 0.46))
    vx = int(self.ox + w * rng.uniform(0.4, 0.6))
    self.vanish = (vx - self.ox, horizon - self.oy)
    lab = np.full((ch, cw), T["sky"], np.uint8)
    # Buildings: a skyline of blocks with windows.
    x = 0
    while x < cw:
      bw = int(rng.uniform(0.08, 0.2) * w)
      top = int(horizon - rng.uniform(0.12, 0.4) * h)
      lab[max(top, 0):horizon + 2, x:x + bw] = T["building"]
      x += bw + int(rng.uniform(0, 0.03) * w)
    # Trees (vegetation blobs) and terrain strips near the horizon.
    for _ in range(int(rng.integers(4, 9))):
      cx, cy = int(rng.uniform(0, cw)), int(horizon - rng.uniform(0.0, 0.12) * h)
      cv2.ellipse(lab, (cx, cy), (int(rng.uniform(0.03, 0.08) * w), int(rng.uniform(0.05, 0.12) * h)),
                  0, 0, 360, int(T["vegetation"]), -1)
    lab[horizon:, :] = T["terrain"]
    # Road and sidewalks: trapezoids from the vanishing point to the bottom edge.
    bottom = ch - 1
    spread = lambda f: int(vx + f * cw)
    road = np.array([[vx - 3, horizon], [vx + 3, horizon], [spread(0.33), bottom], [spread(-0.33), bottom]])
    side_l = np.array([[vx - 4, horizon], [vx - 3, horizon], [spread(-0.33), bottom], [spread(-0.55), bottom]])
    side_r = np.array([[vx + 3, horizon], [vx + 4, horizon], [spread(0.55), bottom], [spread(0.33), bottom]])
    cv2.fillPoly(lab, [side_l, side_r], int(T["sidewalk"]))
    cv2.fillPoly(lab, [road], int(T["road"]))
    # Fences along the far sidewalk edges.
    for sgn in (-1, 1):
      pts = np.array([[vx + sgn * 5, horizon - 2], [spread(sgn * 0.6), bottom - int(0.25 * h)],
                      [spread(sgn * 0.6), bottom - int(0.18 * h)], [vx + sgn * 5, horizon]])
      if rng.random() < 0.6:
        cv2.fillPoly(lab, [pts], int(T["fence"]))
    # Poles with traffic signs, standing on the sidewalks.
    for _ in range(int(rng.integers(2, 5))):
      f = rng.uniform(0.1, 0.9)
      sgn = rng.choice([-1, 1])
      px = int(vx + sgn * f * 0.45 * cw)
      base_y = int(horizon + f * (bottom - horizon))
      ph = int((0.1 + 0.45 * f) * h)
      pw = max(2, int(0.008 * w * (0.5 + f)))
      lab[base_y - ph:base_y, px - pw // 2:px + pw // 2 + 1] = T["pole"]
      s = max(4, int(0.03 * w * (0.5 + f)))
      lab[base_y - ph - s:base_y - ph + s // 2, px - s // 2:px + s // 2] = T["traffic sign"]
    self.label = lab
    img = np.zeros((ch, cw, 3), np.uint8)
    for name in ("sky", "building", "vegetation", "terrain", "road", "sidewalk", "fence", "pole",
                 "traffic sign"):
      m = lab == T[name]
      if m.any():
        img[m] = _texture(rng, ch, cw, _COLOURS[name], base=4 if name == "sky" else 8)[m]
    # Windows on buildings and dashed lane marks on the road: strong, trackable edges.
    win = ((np.arange(ch)[:, None] // 6 % 3 == 0) & (np.arange(cw)[None, :] // 5 % 3 == 0))
    img[(lab == T["building"]) & win] = (img[(lab == T["building"]) & win] * 0.45).astype(np.uint8)
    yy = np.arange(ch)[:, None]
    lane = (np.abs(np.arange(cw)[None, :] - vx) < 1 + (yy - horizon) * 0.012) & ((yy // 9) % 2 == 0)
    img[(lab == T["road"]) & lane] = 235
    self.image = img

  def render(self, t, zoom, pan):
    """Camera at frame t: zoom about the vanishing point, then pan. -> (rgb, trainIds)."""
    s = 1.0 + zoom * t
    vx, vy = self.vanish
    # Screen p = s * (canvas - origin - vanish) + vanish - pan  =>  inverse map for warpAffine.
    m = np.float32([[s, 0, vx - pan * t - s * (self.ox + vx)],
                    [0, s, vy - s * (self.oy + vy)]])
    img = cv2.warpAffine(self.image, m, (self.w, self.h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    lab = cv2.warpAffine(self.label, m, (self.w, self.h), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_REFLECT)
    return img, lab


class _Actor:
  """A moving object with its own texture: a rigid vehicle or an articulated person."""

  def __init__(self, rng, kind, h, w, start, velocity, scale):
    self.kind, self.h, self.w = kind, h, w
    self.x, self.y = start
    self.vx, self.vy = velocity
    self.scale = scale
    self.phase = rng.uniform(0, 2 * np.pi)
    self.cls = T[kind]
    size = int(max(h, w) * 0.6)
    self.texture = _texture(rng, size, size, _COLOURS[kind], contrast=80, base=4)
    if kind in ("car", "bus"):
      # Darker wheels and a lighter cabin: internal edges that move rigidly.
      self.stripes = rng.uniform(0.6, 0.9)

  def depth(self, t):
    return self.y + self.vy * t  # larger y = nearer = drawn later

  def mask(self, t):
    """[h, w] uint8 silhouette at frame t."""
    m = np.zeros((self.h, self.w), np.uint8)
    x, y = self.x + self.vx * t, self.y + self.vy * t
    s = self.scale * (0.6 + 0.8 * y / self.h)  # nearer is bigger
    if self.kind in ("car", "bus"):
      L, H = (60 * s, 22 * s) if self.kind == "car" else (110 * s, 40 * s)
      body = np.array([[x - L / 2, y - H], [x + L / 2, y - H], [x + L / 2, y], [x - L / 2, y]])
      cabin = np.array([[x - L * 0.3, y - H], [x + L * 0.2, y - H], [x + L * 0.1, y - H * 1.6],
                        [x - L * 0.2, y - H * 1.6]]) if self.kind == "car" else body
      cv2.fillPoly(m, [np.int32(body), np.int32(cabin)], 1)
      r = max(2, int(H * 0.35))
      for wx in (x - L * 0.3, x + L * 0.3):
        cv2.circle(m, (int(wx), int(y)), r, 1, -1)
    else:
      # Walking cycle: limbs swing, the body bobs: a new silhouette every frame.
      ph = self.phase + 0.9 * t
      leg = 18 * s
      hip = (x, y - leg)
      neck = (x, y - leg - 20 * s + 1.5 * s * np.sin(2 * ph))
      thick = max(2, int(5 * s))
      for sgn in (1, -1):
        a = 0.5 * np.sin(ph) * sgn
        knee = (hip[0] + np.sin(a) * leg * 0.5, hip[1] + np.cos(a) * leg * 0.5)
        foot = (knee[0] + np.sin(a - 0.3 * abs(a)) * leg * 0.5, knee[1] + leg * 0.5)
        cv2.line(m, np.int32(hip), np.int32(knee), 1, thick)
        cv2.line(m, np.int32(knee), np.int32(foot), 1, thick)
        b = -0.7 * np.sin(ph) * sgn
        hand = (neck[0] + np.sin(b) * 16 * s, neck[1] + np.cos(b) * 16 * s)
        cv2.line(m, np.int32(neck), np.int32(hand), 1, max(2, thick - 1))
      cv2.line(m, np.int32(hip), np.int32(neck), 1, int(thick * 1.8))
      cv2.circle(m, (int(neck[0]), int(neck[1] - 5 * s)), max(2, int(4.5 * s)), 1, -1)
    return m

  def paint(self, t, img, lab):
    m = self.mask(t).astype(bool)
    if not m.any():
      return
    ys, xs = np.nonzero(m)
    # Texture in object coordinates, so it moves with the object.
    ox, oy = int(round(self.x + self.vx * t)), int(round(self.y + self.vy * t))
    ty = (ys - oy) % self.texture.shape[0]
    tx = (xs - ox) % self.texture.shape[1]
    img[ys, xs] = self.texture[ty, tx]
    lab[ys, xs] = self.cls


def _spawn_actors(rng, bg, h, w, n_frames):
  actors = []
  vx, vy = bg.vanish
  for _ in range(int(rng.integers(3, 7))):  # vehicles on the road, some entering the frame
    kind = "bus" if rng.random() < 0.2 else "car"
    y = rng.uniform(vy + 0.15 * h, h * 0.98)
    enter = rng.random() < 0.5
    x = rng.choice([-0.15 * w, 1.15 * w]) if enter else rng.uniform(0.1 * w, 0.9 * w)
    speed = rng.uniform(1.5, 6.0) * w / 512
    direction = np.sign(0.5 * w - x) if enter else rng.choice([-1, 1])
    actors.append(_Actor(rng, kind, h, w, (x, y), (direction * speed, rng.uniform(-0.3, 0.6)),
                         rng.uniform(0.8, 1.3) * w / 512))
  for _ in range(int(rng.integers(3, 8))):  # pedestrians, on sidewalks or crossing
    y = rng.uniform(vy + 0.1 * h, h * 0.99)
    x = rng.uniform(-0.05 * w, 1.05 * w)
    speed = rng.uniform(0.5, 2.5) * w / 512
    actors.append(_Actor(rng, "person", h, w, (x, y), (rng.choice([-1, 1]) * speed, rng.uniform(-0.2, 0.2)),
                         rng.uniform(0.9, 1.6) * w / 512))
  return actors


def render_snippet(config: SyntheticConfig, split: str, sequence: int
                   ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
  """Yields `num_frames` pairs ([H, W, 3] uint8 RGB, [H, W] uint8 trainIds). Deterministic."""
  rng = np.random.default_rng([config.seed, SPLIT_SEED.get(split, 9), sequence])
  h, w = config.height, config.width
  bg = _Background(rng, h, w)
  zoom = rng.uniform(0.002, 0.008)
  pan = rng.uniform(-1.5, 1.5) * w / 512
  actors = _spawn_actors(rng, bg, h, w, config.num_frames)
  for t in range(config.num_frames):
    img, lab = bg.render(t, zoom, pan)
    for actor in sorted(actors, key=lambda a: a.depth(t)):
      actor.paint(t, img, lab)
    yield img, lab


def snippet_paths(root, split, city, sequence, frame) -> Tuple[str, str, str]:
  """(image, labelTrainIds, labelIds) paths of one frame in Cityscapes layout."""
  stem = f"{city}_{sequence:06d}_{frame:06d}"
  return (os.path.join(root, "leftImg8bit_sequence", split, city, f"{stem}_leftImg8bit.png"),
          os.path.join(root, "gtFine", split, city, f"{stem}_gtFine_labelTrainIds.png"),
          os.path.join(root, "gtFine", split, city, f"{stem}_gtFine_labelIds.png"))


def _write_png(path, array):
  tmp = path + ".tmp.png"
  if not cv2.imwrite(tmp, array, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
    raise OSError(f"{path}: could not write PNG")
  os.replace(tmp, path)


def snippets(config: SyntheticConfig) -> List[Tuple[str, str, int]]:
  """(split, city, sequence) of every snippet; sequences round-robin over the split's cities."""
  out = []
  for split, count in config.sequences:
    cities = CITIES.get(split, (split,))
    out += [(split, cities[i % len(cities)], i) for i in range(count)]
  return out


def write_snippet(config: SyntheticConfig, root: str, split: str, city: str, sequence: int) -> bool:
  """Renders one snippet into `root`; returns False when it was already complete (skipped)."""
  paths = [snippet_paths(root, split, city, sequence, f) for f in range(config.num_frames)]
  if all(os.path.exists(p) for trio in paths for p in trio):
    return False
  for d in {os.path.dirname(p) for p in paths[0]}:
    os.makedirs(d, exist_ok=True)
  for (img_path, train_path, id_path), (img, lab) in zip(paths, render_snippet(config, split, sequence)):
    _write_png(img_path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    _write_png(train_path, lab)
    _write_png(id_path, labels.train_ids_to_label_ids(lab))
  return True

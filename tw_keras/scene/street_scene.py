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

Modules, one concept each: `world` (units, palettes, materials, items), `street` (layout and
ground), `static_items`, `movers`, `camera_path`, `shading`, and this one, which puts them
together: `make_scene`, `render_frame`, `render_sequence`.
"""

import dataclasses
from typing import Iterator, List, Optional, Tuple

import numpy as np

from tw_keras import dataset_info
from tw_keras.scene.raycast import Camera, Raster
from tw_keras.scene.world import MAX_DEPTH, T, Item
from tw_keras.scene.camera_path import CameraPath, make_camera_path
from tw_keras.scene.movers import make_movers
from tw_keras.scene.shading import Hood, Lighting, Noise, make_hood, make_lighting, shade_surface, shade_ground, shade_sky
from tw_keras.scene.static_items import static_items
from tw_keras.scene.street import Street, cast_ground, make_street


GROUND_IDS = 3  # primitive ids 0..2 are the ground (road, sidewalk, terrain); item i is GROUND_IDS + i


def cast_frame(camera: Camera, street: Street, items: List[Item]) -> Raster:
  """The z-buffered hits of one frame: the ground (ids 0..2), then item i as id GROUND_IDS + i."""
  raster = Raster(camera)
  cast_ground(raster, street, 0)
  z_cam = camera.position[2]
  centres = np.array([item.primitive.center for item in items]).reshape(-1, 3)
  dist = np.linalg.norm(centres - camera.position, axis=1)
  for i in np.argsort(dist, kind="stable"):  # front to back, so occlusion culling bites
    zc = centres[i, 2]
    if zc < z_cam - 40 or zc > z_cam + MAX_DEPTH + 30:
      continue
    raster.cast(GROUND_IDS + int(i), items[i].primitive, MAX_DEPTH)
  return raster


def render_frame(camera: Camera, street: Street, items: List[Item], lighting: Lighting, noise: Noise,
                 hood: Optional[Hood] = None, raster: Optional[Raster] = None):
  """One frame -> ([H, W, 3] uint8 RGB, [H, W] uint8 trainIds; 255 = ego vehicle), shading
  `raster` (default: `cast_frame`'s)."""
  raster = raster if raster is not None else cast_frame(camera, street, items)
  ground_ids = GROUND_IDS
  h, w = raster.depth.shape
  image = np.zeros((h, w, 3), np.float32)
  label = np.full((h, w), T["sky"], np.uint8)
  sky = raster.ids < 0
  image[sky] = shade_sky(lighting, noise, raster.dirs, sky)
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
      flat_img[idx] = shade_ground(street, lighting, noise, raster, None, pid, u[idx], v[idx], normal[idx],
                                    depth[idx], camera.focal)
      flat_lab[idx] = ground_cls[pid]
    else:
      item = items[pid - ground_ids]
      flat_img[idx] = shade_surface(item.material, lighting, noise, u[idx], v[idx], normal[idx], depth[idx],
                             camera.focal, float(pid % 97) * 0.61)
      flat_lab[idx] = item.cls
  if hood is not None:
    m = hood.mask(h, w)
    yy, xx = np.nonzero(m)
    shade = 0.55 + 0.35 * (yy - yy.min(initial=0)) / max(1, h * hood.height)  # a smooth reflection
    image[m] = np.asarray(hood.colour, np.float32) * shade[:, None].astype(np.float32) * lighting.ambient * 1.4
    label[m] = dataset_info.IGNORE_LABEL
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
  noise: Noise
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

  def state(self, t: float, width: int, height: int) -> "FrameState":
    """What the exact flow needs of frame t: its camera, items and hits."""
    camera, items = self.camera(t, width, height), self.items(t)
    return FrameState(camera, items, cast_frame(camera, self.street, items))


@dataclasses.dataclass
class FrameState:
  camera: Camera
  items: List[Item]
  raster: Raster


def make_scene(rng: np.random.Generator) -> Scene:
  """A random street scene; deterministic given the generator's state."""
  street = make_street(rng)
  path = make_camera_path(rng, street)
  return Scene(street, static_items(rng, street), make_movers(rng, street, path.speed), path, make_lighting(rng),
               Noise(rng), make_hood(rng))


def render_sequence(rng: np.random.Generator, height: int, width: int, num_frames: int, with_flow: bool = False
                    ) -> Iterator[Tuple[np.ndarray, ...]]:
  """Yields `num_frames` ([H, W, 3] uint8 RGB, [H, W] uint8 trainIds) of one new scene; with
  `with_flow`, also the exact flow from the previous frame and its valid mask
  (`scene.flow.exact_flow`; frame 0: zero flow, nothing valid). The pixels are the same
  either way."""
  from tw_keras.scene import flow as flow_lib  # pylint: disable=g-import-not-at-top
  scene = make_scene(rng)
  previous = None
  for t in range(num_frames):
    if not with_flow:
      yield scene.render(float(t), width, height)
      continue
    state = scene.state(float(t), width, height)
    rgb, label = render_frame(state.camera, scene.street, state.items, scene.lighting, scene.noise, scene.hood,
                              state.raster)
    if previous is None:
      motion, valid = np.zeros((height, width, 2), np.float32), np.zeros((height, width), bool)
    else:
      motion, valid = flow_lib.exact_flow(previous, state)
      valid &= label != dataset_info.IGNORE_LABEL  # the ego vehicle's bonnet
    previous = state
    yield rgb, label, motion, valid

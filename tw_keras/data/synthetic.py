"""A synthetic, labelled street-scene video benchmark in Cityscapes layout.

The project's built-in default data. It is rendered, never downloaded, and is
deterministic given (seed, split, sequence). Each snippet has 30 frames and labels for
every frame, so every key-frame distance can be scored.

Layout (the same as Cityscapes, so the same preparation path serves both)::

  ROOT/leftImg8bit_sequence/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png
  ROOT/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelTrainIds.png
  ROOT/gtFine/{split}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelIds.png
  ROOT/flow/{split}/{city}/{city}_{seq:06d}_{frame:06d}_flow.npz     (with `flow`: the exact flow)
      flow  [H, W, 2] float32  pixels, dst - src: the content displacement previous -> current
      valid [H, W]    bool     visible in both frames (not occluded, disoccluded, sky or bonnet)
      (frame 0: zero flow, nothing valid; `tw_keras.scene.flow` says how it is computed)

Content: a projective 3D street scene (`tw_keras.scene.street_scene`, cast by
`tw_keras.scene.raycast`): a camera drives along a street with buildings, walls, fences, poles,
signs, traffic lights, trees and terrain, among parked, leading, oncoming and crossing
vehicles, cyclists and articulated pedestrians. Image motion follows from geometry, at the
canonical 17 fps; appearance (shared greys, per-instance colours, per-sequence light) does
not give the class away. The bottom rows show the ego vehicle's bonnet, labelled ignore
(255) as in Cityscapes.
"""

import dataclasses
import os
from typing import Iterator, List, Tuple

import cv2
import numpy as np

from tw_keras import dataset_info, fileio
from tw_keras.scene import street_scene

FRAMES_PER_SNIPPET = 30
ROOT_NAME = "synthetic_cityscapes"  # the rendered benchmark's folder beside its records (build's default)


def default_root(data_dir: str) -> str:
  """Where the benchmark rendered for the records in `data_dir` lives (its exact flow too)."""
  return os.path.join(data_dir, ROOT_NAME)
CITIES = {"train": ("aachen", "bochum", "bremen"),
          "val": ("frankfurt", "lindau", "munster"),
          "test": ("berlin", "bielefeld")}
SPLIT_SEED = {"train": 0, "val": 1, "test": 2}


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  """Size and content of the benchmark.

  Attributes:
    height, width: frame size (default 256x512, Cityscapes' aspect ratio).
    num_frames: frames per snippet (Cityscapes: 30).
    sequences: snippets per split, e.g. {"train": 24, "val": 8}.
    seed: global seed; the same seed renders the same pixels.
    flow: also write each frame's exact flow from the previous frame (the same pixels).
  """
  height: int = 256
  width: int = 512
  num_frames: int = FRAMES_PER_SNIPPET
  sequences: Tuple[Tuple[str, int], ...] = (("train", 24), ("val", 8))
  seed: int = 0
  flow: bool = False


def render_snippet(config: SyntheticConfig, split: str, sequence: int) -> Iterator[Tuple[np.ndarray, ...]]:
  """Yields `num_frames` pairs ([H, W, 3] uint8 RGB, [H, W] uint8 trainIds), with
  `config.flow` also ([H, W, 2] float32 exact flow, [H, W] bool valid). Deterministic."""
  rng = np.random.default_rng([config.seed, SPLIT_SEED.get(split, 9), sequence])
  yield from street_scene.render_sequence(rng, config.height, config.width, config.num_frames, config.flow)


def flow_path(root, split, city, sequence, frame) -> str:
  """The exact flow file of one frame (module doc)."""
  return os.path.join(root, "flow", split, city, f"{city}_{sequence:06d}_{frame:06d}_flow.npz")


def read_flow(path) -> Tuple[np.ndarray, np.ndarray]:
  """(flow [H, W, 2] float32, valid [H, W] bool) of a flow file; errors name the file."""
  try:
    with np.load(path) as data:
      return data["flow"].astype(np.float32), data["valid"].astype(bool)
  except (OSError, KeyError, ValueError) as e:
    raise ValueError(f"{path}: not a readable exact-flow file ({e})") from None


def snippet_paths(root, split, city, sequence, frame) -> Tuple[str, str, str]:
  """(image, labelTrainIds, labelIds) paths of one frame in Cityscapes layout."""
  stem = f"{city}_{sequence:06d}_{frame:06d}"
  return (os.path.join(root, "leftImg8bit_sequence", split, city, f"{stem}_leftImg8bit.png"),
          os.path.join(root, "gtFine", split, city, f"{stem}_gtFine_labelTrainIds.png"),
          os.path.join(root, "gtFine", split, city, f"{stem}_gtFine_labelIds.png"))


def write_png(path, array):
  """Writes an image array (BGR or single-channel) as a PNG, atomically."""
  with fileio.atomic_path(path) as tmp:
    if not cv2.imwrite(tmp, array, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
      raise OSError(f"{path}: could not write PNG")


def snippets(config: SyntheticConfig) -> List[Tuple[str, str, int]]:
  """(split, city, sequence) of every snippet; sequences round-robin over the split's cities."""
  out = []
  for split, count in config.sequences:
    cities = CITIES.get(split, (split,))
    out += [(split, cities[i % len(cities)], i) for i in range(count)]
  return out


def write_snippet(config: SyntheticConfig, root: str, split: str, city: str, sequence: int) -> bool:
  """Renders one snippet into `root`; returns False when it was already complete (skipped)."""
  paths = [snippet_paths(root, split, city, sequence, f) + ((flow_path(root, split, city, sequence, f),)
                                                              if config.flow else ())
           for f in range(config.num_frames)]
  if all(os.path.exists(p) for trio in paths for p in trio):
    return False
  for d in {os.path.dirname(p) for p in paths[0]}:
    os.makedirs(d, exist_ok=True)
  for frame_paths, rendered in zip(paths, render_snippet(config, split, sequence)):
    img, lab = rendered[:2]
    write_png(frame_paths[0], cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    write_png(frame_paths[1], lab)
    write_png(frame_paths[2], dataset_info.SYNTHETIC.label_png_ids(lab))
    if config.flow:
      os.makedirs(os.path.dirname(frame_paths[3]), exist_ok=True)
      with fileio.atomic_path(frame_paths[3]) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, flow=rendered[2], valid=rendered[3])
  return True

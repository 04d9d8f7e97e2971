"""The dataset descriptor: a dataset's classes and how its label files encode them.

A `DatasetInfo` names the classes in train-id order (each with a name, an RGB colour, a
category and, where the source format has them, its source id), the label values that mean
*ignore*, and the label encoding of the dataset's files:

* `train_ids`: index PNGs, value = the class's position in `classes`;
* `source_ids`: index PNGs of source ids, mapped to train ids by each class's `source_id`
  (Cityscapes' labelIds);
* `colour`: RGB PNGs, one colour per class (`ignore_colors` mean ignore).

Labels are validated and turned into train ids once, at preparation (`encode_label`). From the
records on, every dataset speaks the same language: train ids `0..K-1` and `IGNORE_LABEL`
(255) for ignore, so the loss, the augmentation and the metrics need no per-dataset rule. The
descriptor travels with the data and the model: `data_prep` writes it as `dataset.json` beside
the records, training copies it into the model directory, and evaluation, segmentation
(overlay palette, label PNGs) and the SavedModel (an asset) read it from there.

Built-in descriptors: `cityscapes` (19 classes), `camvid` (SegNet's 11 classes, 11 = void),
`synthetic` (the built-in benchmark: Cityscapes' classes). A user's own is a JSON file::

  {"name": "mine",
   "classes": [{"name": "road", "color": [128, 64, 128], "category": "flat"}, ...],
   "label_encoding": "train_ids",   # or "source_ids" / "colour"
   "ignore_label": 255,             # one value or a list
   "ignore_colors": [[0, 0, 0]],    # colour encoding only
   "frame_offsets": {"seq01": 0}}   # optional: label frame number -> video frame index
"""

import dataclasses
import json
import os
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from tw_keras.errors import LabelError  # pylint: disable=unused-import

IGNORE_LABEL = 255  # ignore, in train ids: in the records and everywhere downstream
DESCRIPTOR = "dataset.json"  # the descriptor's file name beside the records and in a model directory
ENCODINGS = ("train_ids", "source_ids", "colour")


@dataclasses.dataclass(frozen=True)
class ClassInfo:
  """One class. `category` defaults to the name; `source_id` is the id in the source format."""
  name: str
  color: Tuple[int, int, int]
  category: str = ""
  source_id: Optional[int] = None

  def __post_init__(self):
    object.__setattr__(self, "color", tuple(int(c) for c in self.color))
    object.__setattr__(self, "category", self.category or self.name)


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """A dataset's classes (train-id order) and its label encoding (module docstring).

  Attributes:
    name: the dataset's name.
    classes: the classes; a class's train id is its position.
    label_encoding: one of ENCODINGS.
    ignore_ids: label values that mean ignore (train_ids, source_ids). The first is the value
      written for ignore in label PNGs of this dataset's encoding.
    ignore_colors: colours that mean ignore (colour encoding).
    frame_offsets: (sequence, offset) pairs: a label's frame number plus its sequence's offset
      is the frame's index in the sequence's video (video layouts; default 0).
  """
  name: str
  classes: Tuple[ClassInfo, ...]
  label_encoding: str = "train_ids"
  ignore_ids: Tuple[int, ...] = (IGNORE_LABEL,)
  ignore_colors: Tuple[Tuple[int, int, int], ...] = ()
  frame_offsets: Tuple[Tuple[str, int], ...] = ()

  def __post_init__(self):
    if self.label_encoding not in ENCODINGS:
      raise ValueError(f"label_encoding {self.label_encoding!r}: use one of {', '.join(ENCODINGS)}")
    if not 1 <= len(self.classes) < IGNORE_LABEL:
      raise ValueError(f"{len(self.classes)} classes: a dataset has 1..{IGNORE_LABEL - 1}")
    names = [c.name for c in self.classes]
    if len(set(names)) != len(names):
      raise ValueError(f"class names repeat: {names}")
    if self.label_encoding == "source_ids" and any(c.source_id is None for c in self.classes):
      raise ValueError("label_encoding source_ids needs a source_id for every class")
    colors = [c.color for c in self.classes]
    if self.label_encoding == "colour" and len(set(colors)) != len(colors):
      raise ValueError("label_encoding colour needs a distinct colour per class")
    object.__setattr__(self, "classes", tuple(self.classes))
    object.__setattr__(self, "ignore_ids", tuple(int(v) for v in self.ignore_ids))
    object.__setattr__(self, "ignore_colors", tuple(tuple(int(c) for c in v) for v in self.ignore_colors))
    object.__setattr__(self, "frame_offsets", tuple((str(k), int(v)) for k, v in self.frame_offsets))

  # -- the class table ------------------------------------------------------------------------
  @property
  def num_classes(self) -> int:
    return len(self.classes)

  @property
  def class_names(self) -> Tuple[str, ...]:
    return tuple(c.name for c in self.classes)

  @property
  def train_id(self) -> Dict[str, int]:
    """{class name: train id}."""
    return {c.name: i for i, c in enumerate(self.classes)}

  @property
  def categories(self) -> Tuple[str, ...]:
    """The categories, in order of first appearance."""
    return tuple(dict.fromkeys(c.category for c in self.classes))

  @property
  def category_of_class(self) -> np.ndarray:
    """[K] int32: train id -> category index."""
    return np.array([self.categories.index(c.category) for c in self.classes], np.int32)

  @property
  def palette(self) -> np.ndarray:
    """[K, 3] uint8 RGB."""
    return np.array([c.color for c in self.classes], np.uint8)

  def frame_offset(self, sequence: str) -> int:
    return dict(self.frame_offsets).get(sequence, 0)

  # -- labels in, labels out ------------------------------------------------------------------
  def encode_label(self, label: np.ndarray, path: str, encoding: Optional[str] = None) -> np.ndarray:
    """A label image as read from `path` -> [H, W] uint8 train ids (IGNORE_LABEL = ignore).

    Args:
      label: [H, W] integer values (train_ids, source_ids) or [H, W, 3] uint8 RGB (colour).
      encoding: overrides `label_encoding` (a layout whose file names say it, as Cityscapes').
    Raises:
      LabelError: a value (or colour) that is neither a class nor ignore, named with its pixel
        count; or an image of the wrong kind for the encoding.
    """
    encoding = encoding or self.label_encoding
    label = np.asarray(label)
    if encoding == "colour":
      if label.ndim != 3 or label.shape[2] != 3:
        raise LabelError(path, f"a colour label needs an RGB image, got shape {label.shape}")
      packed = (label[..., 0].astype(np.int32) << 16) | (label[..., 1].astype(np.int32) << 8) | label[..., 2]
      table = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(c.color for c in self.classes)}
      table.update({(r << 16) | (g << 8) | b: IGNORE_LABEL for r, g, b in self.ignore_colors})
      values, inverse = np.unique(packed, return_inverse=True)
      bad = [v for v in values if int(v) not in table]
      if bad:
        counts = {int(v): int(np.sum(packed == v)) for v in bad[:5]}
        listed = ", ".join(f"({v >> 16}, {(v >> 8) & 255}, {v & 255}) x{n}" for v, n in counts.items())
        raise LabelError(path, f"colour(s) not in the class table of {self.name}: {listed} pixels"
                         + (f" (and {len(bad) - 5} more colours)" if len(bad) > 5 else ""))
      return np.array([table[int(v)] for v in values], np.uint8)[inverse.reshape(packed.shape)]
    if label.ndim != 2:
      raise LabelError(path, f"an index label needs a single-channel image, got shape {label.shape}")
    lut = self._lookup(encoding)
    values = label.astype(np.int64)
    in_range = (values >= 0) & (values < lut.size)
    mapped = np.where(in_range, lut[np.clip(values, 0, lut.size - 1)], -1)
    if (mapped < 0).any():
      bad, counts = np.unique(values[mapped < 0], return_counts=True)
      listed = ", ".join(f"{v} x{n}" for v, n in zip(bad[:8], counts[:8]))
      known = (f"train ids 0..{self.num_classes - 1}" if encoding == "train_ids"
               else f"source ids {sorted(c.source_id for c in self.classes)}")
      raise LabelError(path, f"label value(s) not in the class table of {self.name}: {listed} pixels "
                       f"({known}; ignore {list(self.ignore_ids)})")
    return mapped.astype(np.uint8)

  def _lookup(self, encoding: str) -> np.ndarray:
    """[65536] int32: label value -> train id, IGNORE_LABEL, or -1 (not in the table)."""
    lut = np.full(1 << 16, -1, np.int32)
    lut[[v for v in self.ignore_ids if 0 <= v < lut.size]] = IGNORE_LABEL
    for i, c in enumerate(self.classes):
      lut[i if encoding == "train_ids" else c.source_id] = i
    return lut

  def label_png_ids(self, train_ids: np.ndarray) -> np.ndarray:
    """[H, W] train ids -> [H, W] uint8 values of the label PNGs tw_keras writes.

    Source ids for a `source_ids` dataset (Cityscapes' official labelIds), train ids
    otherwise; ignore is written as the dataset's first ignore value.
    """
    table = np.full(256, self.ignore_ids[0] if self.ignore_ids[0] < 256 else IGNORE_LABEL, np.uint8)
    for i, c in enumerate(self.classes):
      table[i] = c.source_id if self.label_encoding == "source_ids" else i
    return table[np.asarray(train_ids, np.uint8)]

  def colorize(self, train_ids: np.ndarray) -> np.ndarray:
    """[H, W] train ids -> [H, W, 3] uint8 RGB in the palette (ignore and unknown = black)."""
    ids = np.asarray(train_ids, np.uint8)
    return np.ascontiguousarray(self._packed_palette.take(ids).view(np.uint8).reshape(*ids.shape, 4)[..., :3])

  @property
  def _packed_palette(self) -> np.ndarray:
    """The palette as one uint32 per train id: a 1-D table `np.take` gathers about 5x faster
    than rows of a [256, 3] one. Cached on the (frozen) instance."""
    cached = self.__dict__.get("_packed")
    if cached is None:
      palette = np.zeros((256, 4), np.uint8)
      palette[:self.num_classes, :3] = self.palette
      cached = palette.view(np.uint32).ravel()
      object.__setattr__(self, "_packed", cached)
    return cached

  # -- JSON -----------------------------------------------------------------------------------
  def to_json(self) -> Dict[str, object]:
    classes = []
    for c in self.classes:
      entry = {"name": c.name, "color": list(c.color), "category": c.category}
      if c.source_id is not None:
        entry["source_id"] = c.source_id
      classes.append(entry)
    out = {"name": self.name, "classes": classes, "label_encoding": self.label_encoding,
           "ignore_label": list(self.ignore_ids)}
    if self.ignore_colors:
      out["ignore_colors"] = [list(c) for c in self.ignore_colors]
    if self.frame_offsets:
      out["frame_offsets"] = dict(self.frame_offsets)
    return out

  @classmethod
  def from_json(cls, data: Mapping[str, object]) -> "DatasetInfo":
    ignore = data.get("ignore_label", IGNORE_LABEL)
    known = {"name", "classes", "label_encoding", "ignore_label", "ignore_colors", "frame_offsets"}
    unknown = sorted(set(data) - known)
    if unknown:
      raise ValueError(f"unknown key(s) {unknown}; known: {sorted(known)}")
    return cls(name=str(data["name"]),
               classes=tuple(ClassInfo(**c) for c in data["classes"]),
               label_encoding=data.get("label_encoding", "train_ids"),
               ignore_ids=tuple(ignore) if isinstance(ignore, (list, tuple)) else (ignore,),
               ignore_colors=tuple(tuple(c) for c in data.get("ignore_colors", ())),
               frame_offsets=tuple(dict(data.get("frame_offsets", {})).items()))

  def same_classes(self, other: "DatasetInfo") -> bool:
    """Whether a model trained on one can be scored on the other: the same class names in
    the same order."""
    return self.class_names == other.class_names

  def describe(self) -> str:
    return f"{self.name} ({self.num_classes} classes)"


def load(path: str) -> DatasetInfo:
  """A descriptor JSON file, or a built-in descriptor's name. One-line errors name the file."""
  if path in BUILTIN:
    return BUILTIN[path]
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  try:
    with fileio.open_file(path, "r") as f:
      data = json.load(f)
  except FileNotFoundError:
    raise ValueError(f"{path}: no such dataset descriptor (or use a built-in one: "
                     f"{', '.join(BUILTIN)})") from None
  except (OSError, ValueError) as e:
    raise ValueError(f"{path}: not a readable JSON dataset descriptor ({e})") from None
  try:
    return DatasetInfo.from_json(data)
  except (KeyError, TypeError, ValueError) as e:
    raise ValueError(f"{path}: not a valid dataset descriptor ({e!s})") from None


def save(path: str, info: DatasetInfo):
  """Writes `info` as JSON, atomically."""
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  fileio.write_json(path, info.to_json())


def in_directory(directory: str, default: Optional[DatasetInfo] = None) -> Optional[DatasetInfo]:
  """The descriptor `directory/dataset.json` (a records or a model directory, local or a remote
  URI); `default` when the directory has none (one written before descriptors existed)."""
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  path = f"{str(directory).rstrip('/')}/{DESCRIPTOR}" if fileio.is_remote(directory) else os.path.join(directory, DESCRIPTOR)
  return load(path) if fileio.exists(path) else default


def check_directory(directory: str, info: Optional[DatasetInfo], what: str = "directory") -> Optional[DatasetInfo]:
  """Refuses a directory whose `dataset.json` holds another class table than `info`'s (one
  line naming it and both tables); returns the descriptor it holds, if any."""
  old = in_directory(directory)
  if old is not None and info is not None and not old.same_classes(info):
    raise ValueError(f"{os.path.join(directory, DESCRIPTOR)}: this {what} holds {old.describe()}, not "
                     f"{info.describe()}; use a new {what}")
  return old


def write_to_directory(directory: str, info: DatasetInfo, what: str = "directory"):
  """Writes `directory/dataset.json`; refuses (before writing) one that holds another dataset's
  classes, so records or weights of two class tables never mix."""
  path = os.path.join(directory, DESCRIPTOR)
  old = check_directory(directory, info, what)
  if old != info:
    os.makedirs(directory, exist_ok=True)
    save(path, info)


def check_same_classes(a: DatasetInfo, a_source: str, b: DatasetInfo, b_source: str):
  """One-line ValueError when two descriptors' class tables differ, naming both sources."""
  if not a.same_classes(b):
    raise ValueError(f"the classes differ: {a_source} has {a.describe()}, {b_source} has {b.describe()}; "
                     "a model is trained and scored only on data of its own classes")


def _classes(rows: Sequence[tuple]) -> Tuple[ClassInfo, ...]:
  return tuple(ClassInfo(*row) for row in rows)


# Cityscapes' 19 evaluation classes with their official labelIds, categories and palette, as in
# `cityscapesscripts.helpers.labels` (plain tables: no `cityscapesscripts` at run time).
_CITYSCAPES_CLASSES = _classes([
    ("road", (128, 64, 128), "flat", 7), ("sidewalk", (244, 35, 232), "flat", 8),
    ("building", (70, 70, 70), "construction", 11), ("wall", (102, 102, 156), "construction", 12),
    ("fence", (190, 153, 153), "construction", 13), ("pole", (153, 153, 153), "object", 17),
    ("traffic light", (250, 170, 30), "object", 19), ("traffic sign", (220, 220, 0), "object", 20),
    ("vegetation", (107, 142, 35), "nature", 21), ("terrain", (152, 251, 152), "nature", 22),
    ("sky", (70, 130, 180), "sky", 23), ("person", (220, 20, 60), "human", 24),
    ("rider", (255, 0, 0), "human", 25), ("car", (0, 0, 142), "vehicle", 26),
    ("truck", (0, 0, 70), "vehicle", 27), ("bus", (0, 60, 100), "vehicle", 28),
    ("train", (0, 80, 100), "vehicle", 31), ("motorcycle", (0, 0, 230), "vehicle", 32),
    ("bicycle", (119, 11, 32), "vehicle", 33),
])
# labelIds of the classes Cityscapes does not evaluate (0 = unlabeled first: the ignore value
# written to labelId PNGs), and 255 for the license plate's -1.
_CITYSCAPES_IGNORED = (0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30, 255)

CITYSCAPES = DatasetInfo("cityscapes", _CITYSCAPES_CLASSES, "source_ids", _CITYSCAPES_IGNORED)
# The built-in benchmark renders Cityscapes' classes, in Cityscapes' layout.
SYNTHETIC = DatasetInfo("synthetic", _CITYSCAPES_CLASSES, "source_ids", _CITYSCAPES_IGNORED)
# SegNet's CamVid: 11 classes, index PNGs, 11 = void (README, "CamVid"); its colours as SegNet and
# mmsegmentation use them.
CAMVID = DatasetInfo("camvid", _classes([
    ("sky", (128, 128, 128), "sky"), ("building", (128, 0, 0), "construction"),
    ("pole", (192, 192, 128), "object"), ("road", (128, 64, 128), "flat"),
    ("pavement", (0, 0, 192), "flat"), ("tree", (128, 128, 0), "nature"),
    ("sign symbol", (192, 128, 128), "object"), ("fence", (64, 64, 128), "construction"),
    ("car", (64, 0, 128), "vehicle"), ("pedestrian", (64, 64, 0), "human"),
    ("bicyclist", (0, 128, 192), "human"),
]), "train_ids", (11, IGNORE_LABEL), ((0, 0, 0),))

BUILTIN = {d.name: d for d in (CITYSCAPES, CAMVID, SYNTHETIC)}


def default_for(num_classes: int) -> DatasetInfo:
  """The descriptor of a model or records that carry none (made before descriptors existed,
  or built in code): Cityscapes for 19 classes, else classes named `class_0`.. with a fixed
  palette."""
  if num_classes == CITYSCAPES.num_classes:
    return CITYSCAPES
  rng = np.random.default_rng(num_classes)
  return DatasetInfo(f"{num_classes}_classes", tuple(
      ClassInfo(f"class_{i}", tuple(int(c) for c in rng.integers(32, 256, 3))) for i in range(num_classes)))

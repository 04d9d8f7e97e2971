"""Cityscapes label definitions: trainIds, labelIds, categories and colours.

The 19 evaluation classes (trainIds 0..18) with their official labelIds,
categories and palette, as in `cityscapesscripts.helpers.labels`. Kept here as
plain tables so that the library does not need `cityscapesscripts` at run time.
"""

import numpy as np

IGNORE_LABEL = 255
NUM_CLASSES = 19

# (name, trainId, labelId, category, colour)
CLASSES = (
    ("road", 0, 7, "flat", (128, 64, 128)),
    ("sidewalk", 1, 8, "flat", (244, 35, 232)),
    ("building", 2, 11, "construction", (70, 70, 70)),
    ("wall", 3, 12, "construction", (102, 102, 156)),
    ("fence", 4, 13, "construction", (190, 153, 153)),
    ("pole", 5, 17, "object", (153, 153, 153)),
    ("traffic light", 6, 19, "object", (250, 170, 30)),
    ("traffic sign", 7, 20, "object", (220, 220, 0)),
    ("vegetation", 8, 21, "nature", (107, 142, 35)),
    ("terrain", 9, 22, "nature", (152, 251, 152)),
    ("sky", 10, 23, "sky", (70, 130, 180)),
    ("person", 11, 24, "human", (220, 20, 60)),
    ("rider", 12, 25, "human", (255, 0, 0)),
    ("car", 13, 26, "vehicle", (0, 0, 142)),
    ("truck", 14, 27, "vehicle", (0, 0, 70)),
    ("bus", 15, 28, "vehicle", (0, 60, 100)),
    ("train", 16, 31, "vehicle", (0, 80, 100)),
    ("motorcycle", 17, 32, "vehicle", (0, 0, 230)),
    ("bicycle", 18, 33, "vehicle", (119, 11, 32)),
)
CLASS_NAMES = tuple(c[0] for c in CLASSES)
CATEGORIES = ("flat", "construction", "object", "nature", "sky", "human", "vehicle")
TRAIN_ID = {c[0]: c[1] for c in CLASSES}
# trainId -> category index, [NUM_CLASSES] int.
CATEGORY_OF_CLASS = np.array([CATEGORIES.index(c[3]) for c in CLASSES], np.int32)
PALETTE = np.array([c[4] for c in CLASSES], np.uint8)  # [19, 3]


def _lookup(values, size, fill):
  table = np.full(size, fill, np.uint8)
  for src, dst in values:
    table[src] = dst
  return table


# labelId (0..33, and -1 stored as 255) -> trainId, 255 for ignored classes.
LABEL_ID_TO_TRAIN_ID = _lookup([(c[2], c[1]) for c in CLASSES], 256, IGNORE_LABEL)
# trainId (0..18, 255) -> labelId; ignore maps to 0 ("unlabeled").
TRAIN_ID_TO_LABEL_ID = _lookup([(c[1], c[2]) for c in CLASSES], 256, 0)


def label_ids_to_train_ids(label_ids):
  """[H, W] uint8 labelIds -> [H, W] uint8 trainIds (255 = ignore)."""
  return LABEL_ID_TO_TRAIN_ID[np.asarray(label_ids, np.uint8)]


def train_ids_to_label_ids(train_ids):
  """[H, W] trainIds (255 = ignore) -> [H, W] uint8 labelIds for the official evaluator."""
  return TRAIN_ID_TO_LABEL_ID[np.asarray(train_ids, np.uint8)]


def _packed_palette():
  """The palette as one uint32 per trainId (R, G, B, 0 in memory order): a 1-D lookup table,
  which `np.take` gathers about 5x faster than rows of a [256, 3] table."""
  palette = np.zeros((256, 4), np.uint8)
  palette[:NUM_CLASSES, :3] = PALETTE
  return palette.view(np.uint32).ravel()


_PACKED_PALETTE = _packed_palette()


def colorize(train_ids):
  """[H, W] trainIds -> [H, W, 3] uint8 RGB in the Cityscapes palette (ignore = black)."""
  ids = np.asarray(train_ids, np.uint8)
  return np.ascontiguousarray(_PACKED_PALETTE.take(ids).view(np.uint8).reshape(*ids.shape, 4)[..., :3])

"""dataset_info: the descriptor's label encodings against NumPy references, validation, JSON,
the palette, the label PNG values, and the checks that keep two class tables apart."""
import json
import os

import numpy as np
import pytest

from tw_keras import dataset_info

CS, CAMVID = dataset_info.CITYSCAPES, dataset_info.CAMVID
FIVE = dataset_info.DatasetInfo("five", tuple(dataset_info.ClassInfo(n, c, cat) for n, c, cat in [
    ("ground", (10, 20, 30), "flat"), ("wall", (200, 0, 0), "thing"), ("tree", (0, 200, 0), "nature"),
    ("sky", (0, 0, 200), "sky"), ("robot", (250, 250, 0), "thing")]), "colour", ignore_colors=((0, 0, 0),))


def test_train_ids_keep_classes_map_ignore_and_reject_the_rest():
  lab = np.array([[0, 10, 11], [255, 3, 7]], np.uint8)
  np.testing.assert_array_equal(CAMVID.encode_label(lab, "a.png"), [[0, 10, 255], [255, 3, 7]])
  bad = np.array([[0, 50, 50], [12, 3, 50]], np.uint8)
  with pytest.raises(dataset_info.LabelError, match=r"^b.png: label value\(s\) not in the class table of camvid: "
                     r"12 x1, 50 x3 pixels \(train ids 0..10; ignore \[11, 255\]\)$"):
    CAMVID.encode_label(bad, "b.png")


def test_source_ids_map_through_the_table_like_a_numpy_reference():
  rng = np.random.default_rng(0)
  known = [c.source_id for c in CS.classes] + list(CS.ignore_ids)
  lab = rng.choice(known, (40, 30)).astype(np.uint8)
  ref = np.full(lab.shape, 255, np.uint8)
  for i, c in enumerate(CS.classes):
    ref[lab == c.source_id] = i
  np.testing.assert_array_equal(CS.encode_label(lab, "x"), ref)
  lab[0, 0] = 40  # not a Cityscapes labelId
  with pytest.raises(dataset_info.LabelError, match="40 x1 pixels"):
    CS.encode_label(lab, "x")
  # Written back, train ids become the official labelIds, ignore "unlabeled" (0).
  np.testing.assert_array_equal(CS.label_png_ids(ref), np.where(ref == 255, 0, lab))


def test_colour_labels_decode_each_colour_and_name_unknown_ones():
  ids = np.random.default_rng(1).integers(0, 5, (6, 7))
  rgb = FIVE.palette[ids]
  rgb[0, 0] = (0, 0, 0)
  expected = ids.astype(np.uint8)
  expected[0, 0] = 255
  np.testing.assert_array_equal(FIVE.encode_label(rgb, "c.png"), expected)
  rgb[1, :3] = (1, 2, 3)
  with pytest.raises(dataset_info.LabelError, match=r"c.png: colour\(s\) not in the class table of five: "
                     r"\(1, 2, 3\) x3 pixels"):
    FIVE.encode_label(rgb, "c.png")
  with pytest.raises(dataset_info.LabelError, match="needs an RGB image"):
    FIVE.encode_label(ids.astype(np.uint8), "c.png")


def test_palette_colorize_and_label_png_values():
  ids = np.array([[0, 4, 255]], np.uint8)
  np.testing.assert_array_equal(FIVE.colorize(ids), [[(10, 20, 30), (250, 250, 0), (0, 0, 0)]])
  np.testing.assert_array_equal(FIVE.label_png_ids(ids), [[0, 4, 255]])  # train ids, ignore 255
  np.testing.assert_array_equal(CAMVID.label_png_ids(np.array([[3, 255]], np.uint8)), [[3, 11]])  # void = 11
  assert FIVE.categories == ("flat", "thing", "nature", "sky")
  np.testing.assert_array_equal(FIVE.category_of_class, [0, 1, 2, 3, 1])


def test_json_round_trip_and_one_line_errors(tmp_path):
  for info in (CS, CAMVID, FIVE):
    path = str(tmp_path / f"{info.name}.json")
    dataset_info.save(path, info)
    assert dataset_info.load(path) == info
  assert dataset_info.load("camvid") is CAMVID
  path = str(tmp_path / "bad.json")
  with open(path, "w") as f:
    json.dump({"name": "x", "classes": [{"name": "a", "color": [1, 2, 3]}], "colour": 1}, f)
  with pytest.raises(ValueError, match=r"bad.json: not a valid dataset descriptor \(unknown key\(s\) \['colour'\]"):
    dataset_info.load(path)
  with pytest.raises(ValueError, match="no such dataset descriptor"):
    dataset_info.load(str(tmp_path / "missing.json"))
  with pytest.raises(ValueError, match="needs a distinct colour per class"):
    dataset_info.DatasetInfo("y", (dataset_info.ClassInfo("a", (1, 1, 1)), dataset_info.ClassInfo("b", (1, 1, 1))),
                             "colour")


def test_a_directory_keeps_one_class_table(tmp_path):
  d = str(tmp_path)
  dataset_info.write_to_directory(d, CAMVID, "records directory")
  dataset_info.write_to_directory(d, CAMVID, "records directory")  # the same: fine
  with pytest.raises(ValueError, match=r"dataset.json: this records directory holds camvid \(11 classes\), "
                     r"not cityscapes \(19 classes\); use a new records directory"):
    dataset_info.write_to_directory(d, CS, "records directory")
  assert dataset_info.in_directory(d) == CAMVID
  assert dataset_info.in_directory(os.path.join(d, "none"), CS) is CS
  with pytest.raises(ValueError, match=r"the classes differ: model M has cityscapes \(19 classes\), records R has "
                     r"camvid \(11 classes\)"):
    dataset_info.check_same_classes(CS, "model M", CAMVID, "records R")
  assert dataset_info.default_for(19) is CS and dataset_info.default_for(4).num_classes == 4

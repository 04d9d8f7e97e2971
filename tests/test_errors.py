"""tw_keras/errors.py: one input-error type, its subclasses, and its way across worker processes."""
import os
import pickle

import cv2
import numpy as np
import pytest

from tw_keras import dataset_info, errors, fileio
from tw_keras.data import prepare, shards
from tw_keras.video import codec


def test_every_bad_input_is_an_input_error_with_its_path_and_problem():
  for cls in (errors.VideoError, errors.LabelError, errors.PathError):
    assert issubclass(cls, errors.InputError)
  assert codec.VideoError is errors.VideoError and fileio.PathError is errors.PathError
  assert dataset_info.LabelError is errors.LabelError and issubclass(errors.LabelError, ValueError)
  e = pickle.loads(pickle.dumps(errors.LabelError("a/b.png", "label value(s) not in the class table")))
  assert type(e) is errors.LabelError and (e.path, e.problem) == ("a/b.png", "label value(s) not in the class table")
  assert str(e) == "a/b.png: label value(s) not in the class table"


def test_a_label_error_in_a_pool_worker_reaches_the_parent_as_itself(tmp):
  """The local pool's workers are spawned processes: the error crosses as a pickle, its type kept."""
  frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(2)]
  paths = []
  for i, f in enumerate(frames):
    paths.append(os.path.join(tmp, f"f{i}.png"))
    cv2.imwrite(paths[-1], f)
  label = os.path.join(tmp, "l.png")
  cv2.imwrite(label, np.full((32, 48), 40, np.uint8))  # 40: no CamVid class
  sources = [prepare.Source(f"s{i}", images=(p,), labels=(label,)) for i, p in enumerate(paths)]
  with pytest.raises(errors.LabelError, match=r"l.png: label value\(s\) not in the class table of camvid: 40 x1536"):
    shards.write_shards(sources, os.path.join(tmp, "out"), "train", 1,
                         prepare.PrepOptions(dataset=dataset_info.CAMVID), workers=2)

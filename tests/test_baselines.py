"""evaluation/baselines: what local colour alone scores, against hand-computed mIoUs."""
import numpy as np

from helpers import write_labelled_root as _write_labelled_root
from tw_keras.evaluation import baselines


def test_colour_baseline_against_a_hand_computed_miou(tmp):
  red, green, grey = ([200, 10, 10], [10, 200, 10], [128, 128, 128])
  lab = np.zeros((4, 8), np.uint8)
  lab[:, 4:] = 1
  def frame(left, right, labels=lab):
    return np.concatenate([np.full((4, 4, 3), left, np.uint8), np.full((4, 4, 3), right, np.uint8)], 1), labels
  # Colour gives the class away: a perfect score.
  _write_labelled_root(f"{tmp}/a", "train", [frame(red, green)] * 3)
  _write_labelled_root(f"{tmp}/a", "val", [frame(red, green)])
  assert baselines.colour_baseline(f"{tmp}/a", f"{tmp}/a") == 100.0
  # Both classes grey, class 0 three times as common in train: everything is called class 0,
  # so class 0 has IoU 16 / 32 and class 1 IoU 0.
  lab_mostly_0 = np.where(np.arange(8) < 6, 0, 1).astype(np.uint8)[None].repeat(4, 0)
  _write_labelled_root(f"{tmp}/b", "train", [frame(grey, grey, lab_mostly_0)])
  _write_labelled_root(f"{tmp}/b", "val", [frame(grey, grey)])
  assert baselines.colour_baseline(f"{tmp}/b", f"{tmp}/b") == 25.0

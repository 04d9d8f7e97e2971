"""video/motion_statistics against known motion: a clip translated by a known shift."""
import pytest

from helpers import translated_clip
from tw_keras.video import motion_statistics


def test_a_uniform_shift_gives_its_magnitude_per_mille_of_width():
  """Content moving (3, 0) px per frame on a 96-px-wide frame: |motion| 3 / 96 = 31.25 per
  mille on (almost) every block of every P-frame; a static clip: all zero."""
  moving = translated_clip(64, 96, 12, 3, 0)
  static = [moving[0]] * 12
  stats = motion_statistics.motion_statistics([moving])
  assert stats["snippets"] == 1 and stats["blocks"] == 11 * 8 * 12  # 11 P-frames of 8x12 blocks
  assert stats["p50"] == pytest.approx(1000 * 3 / 96)
  assert stats["zero"] < 0.2
  still = motion_statistics.motion_statistics([static])
  assert still["zero"] == 1.0 and still["p99"] == 0.0

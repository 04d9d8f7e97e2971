"""The overlay: the palette's colourisation and the blend against their float formulas."""
import numpy as np

from tw_keras import dataset_info

CS = dataset_info.CITYSCAPES


def test_colorize_and_overlay_match_the_float_formulas():
  from tw_keras.inference import overlay  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  ids = rng.integers(0, CS.num_classes, (37, 53)).astype(np.int32)
  ids[0, :5] = 255  # ignore -> black
  expected = np.zeros((37, 53, 3), np.uint8)
  for c in range(CS.num_classes):
    expected[ids == c] = CS.palette[c]
  colour = CS.colorize(ids)
  np.testing.assert_array_equal(colour, expected)
  assert colour.flags.c_contiguous and colour.dtype == np.uint8
  rgb = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)
  for alpha in (0.5, 0.3, 0.0, 1.0):
    ref = rgb.astype(np.float64) * (1 - alpha) + expected.astype(np.float64) * alpha
    out = overlay.overlay(rgb, ids, alpha)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    if alpha == 0.5:
      np.testing.assert_array_equal(out, np.floor(ref).astype(np.uint8))
    assert np.abs(out.astype(np.float64) - ref).max() <= 1.5  # floor, and alpha in 1/256 steps

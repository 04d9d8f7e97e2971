"""scene.flow: the renderer's exact flow against analytic motion, its occlusion mask, and
warping a rendered frame by it."""
import cv2
import numpy as np

from tw_keras.scene import flow as flow_lib, raycast, street_scene
from tw_keras.scene.world import Item, Material

GREY = Material((100, 100, 100))
FOCAL = 50.0


def _state(camera_x, boxes):
  camera = raycast.Camera(64, 48, FOCAL, np.array([camera_x, 1.5, 0.0]))
  raster = raycast.Raster(camera)
  for i, box in enumerate(boxes):
    raster.cast(3 + i, box)
  return street_scene.FrameState(camera, [Item(b, 2, GREY) for b in boxes], raster)


def _wall():
  return raycast.Box(np.array([0.0, 1.5, 10.1]), np.array([30.0, 30.0, 0.1]))  # front face at z = 10


def test_camera_translation_gives_the_analytic_flow():
  flow, valid = flow_lib.exact_flow(_state(0.0, [_wall()]), _state(0.5, [_wall()]))
  # The camera moves 0.5 m right: content at depth 10 moves f * 0.5 / 10 px left.
  assert valid.mean() > 0.9 and not valid[:, -2:].any()  # the right edge was outside frame t-1
  np.testing.assert_allclose(flow[valid], np.broadcast_to([-FOCAL * 0.5 / 10, 0.0], flow[valid].shape), atol=1e-4)


def test_a_moving_object_gives_its_flow_and_disocclusion_is_not_valid():
  def box(x):
    return raycast.Box(np.array([x, 1.5, 5.5]), np.array([0.5, 0.5, 0.5]))  # front face at z = 5
  flow, valid = flow_lib.exact_flow(_state(0.0, [_wall(), box(0.0)]), _state(0.0, [_wall(), box(0.4)]))
  ids = _state(0.0, [_wall(), box(0.4)]).raster.ids
  on_box = (ids == 4) & valid
  np.testing.assert_allclose(flow[on_box], np.broadcast_to([FOCAL * 0.4 / 5, 0.0], flow[on_box].shape), atol=1e-4)
  np.testing.assert_allclose(flow[(ids == 3) & valid], 0, atol=1e-4)  # the static wall
  # Wall pixels the box covered at t-1 (its old left part, now uncovered): disoccluded.
  before = _state(0.0, [_wall(), box(0.0)]).raster.ids
  uncovered = (before == 4) & (ids == 3)
  assert uncovered.sum() >= 20 and not valid[uncovered].any()
  assert valid[(ids == 3) & (before == 3)].all()


def test_warping_the_previous_frame_by_the_exact_flow_reproduces_the_frame():
  rng = lambda: np.random.default_rng([0, 1, 3])
  with_flow = list(street_scene.render_sequence(rng(), 96, 192, 4, with_flow=True))
  plain = list(street_scene.render_sequence(rng(), 96, 192, 4))
  for (rgb, lab, _, _), (rgb2, lab2) in zip(with_flow, plain):  # the same pixels either way
    np.testing.assert_array_equal(rgb, rgb2)
    np.testing.assert_array_equal(lab, lab2)
  assert not with_flow[0][3].any()
  gx, gy = np.meshgrid(np.arange(192, dtype=np.float32), np.arange(96, dtype=np.float32))
  for t in (1, 2, 3):
    prev, (cur, lab, flow, valid) = with_flow[t - 1][0].astype(np.float32), with_flow[t]
    assert 0.5 < valid.mean() < 0.98 and not valid[lab == 255].any()
    error = lambda f: np.abs(cv2.remap(prev, gx - f[..., 0], gy - f[..., 1], cv2.INTER_LINEAR)
                             - cur.astype(np.float32)).mean(-1)[valid].mean()
    zero, exact, reversed_ = error(np.zeros_like(flow)), error(flow), error(-flow)
    # What remains is resampling of textures (window grids, value noise), not motion.
    assert exact < 0.6 * zero < reversed_, (exact, zero, reversed_)

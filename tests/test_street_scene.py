"""The 3D street renderer against known geometry: projection, ground plane, label boundaries."""
import numpy as np
import pytest

from tw_keras import dataset_info
from tw_keras.scene import movers, raycast, street_scene, world
from tw_keras.scene import street as street_lib

CS = dataset_info.CITYSCAPES

W, H = 256, 128
F = world.FOCAL_OVER_WIDTH * W


def camera(z=0.0, height=1.4, yaw=0.0, pitch=0.0, x=0.0):
  return raycast.Camera(W, H, F, np.array([x, height, z]), yaw, pitch)


def test_projection_matches_the_pinhole_formula():
  cam = camera(z=2.0)
  pts = np.array([[1.0, 0.0, 12.0], [-2.0, 3.0, 30.0]])
  xy, depth = cam.project(pts)
  np.testing.assert_allclose(depth, [10.0, 28.0])
  np.testing.assert_allclose(xy[0], [W / 2 + F * 1.0 / 10, H / 2 + F * 1.4 / 10])
  np.testing.assert_allclose(xy[1], [W / 2 - F * 2 / 28, H / 2 - F * 1.6 / 28])


@pytest.mark.parametrize("yaw,pitch", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.05), (-0.2, -0.03)])
def test_rays_project_back_to_their_pixels(yaw, pitch):
  cam = camera(yaw=yaw, pitch=pitch)
  dirs = cam.ray_directions()
  for py, px in [(0, 0), (5, 200), (H - 1, W - 1), (70, 31)]:
    point = cam.position + 7.0 * dirs[py, px]
    xy, depth = cam.project(point[None])
    np.testing.assert_allclose(xy[0], [px + 0.5, py + 0.5], atol=1e-3)
    np.testing.assert_allclose(depth[0], 7.0, rtol=1e-5)  # t is depth along the axis


def test_positive_yaw_turns_right_and_positive_pitch_looks_down():
  ahead = np.array([[0.0, 1.4, 20.0]])
  assert camera(yaw=0.1).project(ahead)[0][0, 0] < W / 2  # the scene moves left
  assert camera(pitch=0.05).project(ahead)[0][0, 1] < H / 2  # the horizon rises


def _street(**kw):
  s = street_lib.make_street(np.random.default_rng(0))
  import dataclasses
  return dataclasses.replace(s, cross_z0=1e9, cross_z1=1e9, **kw)


def test_ground_depth_and_a_road_point_moving_as_the_camera_model_says():
  street = _street(lanes=2, lane=3.5, parking=0.0, sidewalk=3.0)
  for z in (0.0, 0.6):  # the camera drives 0.6 m forward
    cam = camera(z=z)
    r = raycast.Raster(cam)
    street_lib.cast_ground(r, street, 0)
    # Row v below the horizon sees the road plane at depth f * h / (v + 0.5 - cy).
    for v in (80, 100, 127):
      expected = F * 1.4 / (v + 0.5 - H / 2)
      np.testing.assert_allclose(r.depth[v, W // 2], expected, rtol=1e-4)
      assert r.ids[v, W // 2] == 0  # road
  # A road marking point at (0.5, 0, 10) moves down and outwards by the pinhole law.
  p = np.array([[0.5, 0.0, 10.0]])
  a, b = camera(z=0.0).project(p)[0][0], camera(z=0.6).project(p)[0][0]
  np.testing.assert_allclose(b - a, [F * 0.5 / 9.4 - F * 0.5 / 10, F * 1.4 / 9.4 - F * 1.4 / 10], rtol=1e-6)


def test_curb_label_boundary_lands_where_the_geometry_puts_it():
  street = _street(lanes=1, lane=3.5, parking=0.0, sidewalk=4.0, curb=0.15)
  cam = camera()
  r = raycast.Raster(cam)
  street_lib.cast_ground(r, street, 0)
  v = 110
  depth = F * 1.4 / (v + 0.5 - H / 2)  # where this row meets the road
  edge_x = W / 2 + F * street.road_half / depth  # the road edge (x = +3.5) on this row
  row = r.ids[v]
  first_not_road = np.argmax((row != 0) & (np.arange(W) > W / 2))
  assert abs(first_not_road - edge_x) <= 1.0, (first_not_road, edge_x)
  assert row[first_not_road + 2] == 1  # curb face / sidewalk


def test_box_silhouette_and_occlusion():
  cam = camera()
  r = raycast.Raster(cam)
  near = raycast.Box(np.array([0.0, 1.0, 11.0]), np.array([1.0, 1.0, 1.0]))  # front face at z = 10
  far = raycast.Box(np.array([0.0, 2.0, 31.0]), np.array([6.0, 2.0, 1.0]))
  r.cast(1, near)
  r.cast(2, far)
  cols = np.nonzero((r.ids == 1).any(0))[0]
  rows = np.nonzero((r.ids == 1).any(1))[0]
  # Front face: x in [-1, 1], y in [0, 2] at depth 10.
  assert abs(cols[0] - (W / 2 - F * 0.1)) <= 1 and abs(cols[-1] + 1 - (W / 2 + F * 0.1)) <= 1
  assert abs(rows[0] - (H / 2 - F * 0.6 / 10)) <= 1 and abs(rows[-1] + 1 - (H / 2 + F * 1.4 / 10)) <= 1
  np.testing.assert_allclose(r.depth[H // 2 + 2, W // 2], 10.0, rtol=1e-5)
  assert (r.ids == 2).any()
  assert not ((r.ids == 2) & (np.abs(np.arange(W) - W / 2) < F * 0.1 - 2)[None, :]
              & (np.abs(np.arange(H) - H / 2) < 5)[:, None]).any()  # hidden behind the near box
  # Culling: the far box cast first then the near one gives the same buffers.
  r2 = raycast.Raster(cam)
  r2.cast(2, far)
  r2.cast(1, near)
  np.testing.assert_array_equal(r.ids, r2.ids)


def test_ellipsoid_depth_at_its_front():
  cam = camera(height=1.0)
  r = raycast.Raster(cam)
  r.cast(5, raycast.Ellipsoid(np.array([0.0, 1.0, 10.0]), np.array([1.0, 0.5, 2.0])))
  np.testing.assert_allclose(r.depth[H // 2, W // 2], 8.0, rtol=1e-3)
  rows = np.nonzero((r.ids == 5).any(1))[0]
  assert len(rows) >= int(F * 1.0 / 10) - 2


def test_vehicles_move_with_their_velocity():
  rng = np.random.default_rng(1)
  car = movers._vehicle(rng, "car", 2.0, 20.0, (0, 0, 8.5))  # pylint: disable=protected-access
  a = car.items(0.0)[0].primitive.center
  b = car.items(2.0)[0].primitive.center
  np.testing.assert_allclose(b - a, [0, 0, 2 * 8.5 / world.FPS])


def test_walkers_are_articulated_and_classes_do_not_own_a_colour():
  rng = np.random.default_rng(2)
  p = movers._person(rng, (0, 0, 10), (0, 0, 1.4))  # pylint: disable=protected-access
  legs = [p.items(t)[0].primitive.axes for t in (0.0, 3.0)]
  assert not np.allclose(legs[0], legs[1])  # the thigh swings
  # Shared greys: road, building and car palettes overlap.
  assert set(world.GREYS) <= set(world.FACADES)
  assert set(world.GREYS) <= set(world.PAINTS)


def test_scene_labels_cover_categories_and_hood_is_ignored():
  seen = set()
  for seq in range(3):
    scene = street_scene.make_scene(np.random.default_rng([0, 0, seq]))
    img, lab = scene.render(0.0, W, H)
    assert img.shape == (H, W, 3) and lab.shape == (H, W)
    hood = scene.hood.mask(H, W)
    assert (lab[hood] == dataset_info.IGNORE_LABEL).all() and (lab[~hood] != dataset_info.IGNORE_LABEL).all()
    seen |= set(np.unique(lab[~hood]).tolist())
  cats = {CS.categories[CS.category_of_class[c]] for c in seen}
  assert cats == set(CS.categories), cats

"""The ego camera's path: height, speed, lane changes, yaw drift and pitch bumps at 17 fps."""

import dataclasses

import numpy as np

from tw_keras.scene.raycast import Camera
from tw_keras.scene.world import FOCAL_OVER_WIDTH, FPS
from tw_keras.scene.street import Street


@dataclasses.dataclass
class CameraPath:
  """Ego motion: speed (m/s), lane change, yaw wobble and drift, pitch bumps; at 17 fps."""
  height: float
  speed: float
  x0: float
  lane_shift: float
  shift_start: float
  shift_frames: float
  yaw_rate: float  # rad / s
  wobble: float  # rad
  wobble_hz: float
  pitch0: float
  bump: float
  bump_hz: float
  phase: float

  def camera(self, t: float, width: int, height: int) -> Camera:
    s = np.clip((t - self.shift_start) / self.shift_frames, 0, 1)
    x = self.x0 + self.lane_shift * (3 * s * s - 2 * s ** 3)
    dxdt = self.lane_shift * (6 * s - 6 * s * s) / self.shift_frames if 0 < s < 1 else 0.0
    z = self.speed * t / FPS
    sec = t / FPS
    yaw = (np.arctan2(dxdt * FPS, max(self.speed, 0.5)) + self.yaw_rate * sec
           + self.wobble * np.sin(2 * np.pi * self.wobble_hz * sec + self.phase))
    pitch = self.pitch0 + self.bump * np.sin(2 * np.pi * self.bump_hz * sec + 2 * self.phase)
    return Camera(width, height, FOCAL_OVER_WIDTH * width, np.array([x, self.height, z]), yaw, pitch)


def make_camera_path(rng, street: Street) -> CameraPath:
  lane_i = int(rng.integers(street.lanes))
  # Narrow streets are driven slower: one lane per direction 3-8 m/s, two lanes 5-12 m/s.
  top = 8.0 if street.lanes == 1 else 12.0
  speed = rng.uniform(0.0, 2.0) if rng.random() < 0.15 else rng.uniform(top / 2.4, top)
  shift = 0.0
  if rng.random() < 0.4 and speed > 3 and street.lanes > 1:  # into the other lane of our direction
    shift = street.lane * (1 if lane_i == 0 else -1)
  return CameraPath(height=rng.uniform(1.2, 1.5), speed=speed, x0=street.lane * (lane_i + 0.5),
                    lane_shift=shift, shift_start=rng.uniform(-20, 15), shift_frames=rng.uniform(50, 85),
                    yaw_rate=np.radians(rng.uniform(-1.5, 1.5)), wobble=np.radians(rng.uniform(0, 0.3)),
                    wobble_hz=rng.uniform(0.2, 0.6), pitch0=np.radians(rng.uniform(-1.0, 2.0)),
                    bump=np.radians(rng.uniform(0, 0.15)), bump_hz=rng.uniform(0.8, 2.0),
                    phase=rng.uniform(0, 2 * np.pi))

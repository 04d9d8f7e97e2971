"""Streaming inference: frames in decode order -> labels, with a key-frame scheduler.

`StreamSegmenter` keeps the previous frame's context features as explicit state and runs,
per frame, either the per-frame CNN (key frames) or the non-key-frame model (others), as
the scheduler decides. Frames of any size are edge-padded to a multiple of 32 for the
network and the outputs cropped back.
"""

import copy
import time
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from tw_keras.model import schedulers, twnet



def _padded(array: np.ndarray):
  """[H, W, C] -> [1, H', W', C] float32 tensor, edge-padded to the input multiple."""
  return twnet.pad_to_input(tf.constant(np.asarray(array, np.float32)[None]))


class StreamSegmenter:
  """Segments a stream frame by frame.

  Args:
    per_frame: the per-frame CNN.
    nkfc: the non-key-frame model, or None (every frame is a key frame).
    variant: its `config.Variant` (None with nkfc None).
    scheduler: a `schedulers.Scheduler` (or spec string); must be "every" without an nkfc.
    xla: jit_compile the forward functions.
  """

  def __init__(self, per_frame, nkfc=None, variant=None, scheduler="gop", xla: bool = False):
    self.scheduler = schedulers.parse(scheduler) if isinstance(scheduler, str) else scheduler
    if nkfc is None and self.scheduler.kind != "every":
      raise ValueError(f"scheduler {self.scheduler.spec()!r} needs a non-key-frame model; without one "
                       "every frame is a key frame (scheduler 'every')")
    if (nkfc is None) != (variant is None):
      raise ValueError("StreamSegmenter: give both nkfc and its variant, or neither")
    self.variant = variant
    self.twnet = twnet.TWNet(per_frame, nkfc, variant)
    self._key_frame, self._non_key_frame = self.twnet.compiled(xla)
    self.reset()

  def with_scheduler(self, scheduler) -> "StreamSegmenter":
    """A new segmenter on the same (already compiled) networks with another scheduler."""
    other = copy.copy(self)
    other.scheduler = schedulers.parse(scheduler) if isinstance(scheduler, str) else scheduler
    if not self.twnet.has_non_key_frames and other.scheduler.kind != "every":
      raise ValueError(f"scheduler {other.scheduler.spec()!r} needs a non-key-frame model")
    other.reset()
    return other

  def reset(self):
    self.scheduler.reset()
    self.context = None
    self.key_frames = 0
    self.non_key_frames = 0
    self.network_seconds = 0.0

  def _key(self, image):
    out = self._key_frame(image)
    self.key_frames += 1
    self.context = out["context"]
    return out["logits"]

  def __call__(self, rgb: np.ndarray, motion: Optional[np.ndarray], residual: Optional[np.ndarray],
               pict_type: str = "P", index: int = 0) -> Tuple[np.ndarray, bool]:
    """One frame -> ([H, W] int32 trainIds, whether it was a key frame).

    Args:
      rgb: [H, W, 3] uint8; motion: [H, W, 2] float32 px; residual: [H, W, 3] (any number).
    """
    h, w = rgb.shape[:2]
    t = time.perf_counter()
    image = _padded(rgb)
    key = (not self.twnet.has_non_key_frames or self.context is None
           or self.scheduler.before(index, pict_type, residual))
    if key:
      logits = self._key(image)
    else:
      out = self._non_key_frame(image, self.context, _padded(motion), _padded(residual))
      logits = out["logits"]
      self.non_key_frames += 1
      pred = tf.argmax(logits[0, :h, :w], -1, output_type=tf.int32).numpy()
      if self.scheduler.after(pred):
        logits, key = self._key(image), True
      else:
        self.context = out["context"]
        self.scheduler.non_key_done()
        self.network_seconds += time.perf_counter() - t
        return pred, False
    pred = tf.argmax(logits[0, :h, :w], -1, output_type=tf.int32).numpy()
    self.scheduler.key_done(pred)
    self.network_seconds += time.perf_counter() - t
    return pred, key

"""Streaming inference: frames in decode order -> labels, with a key-frame scheduler.

`StreamSegmenter` keeps the state between frames -- the previous frame's context features
and the previous decoded frame -- and runs, per frame, either the per-frame CNN (key frames)
or the non-key-frame model (others), as the scheduler decides. It takes the codec's compact
inputs (the decoded frame and its int16 block motion grid): the dense motion, the residual,
the padding to a multiple of 32, the crop and the argmax all happen in one compiled graph
(`twnet.TWNet.segment_*`), and only the [H, W] labels come back to the host.

The residual takes one route on every device: it is computed in the graph from the
previous decoded frame and the block grid (`compensation`, exact to the integer), so
nothing dense crosses to a GPU and there is one code path to test. On a 2-core CPU the
decoder's OpenCV remap on the host was a few percent faster end to end (docs/speed_cpu.md,
"One residual route"); that is the price of the one route. Variants without RGA never
compute it.

The non-key frames' motion (`flow`) is the codec's block vectors by default, or DIS optical
flow from the previous decoded frame (`data.flow_sources`), computed on the host and given to
the same graph as a per-pixel grid; the residual is then the one of that motion, in the graph.
"""

import copy
import time
from typing import Tuple

import numpy as np
import tensorflow as tf

from tw_keras.data import flow_sources
from tw_keras.inference import schedulers
from tw_keras.model import models, twnet
from tw_keras.video import codec, compensation, motion


class StreamSegmenter:
  """Segments a stream frame by frame.

  Args:
    net: the `twnet.TWNet` (with a non-key-frame model, or the per-frame variant: then every
      frame is a key frame).
    scheduler: a `schedulers.Scheduler` (or spec string); must be "every" for the per-frame variant.
    xla: jit_compile the forward functions.
    fold_batch_norms: run inference copies with the batch norms folded into the convolutions
      (`model.folding`; same labels up to float32 rounding, faster). Weights must be loaded.
    flow: the non-key frames' motion: "codec" (the decoder's block grid) or "dis" (module doc;
      the residual is then computed in the graph).
  """

  FLOWS = ("codec", "dis")

  def __init__(self, net: twnet.TWNet, scheduler="gop", xla: bool = False, fold_batch_norms: bool = True,
               flow: str = "codec"):
    if flow not in self.FLOWS:
      raise ValueError(f"flow must be one of {', '.join(self.FLOWS)} for a stream, got {flow!r}")
    self.flow = flow
    self.scheduler = schedulers.parse(scheduler) if isinstance(scheduler, str) else scheduler
    if not net.has_non_key_frames and not self.scheduler.is_every:
      raise ValueError(f"scheduler {self.scheduler.spec()!r} needs a non-key-frame model; without one "
                       "every frame is a key frame (scheduler 'every')")
    self.variant = net.variant
    self.twnet = net.folded() if fold_batch_norms else net
    self._steps = lambda cell: self.twnet.compiled_streaming(xla, cell=cell)  # memoized per cell by the TWNet
    self._key_frame = self._steps(codec.MV_CELL)[0]
    self._residual_energy = tf.function(
        lambda image, previous, grid, cell: tf.reduce_mean(tf.abs(compensation.residual(image, previous, grid, cell))),
        reduce_retracing=True)
    self.reset()

  def with_scheduler(self, scheduler) -> "StreamSegmenter":
    """A new segmenter on the same (already compiled) networks with another scheduler."""
    other = copy.copy(self)
    other.scheduler = schedulers.parse(scheduler) if isinstance(scheduler, str) else scheduler
    if not self.twnet.has_non_key_frames and not other.scheduler.is_every:
      raise ValueError(f"scheduler {other.scheduler.spec()!r} needs a non-key-frame model")
    other.reset()
    return other

  def reset(self):
    self.scheduler.reset()
    self.context = None
    self.previous = None
    self.previous_rgb = None
    self.key_frames = 0
    self.non_key_frames = 0
    self.network_seconds = 0.0

  def _key(self, image):
    out = self._key_frame(image)
    self.key_frames += 1
    self.context = out[models.PRED_CONTEXT]
    return out[models.PRED_LABELS][0].numpy()

  def __call__(self, rgb: np.ndarray, motion_grid: np.ndarray, pict_type: str = "P",
               index: int = 0, cell: int = codec.MV_CELL, force_key: bool = False) -> Tuple[np.ndarray, bool]:
    """One frame -> ([H, W] int32 trainIds, whether it was a key frame).

    Args:
      rgb: [H, W, 3] uint8, the decoded frame.
      motion_grid: [ceil(Hc/cell), ceil(Wc/cell), 2] int16, its block motion grid (quarter
        pixels, dst - src; `codec.CompressedFrame.motion_grid` of a "step" decode, Hc, Wc the
        coded size: multiples of 16); with flow "dis", checked but not used.
      cell: the grid's cell (`CompressedFrame.motion_cell`: 8 for MPEG-4, 4 for H.264's own).
      force_key: run the per-frame CNN whatever the schedule says (the first clean frame after
        damage the decoder concealed: warped features would carry it on).
    """
    h, w = rgb.shape[:2]
    blocks = motion.grid_shape(h, w, cell)
    if tuple(np.shape(motion_grid)) != (*blocks, 2):
      raise ValueError(f"frame {index}: motion grid of shape {np.shape(motion_grid)}, expected the codec's "
                       f"{cell}x{cell} block grid {(*blocks, 2)} for a {w}x{h} frame (a 'step' decode)")
    t = time.perf_counter()
    rgb = np.asarray(rgb, np.uint8)
    image = tf.constant(rgb[None])
    key = not self.twnet.has_non_key_frames or self.context is None or force_key
    if self.flow == "dis" and not key:
      motion_grid, cell = flow_sources.to_grid(flow_sources.dis_motion(self.previous_rgb, rgb)), 1
    grid = tf.constant(np.asarray(motion_grid, np.int16)[None])
    if not key:
      energy = None
      if self.scheduler.residual_threshold is not None:
        energy = float(self._residual_energy(image, self.previous, grid, cell))
      key = self.scheduler.before(index, pict_type, energy)
    if key:
      pred = self._key(image)
    else:
      out = self._steps(cell)[1](image, self.previous, self.context, grid)
      self.non_key_frames += 1
      pred = out[models.PRED_LABELS][0].numpy()
      if self.scheduler.after(pred):
        pred, key = self._key(image), True
      else:
        self.context = out[models.PRED_CONTEXT]
        self.scheduler.non_key_done()
    if key:
      self.scheduler.key_done(pred)
    self.previous, self.previous_rgb = image, rgb
    self.network_seconds += time.perf_counter() - t
    return pred, key

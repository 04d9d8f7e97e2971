"""SavedModel export for TF Serving: explicit signatures, explicit state, the codec's compact inputs.

Signatures (batch of 1 or more frames of one size; H, W need not be multiples of 32 -- the
graph edge-pads internally and crops the outputs):

  key_frame(image uint8 [B, H, W, 3])
      -> logits float32 [B, H, W, K], labels int32 [B, H, W], context float32 [B, h, w, C]
  non_key_frame(image uint8 [B, H, W, 3], previous uint8 [B, H, W, 3],
                context float32 [B, h, w, C], motion int16 [B, ceil(Hc/8), ceil(Wc/8), 2])
      -> logits, labels, context (as above)

`assets/dataset.json` is the model's dataset descriptor (`tw_keras.dataset_info`): the class
names and colours of the K logits channels, in train-id order, for a serving client to read.

A model directory trained for stage 1 only (a per-frame TWNet) exports the per-frame CNN
alone: `key_frame` only, returning logits and labels (there is no context to carry).

The state a client carries from one frame to the next is (context, previous frame): the key
frame's (or the previous non-key frame's) context, and the previous decoded frame. `motion` is
the codec's block grid as decoded (quarter pixels, (dx, dy) = dst - src, one vector per 8x8
block of the 16-padded coded size; `codec.CompressedFrame.motion_grid`): a few kilobytes per
frame. The dense motion and the residual (docs/CONVENTIONS.md) are computed from it in the graph,
on the server's device (`twnet.TWNet.segment_non_key_frame`).
"""

import os

import keras
import tensorflow as tf

from tw_keras import dataset_info, fileio
from tw_keras.model import models, twnet


class ServingModule:
  """The per-frame CNN and, optionally, one non-key-frame model behind the serving functions
  (their inference copies, batch norms folded into the convolutions, with `fold_batch_norms`).
  Without an nkfc only `key_frame` is served, and it returns no context."""

  def __init__(self, net: twnet.TWNet, fold_batch_norms: bool = True):
    self.twnet = net.folded() if fold_batch_norms else net
    self.key_frame_signature = [tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")]
    self.non_key_frame_signature = None
    if net.has_non_key_frames:
      channels = net.nkfc.inputs[1].shape[-1]
      self.non_key_frame_signature = [
          tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
          tf.TensorSpec([None, None, None, 3], tf.uint8, name="previous"),
          tf.TensorSpec([None, None, None, channels], tf.float32, name="context"),
          tf.TensorSpec([None, None, None, 2], tf.int16, name="motion")]

  @staticmethod
  def _outputs(out):
    if out[models.PRED_CONTEXT] is None:
      return {k: v for k, v in out.items() if k != "context"}
    return {**out, models.PRED_CONTEXT: tf.cast(out[models.PRED_CONTEXT], tf.float32)}

  def key_frame(self, image):
    return self._outputs(self.twnet.segment_key_frame(image))

  def non_key_frame(self, image, previous, context, motion):
    return self._outputs(self.twnet.segment_non_key_frame(image, previous, context, motion))


def check_export_dir(export_dir: str):
  """Before any work: `export_dir` may be new, empty, or an earlier SavedModel (replaced
  atomically: the old one is moved aside only once the new one is complete); anything else
  is refused, so an export never overwrites a directory of other files. Raises
  `fileio.PathError` naming it."""
  export_dir = export_dir.rstrip("/") or "/"
  if os.path.exists(export_dir):
    if not os.path.isdir(export_dir):
      raise fileio.PathError(export_dir, "export directory is a file")
    if os.listdir(export_dir) and not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
      raise fileio.PathError(export_dir, "exists and is not a SavedModel (no saved_model.pb); not replacing "
                             "it: give a new or empty --export_dir")
  fileio.check_output_dir(os.path.dirname(os.path.abspath(export_dir)), "export directory's parent")


def export(net: twnet.TWNet, export_dir: str, fold_batch_norms: bool = True) -> str:
  """Writes the SavedModel to `export_dir` (via a temporary directory, then renamed over it;
  an earlier SavedModel there is replaced whole, see `check_export_dir`).

  A per-frame `net` (no non-key-frame model): the per-frame CNN alone (`key_frame` only).
  Written by `keras.export.ExportArchive`, so that it loads both ways: `tf.saved_model.load`
  and the TF1 session loader that TF Serving and `saved_model_cli run` use (restore through
  the MetaGraph's saver, run a signature in a session). A plain `tf.Module` around Keras 3
  models does not survive the latter ("Could not find variable ...").
  With `fold_batch_norms` the served models are the folded inference copies (`model.folding`).
  """
  check_export_dir(export_dir)
  module = ServingModule(net, fold_batch_norms)
  archive = keras.export.ExportArchive()
  archive.track(module.twnet.per_frame)
  archive.add_endpoint("key_frame", module.key_frame, input_signature=module.key_frame_signature)
  if module.non_key_frame_signature:
    archive.track(module.twnet.nkfc)
    archive.add_endpoint("non_key_frame", module.non_key_frame, input_signature=module.non_key_frame_signature)
  export_dir = export_dir.rstrip("/")
  with fileio.atomic_path(export_dir) as tmp:
    archive.write_out(tmp, verbose=False)
    dataset_info.save(os.path.join(tmp, "assets", dataset_info.DESCRIPTOR), net.dataset)
  return export_dir

"""SavedModel export for TF Serving: explicit signatures, explicit state, the codec's compact inputs.

Signatures (batch of 1 or more frames of one size; H, W need not be multiples of 32 -- the
graph edge-pads internally and crops the outputs):

  key_frame(image uint8 [B, H, W, 3])
      -> logits float32 [B, H, W, K], labels int32 [B, H, W], context float32 [B, h, w, C]
  non_key_frame(image uint8 [B, H, W, 3], previous uint8 [B, H, W, 3],
                context float32 [B, h, w, C], motion int16 [B, ceil(Hc/8), ceil(Wc/8), 2])
      -> logits, labels, context (as above)

The state a client carries from one frame to the next is (context, previous frame): the key
frame's (or the previous non-key frame's) context, and the previous decoded frame. `motion` is
the codec's block grid as decoded (quarter pixels, (dx, dy) = dst - src, one vector per 8x8
block of the 16-padded coded size; `codec.CompressedFrame.motion_grid`): a few kilobytes per
frame. The dense motion and the residual (REFERENCE.md) are computed from it in the graph,
on the server's device (`twnet.TWNet.segment_non_key_frame`).
"""

import os

import keras
import tensorflow as tf

from tw_keras import fileio
from tw_keras.model import twnet


class ServingModule:
  """The per-frame CNN and one non-key-frame model behind two serving functions (their
  inference copies, batch norms folded into the convolutions, with `fold_batch_norms`)."""

  def __init__(self, per_frame, nkfc, variant, fold_batch_norms: bool = True):
    self.twnet = twnet.TWNet(per_frame, nkfc, variant)
    if fold_batch_norms:
      self.twnet = self.twnet.folded()
    channels = nkfc.inputs[1].shape[-1]
    self.key_frame_signature = [tf.TensorSpec([None, None, None, 3], tf.uint8, name="image")]
    self.non_key_frame_signature = [
        tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
        tf.TensorSpec([None, None, None, 3], tf.uint8, name="previous"),
        tf.TensorSpec([None, None, None, channels], tf.float32, name="context"),
        tf.TensorSpec([None, None, None, 2], tf.int16, name="motion")]

  @staticmethod
  def _outputs(out):
    return {**out, "context": tf.cast(out["context"], tf.float32)}

  def key_frame(self, image):
    return self._outputs(self.twnet.segment_key_frame(image))

  def non_key_frame(self, image, previous, context, motion):
    return self._outputs(self.twnet.segment_non_key_frame(image, previous, context, motion))


def export(per_frame, nkfc, variant, export_dir: str, fold_batch_norms: bool = True) -> str:
  """Writes the SavedModel to `export_dir` (via a temporary directory, then renamed).

  Written by `keras.export.ExportArchive`, so that it loads both ways: `tf.saved_model.load`
  and the TF1 session loader that TF Serving and `saved_model_cli run` use (restore through
  the MetaGraph's saver, run a signature in a session). A plain `tf.Module` around Keras 3
  models does not survive the latter ("Could not find variable ...").
  With `fold_batch_norms` the served models are the folded inference copies (`model.folding`).
  """
  module = ServingModule(per_frame, nkfc, variant, fold_batch_norms)
  archive = keras.export.ExportArchive()
  archive.track(module.twnet.per_frame)
  archive.track(module.twnet.nkfc)
  archive.add_endpoint("key_frame", module.key_frame, input_signature=module.key_frame_signature)
  archive.add_endpoint("non_key_frame", module.non_key_frame, input_signature=module.non_key_frame_signature)
  export_dir = export_dir.rstrip("/")
  os.makedirs(os.path.dirname(os.path.abspath(export_dir)), exist_ok=True)
  with fileio.atomic_path(export_dir) as tmp:
    archive.write_out(tmp, verbose=False)
  return export_dir

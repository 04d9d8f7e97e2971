"""inference/export: the SavedModel round trip, the TF1 session loader TF Serving uses, and
padding of odd sizes inside the graph."""
import os

import numpy as np
import tensorflow as tf

from serving_helpers import _dense_inputs, _grid
from tw_keras import config as config_lib
from tw_keras.inference import export

TINY = config_lib.PRESETS["tiny"]


def test_saved_model_round_trip_matches_in_memory(tiny_models, tmp):
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  path = export.export(net, os.path.join(tmp, "sm", "1"))
  loaded = tf.saved_model.load(path)
  assert {"key_frame", "non_key_frame"} <= set(loaded.signatures)
  rng = np.random.default_rng(1)
  image = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  key = loaded.signatures["key_frame"](image=tf.constant(image))
  ref = per_frame(tf.constant(image, tf.float32), training=False)
  np.testing.assert_allclose(key["logits"].numpy(), ref["logits"].numpy(), atol=1e-4)
  np.testing.assert_allclose(key["context"].numpy(), ref["layer1"].numpy(), atol=1e-4)
  np.testing.assert_array_equal(key["labels"].numpy(), np.argmax(ref["logits"].numpy(), -1))
  previous = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  grid = _grid(rng, 64, 96)
  nk = loaded.signatures["non_key_frame"](image=tf.constant(image), previous=tf.constant(previous),
                                          context=key["context"], motion=tf.constant(grid[None]))
  motion, residual = _dense_inputs(image[0], previous[0], grid)
  ref_nk = nkfc([tf.constant(image, tf.float32), ref["layer1"], tf.constant(motion[None]),
                 tf.constant(residual[None])], training=False)
  np.testing.assert_allclose(nk["logits"].numpy(), ref_nk["logits"].numpy(), atol=1e-4)
  np.testing.assert_allclose(nk["context"].numpy(), ref_nk["context"].numpy(), atol=1e-4)


def test_saved_model_runs_under_the_session_loader_as_tf_serving_loads_it(tiny_models, tmp):
  """TF Serving and `saved_model_cli run` restore through the MetaGraph's saver and run a
  signature in a TF1 session; both signatures must work there and match the in-memory model."""
  net = tiny_models
  per_frame, nkfc = net.per_frame, net.nkfc
  path = export.export(net, os.path.join(tmp, "sm", "1"))
  rng = np.random.default_rng(3)
  image = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  previous = rng.integers(0, 255, (1, 64, 96, 3)).astype(np.uint8)
  grid = _grid(rng, 64, 96)
  motion, residual = _dense_inputs(image[0], previous[0], grid)
  ref = per_frame(tf.constant(image, tf.float32), training=False)
  ref_nk = nkfc([tf.constant(image, tf.float32), ref["layer1"], tf.constant(motion[None]),
                 tf.constant(residual[None])], training=False)
  with tf.compat.v1.Session(graph=tf.Graph()) as sess:
    meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
    key = meta.signature_def["key_frame"]
    logits, context = sess.run([key.outputs["logits"].name, key.outputs["context"].name],
                               {key.inputs["image"].name: image})
    nk = meta.signature_def["non_key_frame"]
    feed = {nk.inputs["image"].name: image, nk.inputs["previous"].name: previous,
            nk.inputs["context"].name: context, nk.inputs["motion"].name: grid[None]}
    nk_logits = sess.run(nk.outputs["logits"].name, feed)
  np.testing.assert_allclose(logits, ref["logits"].numpy(), atol=1e-4)
  np.testing.assert_allclose(context, ref["layer1"].numpy(), atol=1e-4)
  np.testing.assert_allclose(nk_logits, ref_nk["logits"].numpy(), atol=1e-4)


def test_saved_model_pads_odd_sizes_inside(tiny_models, tmp):
  net = tiny_models
  per_frame = net.per_frame
  loaded = tf.saved_model.load(export.export(net, os.path.join(tmp, "sm2")))
  image = np.random.default_rng(2).integers(0, 255, (2, 50, 70, 3)).astype(np.uint8)
  key = loaded.signatures["key_frame"](image=tf.constant(image))
  assert key["labels"].shape == (2, 50, 70) and key["context"].shape == (2, 4, 6, TINY.lateral_filters[0])  # padded 64x96 / 16
  padded = np.pad(image, ((0, 0), (0, 14), (0, 26), (0, 0)), mode="edge")
  ref = per_frame(tf.constant(padded, tf.float32), training=False)["logits"].numpy()[:, :50, :70]
  np.testing.assert_allclose(key["logits"].numpy(), ref, atol=1e-4)

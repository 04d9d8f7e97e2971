r"""Export a trained model as a SavedModel for TF Serving (signatures in tw_keras/inference/export.py).

  python -m experiments.export_saved_model --model_dir=runs/cpu --export_dir=runs/cpu/saved_model/1

TF Serving expects a numbered version directory (.../saved_model/1).
"""

import os

from absl import flags

from tw_keras import cli


FLAGS = flags.FLAGS
DEFAULT_VARIANT = "layer1_cfr_rga"


def define_flags():
  flags.DEFINE_string("model_dir", None, "Trained model directory.", required=True)
  flags.DEFINE_string("export_dir", None, "SavedModel directory to write (new, empty, or an earlier SavedModel, "
                      "which is replaced whole).", required=True)
  flags.DEFINE_string("variant", None, "Non-key-frame variant to export; 'per_frame' for the per-frame CNN alone. "
                      f"Default: {DEFAULT_VARIANT} when the model directory holds its stage-2 weights, else the "
                      "per-frame CNN alone (a stage-1-only directory).")
  flags.DEFINE_bool("fold_batch_norms", True, "Export inference copies with the batch norms folded into the "
                    "convolutions (faster; the same outputs up to float32 rounding).")


def main(argv):
  del argv
  from tw_keras.inference import export  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  export.check_export_dir(FLAGS.export_dir)  # before the model loads
  model_dir_lib.load_model_config(FLAGS.model_dir)  # a model directory, before any notice
  name = FLAGS.variant
  if name is None:
    trained = os.path.exists(model_dir_lib.nkfc_weights(FLAGS.model_dir, DEFAULT_VARIANT))
    name = DEFAULT_VARIANT if trained else "per_frame"
    if not trained:
      print(f"{FLAGS.model_dir}: no stage-2 weights for {DEFAULT_VARIANT}; exporting the per-frame CNN alone "
            "(key_frame signature only)")
  net = model_dir_lib.load(FLAGS.model_dir, name)
  module_path = export.export(net, FLAGS.export_dir, FLAGS.fold_batch_norms)
  print(f"SavedModel with signature(s) {', '.join(['key_frame'] + (['non_key_frame'] if net.has_non_key_frames else []))}: "
        f"{module_path}")


if __name__ == "__main__":
  define_flags()
  cli.run(main)

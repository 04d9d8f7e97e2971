r"""Export a trained model as a SavedModel for TF Serving (signatures in tw_keras/export.py).

  python -m experiments.export_saved_model --model_dir=runs/cpu --export_dir=runs/cpu/saved_model/1

TF Serving expects a numbered version directory (.../saved_model/1).
"""


from absl import flags

from tw_keras import cli


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("model_dir", None, "Trained model directory.", required=True)
  flags.DEFINE_string("export_dir", None, "SavedModel directory to write.", required=True)
  flags.DEFINE_string("variant", "layer1_cfr_rga", "Non-key-frame variant to export.")
  flags.DEFINE_bool("fold_batch_norms", True, "Export inference copies with the batch norms folded into the "
                    "convolutions (faster; the same outputs up to float32 rounding).")


def main(argv):
  del argv
  from tw_keras import config as config_lib  # pylint: disable=g-import-not-at-top
  from tw_keras.inference import export  # pylint: disable=g-import-not-at-top
  from tw_keras.model import model_dir as model_dir_lib  # pylint: disable=g-import-not-at-top
  _, per_frame, nk = model_dir_lib.load_trained(FLAGS.model_dir, [FLAGS.variant])
  path = export.export(per_frame, nk[FLAGS.variant], config_lib.VARIANTS[FLAGS.variant], FLAGS.export_dir,
                       FLAGS.fold_batch_norms)
  print(f"SavedModel with signatures key_frame, non_key_frame: {path}")


if __name__ == "__main__":
  define_flags()
  cli.run(main)

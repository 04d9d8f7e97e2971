"""The one error path of every entry point (`data_prep/`, `experiments/`, `benchmarks/`).

`cli.run(main)` replaces `absl.app.run(main)`. A failure prints ONE line,
`error: <file>: <problem>`, and exits 1; Ctrl-C (SIGINT) or SIGTERM prints one line and
exits 130. `--verbose` (defined by `run`, for every entry point) also prints the
traceback. This is the only library module that touches flags.

Start-up is quiet: TensorFlow is imported, and its devices found, with file descriptor 2
pointed at /dev/null. TensorFlow's C++ start-up lines ("Could not find cuda drivers", "failed
call to cuInit", the CPU-feature notice) are written there before its own log level applies,
so no environment variable silences them. After that `TF_CPP_MIN_LOG_LEVEL` defaults to 2
(warnings and info off), and absl's Python log shows warnings and errors only. `--verbose` shows
everything.
"""

import os
import signal
import sys
import traceback

from absl import app, flags
from absl import logging as absl_logging

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class Interrupted(Exception):
  """Raised by code that stopped cleanly on SIGINT/SIGTERM (e.g. training after saving)."""


def describe(exc: BaseException) -> str:
  """One line naming the file (when known) and the problem."""
  path = getattr(exc, "path", None) or getattr(exc, "filename", None)
  problem = getattr(exc, "problem", None) or getattr(exc, "strerror", None) or getattr(exc, "message", None)
  if path and problem:
    text = f"{path}: {problem}"
  else:
    text = str(exc) or type(exc).__name__
  line = " ".join(text.strip().split("\n")[0].split())
  return line if line else type(exc).__name__


def _sigterm(signum, frame):
  del signum, frame
  raise KeyboardInterrupt


def quiet_tensorflow_startup():
  """Imports TensorFlow and lists its devices with fd 2 silenced (module doc). An import
  failure is raised as usual, with stderr restored first."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.stderr.flush()
  saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def run(main):
  """absl's app.run with the project's error path (defines --verbose) and a quiet start-up."""
  if "verbose" not in flags.FLAGS:
    flags.DEFINE_bool("verbose", False, "On failure, print the full traceback too; show TensorFlow's "
                      "start-up lines.")

  def guarded(argv):
    signal.signal(signal.SIGTERM, _sigterm)
    try:
      if not flags.FLAGS.verbose:
        quiet_tensorflow_startup()
        absl_logging.set_verbosity(absl_logging.WARNING)  # TF's Python INFO lines (SavedModel, checkpoints)
      return main(argv)
    except (KeyboardInterrupt, Interrupted) as e:
      if flags.FLAGS.verbose:
        traceback.print_exc()
      msg = describe(e) if isinstance(e, Interrupted) else "interrupted"
      print(f"interrupted: {msg}" if isinstance(e, Interrupted) else msg, file=sys.stderr)
      sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
      raise
    except Exception as e:  # pylint: disable=broad-except
      if flags.FLAGS.verbose:
        traceback.print_exc()
      print(f"error: {describe(e)}", file=sys.stderr)
      sys.exit(EXIT_ERROR)

  app.run(guarded)

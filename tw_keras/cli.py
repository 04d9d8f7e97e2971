"""The one error path of every entry point (`data_prep/`, `experiments/`, `benchmarks/`).

`cli.run(main)` replaces `absl.app.run(main)`. A failure prints ONE line,
`error: <file>: <problem>`, and exits 1; Ctrl-C (SIGINT) or SIGTERM prints one line and
exits 130. `--verbose` (defined by `run`, for every entry point) also prints the
traceback. This is the only library module that touches flags.
"""

import signal
import sys
import traceback

from absl import app, flags

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


def run(main):
  """absl's app.run with the project's error path (defines --verbose)."""
  if "verbose" not in flags.FLAGS:
    flags.DEFINE_bool("verbose", False, "On failure, print the full traceback too.")

  def guarded(argv):
    signal.signal(signal.SIGTERM, _sigterm)
    try:
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

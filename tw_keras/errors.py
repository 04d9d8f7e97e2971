"""THE input-error type: a file (or directory) the job cannot use as it is, and why.

Every bad-input path raises an `InputError(path, problem)`, or one of the subclasses that say
what kind of file it is; every entry point prints it as one line, `error: PATH: PROBLEM`, and
exits 1 (`tw_keras.cli`).

  InputError   a dataset layout, a descriptor, an input list, a shard a pipeline wrote
  VideoError   a video (or image frames) that cannot be read, or is damaged
  LabelError   a label file that does not fit its dataset descriptor
  PathError    a path a job cannot write
"""


class InputError(Exception):
  """Bad input: a one-line message that names the file and the problem."""

  def __init__(self, path, problem):
    self.path, self.problem = str(path), problem
    super().__init__(f"{self.path}: {problem}")

  def __reduce__(self):  # pickles across worker processes with both arguments
    return type(self), (self.path, self.problem)


class VideoError(InputError):
  """A video, or frames given as images, that cannot be read or is damaged."""


class LabelError(InputError, ValueError):
  """A label file that does not fit its descriptor (also a ValueError, as it always was)."""


class PathError(InputError):
  """A path the job cannot write."""

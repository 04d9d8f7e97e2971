"""The one error type of bad video input: a one-line message that names the file and the problem.

Every entry point prints it as `error: FILE: PROBLEM` (`tw_keras.cli`).
"""


class VideoError(Exception):
  """Bad input: a one-line message that names the file and the problem."""

  def __init__(self, path, problem):
    self.path = str(path)
    self.problem = problem
    super().__init__(f"{self.path}: {problem}")

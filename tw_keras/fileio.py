"""Crash-safe file writing and single-writer locks: the one place for both rules.

Every file the project writes goes through `atomic_path` (or a helper built on it):
the content goes to a temporary name in the same directory (same extension, so writers
that choose a format by extension still work), is flushed to disk (fsync), and is renamed
over the final name. A reader therefore sees the old file or the new one, never half of
one; a killed writer leaves at most a `.tmp-*` file, which `remove_leftovers` deletes.

`DirectoryLock` is an OS file lock (fcntl.flock) on `DIR/.lock`: the kernel releases it
when the holder dies, even by kill -9, so a stale lock never blocks a later job.
"""

import contextlib
import fcntl
import glob
import json
import os
import shutil
import tempfile
from typing import Iterator

from tw_keras.errors import PathError  # pylint: disable=unused-import

TMP_MARK = ".tmp-"  # temporary files start with it


def _fsync_dir(directory: str):
  try:
    fd = os.open(directory or ".", os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


def temporary_name(path: str) -> str:
  """`dir/.tmp-PID.name`: same directory and full name ending (`.weights.h5`, `.mp4`: writers
  that pick a format by extension still work), unique per process."""
  directory, name = os.path.split(str(path))
  return os.path.join(directory, f"{TMP_MARK}{os.getpid()}.{name}")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path to write; on success fsyncs and renames it to `path`.

  On an exception the temporary file (or directory) is removed and `path` is untouched.
  """
  path = str(path)
  tmp = temporary_name(path)
  try:
    yield tmp
    if os.path.exists(tmp):  # nothing written: leave `path` as it was
      commit(tmp, path)
  finally:
    discard(tmp)


def commit(tmp: str, path: str):
  """fsyncs `tmp` (a file or directory) and renames it over `path`."""
  if os.path.isdir(tmp):
    if os.path.isdir(path):  # replacing a directory: move the old one aside first
      old = tmp + ".old"
      os.replace(path, old)
      os.replace(tmp, path)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(tmp, path)
  else:
    with open(tmp, "rb+") as f:
      os.fsync(f.fileno())
    os.replace(tmp, path)
  _fsync_dir(os.path.dirname(path))


def discard(tmp: str):
  """Removes a temporary file or directory, if it is there."""
  if os.path.isdir(tmp):
    shutil.rmtree(tmp, ignore_errors=True)
  elif os.path.exists(tmp):
    os.remove(tmp)


def is_remote(path: str) -> bool:
  """A URI that only TensorFlow's file systems reach (gs://, s3://, hdfs://, ...)."""
  return "://" in str(path) and not str(path).startswith("file://")


@contextlib.contextmanager
def atomic_uri(path: str) -> Iterator[str]:
  """`atomic_path` for local paths. For a remote URI (through `tf.io.gfile`): a temporary
  object in the same directory, renamed over `path` on success (object stores copy, then
  delete: readers still see the old object or the new one), removed on failure."""
  if not is_remote(path):
    with atomic_path(path) as tmp:
      yield tmp
    return
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tmp = temporary_name(path)
  try:
    yield tmp
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.rename(tmp, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)


def open_file(path: str, mode: str = "rb"):
  """`open` for local paths, `tf.io.gfile.GFile` for remote URIs."""
  if not is_remote(path):
    return open(path, mode)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile.GFile(path, mode)


def exists(path: str) -> bool:
  """`os.path.exists` for local paths, `tf.io.gfile.exists` for remote URIs."""
  if not is_remote(path):
    return os.path.exists(path)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile.exists(path)


def write_bytes(path: str, data: bytes):
  with atomic_uri(path) as tmp, open_file(tmp, "wb") as f:
    f.write(data)


def write_text(path: str, text: str):
  write_bytes(path, text.encode("utf-8"))


def write_json(path: str, obj, indent: int = 2):
  write_text(path, json.dumps(obj, indent=indent, sort_keys=True, default=float) + "\n")


def check_output_dir(path: str, what: str = "output directory"):
  """Creates directory `path` if needed and proves it writable (a probe file), before any
  work; raises PathError naming it otherwise."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise PathError(path, f"{what} is a file, not a directory")
  try:
    os.makedirs(path, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=TMP_MARK + "probe-", dir=path)
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    raise PathError(path, f"{what} is not writable ({e.strerror})") from None


def check_output_file(path: str, what: str = "output file"):
  """Proves that file `path` can be written (atomically: a temporary name beside it, then a
  rename): not a directory, and its directory exists or can be made, and is writable."""
  if os.path.isdir(path):
    raise PathError(path, f"{what} is a directory")
  directory = os.path.dirname(os.path.abspath(path))
  if os.path.exists(directory) and not os.path.isdir(directory):
    raise PathError(path, f"cannot write the {what}: {directory} is a file, not a directory")
  try:
    check_output_dir(directory)
  except PathError as e:
    raise PathError(path, f"cannot write the {what}: {e.problem}") from None


def remove_leftovers(directory: str) -> int:
  """Deletes temporary files/directories that killed writers left in `directory`."""
  n = 0
  for p in glob.glob(os.path.join(glob.escape(directory), f"{TMP_MARK}*")):
    shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else os.remove(p)
    n += 1
  return n


class LockedError(OSError):
  """Another live process holds the directory's lock."""

  def __init__(self, directory: str, holder: str):
    super().__init__(f"{directory}: another job is writing here ({holder}); wait for it or use another directory")
    self.path, self.problem = directory, f"another job is writing here ({holder})"


class DirectoryLock:
  """`with DirectoryLock(dir):` -- exclusive, non-blocking; raises LockedError if held."""

  NAME = ".lock"

  def __init__(self, directory: str):
    self.directory = directory
    self.path = os.path.join(directory, self.NAME)
    self.fd = None

  def __enter__(self):
    os.makedirs(self.directory, exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.read(fd, 100).decode(errors="replace").strip() or "unknown pid"
      os.close(fd)
      raise LockedError(self.directory, holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}".encode())
    self.fd = fd
    return self

  def __exit__(self, *exc):
    fcntl.flock(self.fd, fcntl.LOCK_UN)
    os.close(self.fd)
    self.fd = None

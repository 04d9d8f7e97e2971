"""One source -> its compressed-domain GOPs: THE per-sequence transform of every build.

Plain arguments only; flags live in `data_prep/build_tfrecords.py`.

A *source* (found by `layouts`) is one sequence: a Cityscapes-layout snippet (an ordered list
of image files, optionally with label files), a video file, or a labelled video's windows
(CamVid, a user's `labelled_video`: the `num_frames` frames ending at each labelled frame, one
GOP each). Each source is transcoded to the canonical stream (`codec.transcode`), decoded once
(`codec.decode_compressed`), and written as one `tf.train.SequenceExample` per GOP
(`tw_keras.data.features` documents every feature).

Labels are read by `label_files.read_label`; sources become shards with the process pool in
`shards` (`write_shards`).
"""

import collections
import dataclasses
import os
import pickle
import tempfile
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from tw_keras.video import codec
from tw_keras.video.sources import CorruptFrames
from tw_keras.data import features, records
from tw_keras.data.label_files import read_label
from tw_keras import dataset_info
from tw_keras.errors import LabelError

VideoError = codec.VideoError

@dataclasses.dataclass(frozen=True)
class Source:
  """One sequence to convert.

  Attributes:
    sequence_id: stable name, e.g. "val/frankfurt_000003" or a video's relative path.
    video: path of a video file, or None for an image sequence.
    images: ordered image paths (image sequences).
    labels: per-frame label path or None (indexed by decoded frame: image, or video frame);
      a given path must exist. Cityscapes' `*labelIds.png` hold source ids and
      `*labelTrainIds.png` train ids; other files are in the descriptor's encoding.
    first_index: the record frame index of decoded frame 0 (e.g. 8 for Cityscapes GOPs; minus
      the sequence's frame offset for a labelled video, so records count as its labels do).
    windows: labelled videos only: (first, last) decoded frame indices, inclusive, of each GOP
      to encode; the video is decoded once and each window becomes one record.
    resize_labels: labels of another size but the frame's aspect ratio are resized to the
      frame (nearest neighbour), as SegNet's half-size CamVid labels need.
  """
  sequence_id: str
  video: Optional[str] = None
  images: Tuple[str, ...] = ()
  labels: Tuple[Optional[str], ...] = ()
  first_index: int = 0
  windows: Tuple[Tuple[int, int], ...] = ()
  resize_labels: bool = False


@dataclasses.dataclass(frozen=True)
class PrepOptions:
  """How sources are encoded. `dataset`: the descriptor their labels are read with.
  `allow_corrupt_frames`: keep a source whose decoder flags frames as corrupt (concealed
  damage; `video.sources.CorruptFrames`) and record them, instead of refusing it."""
  encode: codec.EncodeOptions = codec.EncodeOptions()
  residual_mode: str = "step"
  dataset: dataset_info.DatasetInfo = dataset_info.CITYSCAPES
  allow_corrupt_frames: bool = False


def _check_labels_exist(source: Source):
  for path in source.labels:
    if path is not None and not os.path.exists(path):
      raise LabelError(path, "missing label file")


def sequence_gops(source: Source, options: PrepOptions, work_dir: Optional[str] = None,
                  corrupt: Optional[CorruptFrames] = None
                  ) -> Iterator[Tuple[Dict[str, object], List[Dict[str, object]]]]:
  """THE per-sequence transform: transcode -> one-pass decode -> (context, frames) per GOP.

  Every driver (the local pool here, the Beam pipeline in `beam_build`) calls it; each GOP
  becomes one record via `records.to_sequence_example(context, frames)`. The canonical
  stream is written to a temporary directory under `work_dir` (default: the system's) and
  removed when the generator finishes or is closed. Raises InputError on bad input (a
  VideoError, a LabelError), among it
  frames the decoder flags as corrupt, unless `options.allow_corrupt_frames`; then their
  indices (the source's decoded frames) go to `corrupt.frames`.
  """
  corrupt = corrupt or CorruptFrames(options.allow_corrupt_frames)
  _check_labels_exist(source)  # fail before the (slow) transcode
  with tempfile.TemporaryDirectory(prefix="transcode_", dir=work_dir) as tmp:
    stream = os.path.join(tmp, "canonical.mp4")
    if not source.windows:
      codec.transcode(source.video or list(source.images), stream, options.encode, corrupt)
      yield from _stream_gops(source, options, stream, 0, 0)
      return
    for gop_index, (first, frames) in enumerate(_windows(source, corrupt)):
      codec.encode_frames(frames, stream, options.encode, source_name=source.video or source.sequence_id)
      yield from _stream_gops(source, options, stream, first, gop_index)


def _stream_gops(source: Source, options: PrepOptions, stream: str, first: int, gop_index: int):
  """(context, frames) of each GOP of the canonical `stream`, whose frame 0 is the source's
  decoded frame `first`; GOPs are numbered from `gop_index`."""
  gop: List[Dict[str, object]] = []
  size = cell = None

  def context():
    return {features.SEQUENCE_ID: source.sequence_id, features.SEQUENCE_GOP_INDEX: gop_index,
            features.HEIGHT: size[0], features.WIDTH: size[1], features.GOP: options.encode.gop,
            features.MOTION_CELL: cell, features.RESIDUAL_MODE: options.residual_mode}

  for frame in codec.decode_compressed(stream, residual_mode=options.residual_mode, with_residual=False):
    if frame.pict_type == "I" and gop:
      yield context(), gop
      gop, gop_index = [], gop_index + 1
    size, cell = frame.rgb.shape[:2], frame.motion_cell
    i = first + frame.index
    label_path = source.labels[i] if i < len(source.labels) else None
    label = read_label(label_path, size, options.dataset, source.resize_labels) if label_path else None
    gop.append(records.encode_frame(frame, label, source.first_index + i))
  if gop:
    yield context(), gop


def _windows(source: Source, corrupt: CorruptFrames) -> Iterator[Tuple[int, List[np.ndarray]]]:
  """(first, [frames first..last]) of each of the source's windows, in order, decoding its
  video once and holding only the longest window's frames (`corrupt`: as `sequence_gops`)."""
  longest = max(last - first + 1 for first, last in source.windows)
  held = collections.deque(maxlen=longest)
  todo = sorted(source.windows, key=lambda w: w[1])
  count = 0
  name = source.video or source.sequence_id
  for index, rgb in enumerate(codec.iter_source_frames(source.video or list(source.images), corrupt=corrupt)):
    held.append(rgb)
    count = index + 1
    while todo and todo[0][1] == index:
      first, last = todo.pop(0)
      yield first, list(held)[len(held) - (last - first + 1):]
    if not todo:
      corrupt.check(name)  # decoding stops here, before the end of the video
      return
  last = todo[0][1]
  raise VideoError(source.video or source.sequence_id, f"has {count} frames, but a label names its frame {last}"
                   + (f" ({source.labels[last]})" if last < len(source.labels) and source.labels[last] else ""))


def encode_source(source: Source, options: PrepOptions, spill_path: str) -> Dict[str, int]:
  """The local pool's worker: streams `sequence_gops` as pickles to `spill_path`.

  Returns counts: {"frames", "gops"}. Raises InputError on bad input.
  """
  counts = {"frames": 0, "gops": 0}
  corrupt = CorruptFrames(options.allow_corrupt_frames)
  # The canonical stream lives next to the spill file, inside the job's spill directory,
  # which the parent removes whatever happens (also when it terminates the workers).
  with open(spill_path, "wb") as spill:
    for context, frames in sequence_gops(source, options, os.path.dirname(spill_path) or None, corrupt):
      pickle.dump((context, frames), spill, protocol=pickle.HIGHEST_PROTOCOL)
      counts["gops"] += 1
      counts["frames"] += len(frames)
  if corrupt.frames:
    counts["corrupt_frames"] = corrupt.frames
  return counts

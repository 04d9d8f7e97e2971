"""Building TFRecord examples from decoded compressed-domain frames (NumPy side).

`encode_frame` turns one `codec.CompressedFrame` (+ optional label) into the per-frame
byte strings documented in `tw_keras.data.features`; `to_sequence_example` packs a GOP of them
into a `tf.train.SequenceExample`. The matching TF parser lives in `tw_keras.data.dataset`.
`decode_array` is the NumPy inverse of the array encoding, for tests and tools.

Only `to_sequence_example` imports TensorFlow (lazily), so preparation workers that
encode frames never pay TensorFlow's start-up.
"""

import zlib
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from tw_keras.data import features

ZLIB_LEVEL = 1  # fast; motion grids are mostly runs of equal vectors and compress well at level 1


def encode_array(array: np.ndarray) -> bytes:
  """int16 array -> zlib-compressed raw little-endian bytes (shape kept by the caller)."""
  return zlib.compress(np.ascontiguousarray(array, dtype="<i2").tobytes(), ZLIB_LEVEL)


def decode_array(data: bytes, shape: Sequence[int]) -> np.ndarray:
  return np.frombuffer(zlib.decompress(data), dtype="<i2").reshape(shape)


def encode_png(array: np.ndarray, rgb: bool = False) -> bytes:
  """uint8 [H, W] or RGB [H, W, 3] array -> PNG bytes."""
  if rgb:
    array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)  # OpenCV writes BGR input as RGB files
  ok, buf = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
  if not ok:
    raise ValueError("PNG encoding failed")
  return buf.tobytes()


def encode_frame(frame, label: Optional[np.ndarray], source_index: int) -> Dict[str, object]:
  """One `codec.CompressedFrame` -> {feature key: bytes or int} for one frame.

  Args:
    frame: the decoded frame (rgb [H, W, 3], motion_grid). Its residual is not stored: the
      model computes it from the reference frame and the motion grid (`compensation.dense_inputs`).
    label: [H, W] uint8 trainIds, or None when the frame is unlabelled.
    source_index: index of the frame in its source sequence (e.g. 8..19 in Cityscapes).
  """
  return {
      features.FRAME_INDEX: int(source_index),
      features.PICT_TYPE: frame.pict_type.encode(),
      features.IMAGE: encode_png(frame.rgb, rgb=True),
      features.MOTION: encode_array(frame.motion_grid),
      features.LABEL: b"" if label is None else encode_png(label),
  }


def to_sequence_example(context: Dict[str, object], frames: List[Dict[str, object]]):
  """Packs {context key: value} and per-frame dicts into a serialized SequenceExample."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def feature(value):
    if isinstance(value, (bytes, str)):
      value = value.encode() if isinstance(value, str) else value
      return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

  lists = {key: tf.train.FeatureList(feature=[feature(f[key]) for f in frames])
           for key in frames[0]}
  return tf.train.SequenceExample(
      context=tf.train.Features(feature={k: feature(v) for k, v in context.items()}),
      feature_lists=tf.train.FeatureLists(feature_list=lists)).SerializeToString(deterministic=True)


def count_records(path: str) -> int:
  """The number of records in a TFRecord file, walking its framing (12-byte length header,
  data, 4-byte CRC) without reading the data; local paths and URIs (`fileio.open_file`).

  Raises:
    ValueError: the file is not a whole number of records (truncated, or not a TFRecord file).
  """
  from tw_keras import fileio  # pylint: disable=g-import-not-at-top
  n = 0
  with fileio.open_file(path, "rb") as f:
    f.seek(0, 2)
    size = f.tell()
    offset = 0
    while offset < size:
      f.seek(offset)
      header = f.read(12)
      if len(header) < 12:
        raise ValueError(f"{path}: truncated TFRecord header at byte {offset}")
      offset += 12 + int.from_bytes(header[:8], "little") + 4
      if offset > size:
        raise ValueError(f"{path}: truncated record {n} (ends at byte {offset} of {size})")
      n += 1
  return n

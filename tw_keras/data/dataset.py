"""tf.data reader: compressed-domain GOP records -> clips ready for training and evaluation.

A *clip* is a key frame followed by the frames the non-key-frame CNN chains through, with
the codec's compact inputs and the labels (keys in `tw_keras.data.features`)::

  images      [T, H, W, 3] uint8     decoded frames
  references  [T, H, W, 3] uint8     each frame's residual reference: the previous frame
                                     ("step" records) or the record's I-frame ("accumulate")
  motion_grid [T, h', w', 2] int16   the records' quarter-pel grid (cells of `motion_cell`)
  motion_cell []           int32     8 (the codec's block grid) or 1 (per pixel)
  labels      [T, H, W]    int32     trainIds, 255 = ignore (and unlabelled frames)
  has_label   [T]          bool
  pict_types [T] string, frame_index [T] int64, sequence_id [] string

This is the network's one input contract (`twnet.TWNet.non_key_frame_from_codec`): the
dense motion and the residual are expanded inside the model, never here. The first frame of
a clip is its key frame, whatever its picture type (the per-frame CNN runs on it).
"""

from typing import Optional

import tensorflow as tf

from tw_keras.data import features
from tw_keras import dataset_info
from tw_keras.video import motion  # the stream's units: quarter-pel motion, 16-pixel macroblocks

_CONTEXT = {
    features.SEQUENCE_ID: tf.io.FixedLenFeature([], tf.string),
    features.SEQUENCE_GOP_INDEX: tf.io.FixedLenFeature([], tf.int64),
    features.HEIGHT: tf.io.FixedLenFeature([], tf.int64),
    features.WIDTH: tf.io.FixedLenFeature([], tf.int64),
    features.GOP: tf.io.FixedLenFeature([], tf.int64),
    features.MOTION_CELL: tf.io.FixedLenFeature([], tf.int64),
    features.RESIDUAL_MODE: tf.io.FixedLenFeature([], tf.string),
}
_SEQUENCE = {
    features.FRAME_INDEX: tf.io.FixedLenSequenceFeature([], tf.int64),
    features.PICT_TYPE: tf.io.FixedLenSequenceFeature([], tf.string),
    features.IMAGE: tf.io.FixedLenSequenceFeature([], tf.string),
    features.MOTION: tf.io.FixedLenSequenceFeature([], tf.string),
    features.LABEL: tf.io.FixedLenSequenceFeature([], tf.string),
}


def dataset_info_of(data_dir: str) -> dataset_info.DatasetInfo:
  """The records' dataset descriptor (`data_dir/dataset.json`, written by data_prep); records
  made before descriptors existed are Cityscapes'."""
  return dataset_info.in_directory(data_dir, dataset_info.CITYSCAPES)


def shard_files(data_dir: str, split: str):
  """Sorted shard paths of `split` in `data_dir`: one complete `-of-N` set.

  Raises FileNotFoundError if there is none, ValueError if shards of two runs with different
  counts are mixed or the set is incomplete (a reader must never mix or drop sequences).
  """
  sets = features.shard_sets(data_dir, split)
  if not sets:
    raise FileNotFoundError(f"{data_dir}: no {split}-*-of-*.tfrecord shards (run data_prep first)")
  if len(sets) > 1:
    raise ValueError(f"{data_dir}: {split} shards of different runs are mixed "
                     f"(-of-{', -of-'.join(f'{n:05d}' for n in sorted(sets))}); rerun data_prep into this "
                     "directory, which removes the stale set")
  (count, files), = sets.items()
  if len(files) != count:
    raise ValueError(f"{data_dir}: incomplete {split} shard set: {len(files)} of {count} shards "
                     "(rerun data_prep to finish it)")
  return files


def _decode_int16(data):
  return tf.io.decode_raw(tf.io.decode_compressed(data, "ZLIB"), tf.int16, little_endian=True)


def _motion_grid(data, width, cell):
  """zlib int16 quarter-pel grid -> [h', w', 2] int16."""
  # Block grids (cell 8) cover the coded, 16-padded width; per-pixel fields (cell 1) the frame.
  coded_width = motion.coded_length(width)
  grid_width = tf.where(cell > 1, coded_width, width) // cell
  return tf.reshape(_decode_int16(data), [-1, grid_width, 2])


def _references(images, mode):
  """[T, H, W, 3] uint8: each frame's residual reference in a GOP record -- the previous
  frame ("step") or the record's first frame, its I-frame ("accumulate")."""
  t = tf.range(tf.shape(images)[0])
  return tf.gather(images, tf.where(tf.equal(mode, b"accumulate"), tf.zeros_like(t), tf.maximum(t - 1, 0)))


def parse_gop(serialized, with_motion: bool = True):
  """One serialized GOP record -> clip dictionary over all its frames (see module doc).

  With `with_motion=False` the motion grid and the references are left out (and not
  decoded): what per-frame training needs.
  """
  context, seq = tf.io.parse_single_sequence_example(serialized, _CONTEXT, _SEQUENCE)
  h = tf.cast(context[features.HEIGHT], tf.int32)
  w = tf.cast(context[features.WIDTH], tf.int32)
  cell = tf.cast(context[features.MOTION_CELL], tf.int32)

  def decode_label(label):
    return tf.cond(tf.strings.length(label) > 0,
                   lambda: tf.cast(tf.reshape(tf.io.decode_png(label, channels=1), [h, w]), tf.int32),
                   lambda: tf.fill([h, w], dataset_info.IGNORE_LABEL))

  images = tf.map_fn(lambda im: tf.reshape(tf.io.decode_png(im, channels=3), [h, w, 3]), seq[features.IMAGE],
                     fn_output_signature=tf.uint8)
  out = {features.CLIP_IMAGES: images,
         features.CLIP_LABELS: tf.map_fn(decode_label, seq[features.LABEL], fn_output_signature=tf.int32)}
  if with_motion:
    grids = tf.map_fn(lambda m: _motion_grid(m, w, cell), seq[features.MOTION], fn_output_signature=tf.int16)
    out[features.CLIP_MOTION_GRID] = grids
    out[features.CLIP_MOTION_CELL] = cell
    out[features.CLIP_REFERENCES] = _references(images, context[features.RESIDUAL_MODE])
  return {
      **out,
      features.CLIP_HAS_LABEL: tf.strings.length(seq[features.LABEL]) > 0,
      features.CLIP_PICT_TYPES: seq[features.PICT_TYPE],
      features.CLIP_FRAME_INDEX: seq[features.FRAME_INDEX],
      features.CLIP_SEQUENCE_ID: context[features.SEQUENCE_ID],
  }


_PER_CLIP = (features.CLIP_SEQUENCE_ID, features.CLIP_MOTION_CELL)  # one value per clip, not per frame


def slice_clip(gop, start, length):
  """Frames [start, start + length) of a parsed GOP (per-frame keys only are sliced)."""
  return {k: (v if k in _PER_CLIP else v[start:start + length]) for k, v in gop.items()}


def motion_cell(files) -> int:
  """The motion grid's cell of a shard set's records (8 or 1), from its first record."""
  for record in tf.data.TFRecordDataset(list(files)).take(1):
    context, _ = tf.io.parse_single_sequence_example(record, _CONTEXT, {})
    return int(context[features.MOTION_CELL])
  raise ValueError(f"{files[0] if files else '(no shards)'}: no records")


def sample_clip(gop, length: int, seed):
  """A `length`-frame clip that ends on a labelled frame drawn uniformly (stateless `seed` [2]).

  The first frame is the clip's key frame. On the synthetic data every frame is labelled, so
  the start is uniform over the GOP; on Cityscapes (only frame 19 annotated) clips end on 19.
  GOPs with no labelled frame late enough give a uniform start. `has_label` is dropped.
  """
  n = tf.shape(gop[features.CLIP_IMAGES])[0]
  late = tf.range(n) >= length - 1
  ends = tf.where(gop[features.CLIP_HAS_LABEL] & late)[:, 0]
  ends = tf.cond(tf.size(ends) > 0, lambda: ends, lambda: tf.where(late)[:, 0])
  pick = tf.random.stateless_uniform([], seed, 0, tf.size(ends), dtype=tf.int32)
  start = tf.cast(ends[pick], tf.int32) - (length - 1)
  clip = slice_clip(gop, start, length)
  clip.pop(features.CLIP_HAS_LABEL)
  return clip


def raise_if_corrupt(files):
  """Reads and parses every shard in turn; raises ValueError naming the first corrupt one."""
  for path in files:
    try:
      for _ in gop_dataset([path], with_motion=False):
        pass
    except tf.errors.OpError as e:
      raise ValueError(f"{path}: corrupt TFRecord shard ({e.message.splitlines()[0][:100]}); "
                       "rebuild it with data_prep") from None


def gop_dataset(files, input_context: Optional[tf.distribute.InputContext] = None,
                shuffle_files: bool = False, seed: Optional[int] = None,
                with_motion: bool = True) -> tf.data.Dataset:
  """Parsed GOPs from shard `files`, in order unless `shuffle_files`.

  Under tf.distribute, pass the `input_context`: each input pipeline reads its own
  subset of the shards (falling back to per-record sharding when there are fewer shards
  than pipelines), so workers never see the same data.
  """
  ds = tf.data.Dataset.from_tensor_slices(list(files))
  if input_context and input_context.num_input_pipelines > 1:
    if len(files) >= input_context.num_input_pipelines:
      ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
      records = None
    else:
      records = (input_context.num_input_pipelines, input_context.input_pipeline_id)
  else:
    records = None
  if shuffle_files:
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
  ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=1)
  if records:
    ds = ds.shard(*records)
  return ds.map(lambda r: parse_gop(r, with_motion), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

"""Shared string keys: TFRecord features, and the keys of decoded clip dictionaries.

The record builder (`tw_keras.data.records`), the parser, the tf.data reader and the tests all
import these; nothing else spells them.

A record is one `tf.train.SequenceExample` per GOP of one source sequence, frames in
decode order. Encodings:
  * image: PNG, RGB uint8, [H, W, 3] (the *decoded* canonical-stream frame: what the
    network sees is what the codec produced).
  * motion: zlib-compressed raw little-endian int16, [ceil(H'/cell), ceil(W'/cell), 2],
    (dx, dy) = dst - src in quarter pixels; `cell` = 8 for the codec's block grid ("step"
    mode), 1 for a per-pixel accumulated field ("accumulate" mode). H' and W' are the
    coded (16-padded) size, so the grid may extend past the frame: crop after expanding.
  * no residual: the model computes it, exactly, from each frame's reference and the motion
    grid (`compensation.dense_inputs`; the reference is the previous frame in "step" mode,
    the GOP's first frame, its I-frame, in "accumulate" mode; the reader gives each frame's
    reference as `references`). Records written before this change carry a
    `residual/encoded` list, which the reader ignores.
  * label: PNG, uint8 trainIds [H, W] (255 = ignore); an empty string when the frame has
    no label (real Cityscapes labels only frame 19).
"""

# Context (one value per record).
SEQUENCE_ID = "sequence/id"  # bytes, e.g. b"val/frankfurt_000003" or a video file name
SEQUENCE_GOP_INDEX = "sequence/gop_index"  # int64, which GOP of the source this record holds
HEIGHT = "sequence/height"  # int64
WIDTH = "sequence/width"  # int64
GOP = "sequence/gop"  # int64, the GOP length the stream was encoded with
MOTION_CELL = "motion/cell"  # int64, 8 or 1
RESIDUAL_MODE = "residual/mode"  # bytes, b"step" or b"accumulate"

# Feature lists (one value per frame).
FRAME_INDEX = "frame/index"  # int64, index of the frame in the source sequence
PICT_TYPE = "frame/pict_type"  # bytes, b"I" or b"P"
IMAGE = "image/encoded"
MOTION = "motion/encoded"
LABEL = "label/encoded"

# Keys of the decoded clip dictionaries that the tf.data reader yields.
CLIP_IMAGES = "images"  # [T, H, W, 3] uint8
CLIP_MOTION_GRID = "motion_grid"  # [T, h', w', 2] int16 quarter pixels, cells of `motion/cell`
CLIP_REFERENCES = "references"  # [T, H, W, 3] uint8: each frame's residual reference (previous / I-frame)
CLIP_MOTION_CELL = "motion_cell"  # [] int32: the grid's cell (8 = block grid, 1 = per pixel)
CLIP_LABELS = "labels"  # [T, H, W] int32, 255 = ignore
CLIP_HAS_LABEL = "has_label"  # [T] bool
CLIP_PICT_TYPES = "pict_types"  # [T] string
CLIP_FRAME_INDEX = "frame_index"  # [T] int64
CLIP_SEQUENCE_ID = "sequence_id"  # [] string

SHARD_PATTERN = "{split}-{index:05d}-of-{count:05d}.tfrecord"
SHARD_RE = r"^(?P<split>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.tfrecord$"
SHARD_STATS = "{split}-shards.json"  # per-shard counts, updated as each shard completes
BUILD_REPORT = "build_report.json"


def shard_sets(data_dir: str, split: str, glob_fn=None):
  """{shard count N: sorted paths of `split`-*-of-N shards} found in `data_dir`.

  `glob_fn`: another file system's glob (e.g. `tf.io.gfile.glob` for remote URIs).
  """
  import glob  # pylint: disable=g-import-not-at-top
  import posixpath  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top
  out = {}
  pattern = posixpath.join(data_dir, f"{glob.escape(split)}-*-of-*.tfrecord")
  for path in sorted((glob_fn or glob.glob)(pattern)):
    m = re.match(SHARD_RE, posixpath.basename(path))
    if m and m["split"] == split:
      out.setdefault(int(m["count"]), []).append(path)
  return out


"""The training input pipelines of both stages, per replica, resumable at any step.

Stage 1: labelled frames -> seeded scale/flip/crop -> batches of (images, labels).
Stage 2: GOPs -> clips of the codec's compact inputs that end on a labelled frame -> batches.
Every example gets a stateless seed from its position, so a resumed run that skips the
consumed batches sees exactly the order and augmentation of the interrupted one.
"""

import os
from typing import Optional

import tensorflow as tf

from tw_keras import config as config_lib
from tw_keras.data import augment, dataset, features, flow_sources


def resume_skip(start_step: int, cache: bool) -> int:
  """Batches to skip on resume so the input order continues exactly where it stopped.

  Only for in-memory (cached) data, where skipping costs little; a large on-disk dataset
  would have to decode every skipped example, so it restarts its (seeded) order instead.
  """
  if start_step and not cache:
    print(f"resuming at step {start_step}: the input pipeline restarts its seeded order "
          "(data not cached in memory)", flush=True)
  return start_step if cache else 0


# Caching (`cache=None`, the default: "auto") holds a split's decoded examples in memory when its
# shards total under these sizes. Decoded data is several times its PNG records: stage 1's
# frames about 4x, stage 2's clips (frames and their references) about 10x. A cached run
# resumes exactly (it skips the consumed batches); an uncached one restarts its seeded order
# (`resume_skip`). `experiments.train --cache=true|false` overrides.
STAGE1_CACHE_MIB = 512
STAGE2_CACHE_MIB = 128


def should_cache(data_dir: str, split: str, limit_mib: int, cache: Optional[bool] = None) -> bool:
  """`cache` when given, else whether the split's shards total under `limit_mib` MiB."""
  if cache is not None:
    return cache
  return sum(os.path.getsize(f) for f in dataset.shard_files(data_dir, split)) < limit_mib * 2 ** 20


def _stateless_seeds(ds, seed):
  """(index, element) -> (seed [2], element): a per-example stateless seed."""
  return ds.enumerate().map(lambda i, x: (tf.stack([tf.constant(seed, tf.int64), i]), x))


def stage1_dataset(data_dir: str, split: str, cfg: config_lib.Stage1Config, seed: int, cache: bool,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   skip_batches: int = 0) -> tf.data.Dataset:
  """Batches of (images [b, h, w, 3] float32 0..255, labels [b, h, w] int32) for one replica.

  `skip_batches` drops that many batches before augmentation (a resumed run continues the
  exact example order and augmentation seeds of the interrupted one).
  """
  files = dataset.shard_files(data_dir, split)
  batch = input_context.get_per_replica_batch_size(cfg.batch_size) if input_context else cfg.batch_size
  ds = dataset.gop_dataset(files, input_context, shuffle_files=not cache, seed=seed, with_motion=False)
  ds = ds.flat_map(lambda g: tf.data.Dataset.from_tensor_slices(
      (g[features.CLIP_IMAGES], g[features.CLIP_LABELS], g[features.CLIP_HAS_LABEL])))
  def labelled(image, label, has_label):
    del image, label
    return has_label

  def drop_flag(image, label, has_label):
    del has_label
    return image, label

  ds = ds.filter(labelled).map(drop_flag)
  if cache:
    ds = ds.cache()
  ds = ds.shuffle(512, seed=seed).repeat()
  ds = _stateless_seeds(ds, seed).skip(skip_batches * batch).map(
      lambda s, x: augment.scale_flip_crop(x[0], x[1], s, cfg.crop, cfg.scale_range, cfg.flip, cfg.photometric),
      num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch, drop_remainder=True).prefetch(2)


def stage2_dataset(data_dir: str, split: str, cfg: config_lib.Stage2Config, seed: int, cache: bool,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   skip_batches: int = 0, flow: str = "codec", flow_root: Optional[str] = None) -> tf.data.Dataset:
  """Batches of clips (keys of `tw_keras.data.features`), [b, clip_length, h, w, ...], for one replica.

  `skip_batches` as in `stage1_dataset`. `flow`, `flow_root`: the non-key frames' motion
  (`flow_sources`; another source than "codec" gives a per-pixel grid, computed once per GOP
  when the clips are cached).
  """
  files = dataset.shard_files(data_dir, split)
  batch = input_context.get_per_replica_batch_size(cfg.batch_size) if input_context else cfg.batch_size
  ds = dataset.gop_dataset(files, input_context, shuffle_files=not cache, seed=seed)
  if flow != "codec":
    ds = ds.map(flow_sources.motion_map(flow, flow_root))
  keep = (features.CLIP_IMAGES, features.CLIP_REFERENCES, features.CLIP_MOTION_GRID, features.CLIP_LABELS,
          features.CLIP_HAS_LABEL)  # the compact inputs: the model expands them (`twnet`)
  ds = ds.map(lambda g: {k: g[k] for k in keep})
  if cache:
    ds = ds.cache()
  ds = ds.shuffle(64, seed=seed).repeat()

  ds = _stateless_seeds(ds, seed).skip(skip_batches * batch).map(
      lambda s, g: dataset.sample_clip(g, cfg.clip_length, s),
                                      num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.filter(lambda c: tf.shape(c[features.CLIP_IMAGES])[0] == cfg.clip_length)
  return ds.batch(batch, drop_remainder=True).prefetch(2)

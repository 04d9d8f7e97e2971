"""tf.distribute helpers shared by both training stages: the strategy by name, who writes,
barriers, BN statistics.

Single-worker strategies (default, MirroredStrategy) make every helper a no-op or trivial;
under MultiWorkerMirroredStrategy (TF_CONFIG) the chief writes the real files and the other
workers write scratch copies (every worker must take part in saving).
"""

import os
import tempfile

import tensorflow as tf


def is_chief(strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                           and "chief" not in resolver.cluster_spec().as_dict())


def write_dir(directory: str, strategy) -> str:
  """Chief writes to `directory`; other workers to a scratch directory (the MWMS pattern:
  every worker must take part in saving, only the chief's copy is kept)."""
  if is_chief(strategy):
    return directory
  return os.path.join(tempfile.gettempdir(), "tw_keras_worker", str(strategy.cluster_resolver.task_id),
                      os.path.basename(os.path.normpath(directory)))


def barrier(strategy):
  """Blocks until every worker gets here (an all-reduce); e.g. after the chief wrote a file
  that the others read next. A no-op for single-worker strategies."""
  if getattr(strategy, "cluster_resolver", None) is None or strategy.extended._num_workers <= 1:  # pylint: disable=protected-access
    return
  strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)


def sync_non_trainable(strategy, variables):
  """Averages non-trainable variables (BatchNorm moving statistics) over all replicas.

  Each replica updates its moving statistics from its own batch; before a checkpoint or
  export every worker must hold the same values.
  """
  variables = [v for v in variables if v.trainable is False]
  if not variables or strategy.num_replicas_in_sync == 1:
    return
  local = strategy.run(lambda: [tf.identity(v.value) for v in variables])
  for v, values in zip(variables, local):
    v.assign(strategy.reduce(tf.distribute.ReduceOp.MEAN, values, axis=None))


def make_strategy(name: str, cpu_replicas: int = 0):
  """The tf.distribute strategy by name: "default", "mirrored" (every local GPU; with no GPU and
  `cpu_replicas` > 1, that many logical CPU devices, one replica each) or "multi_worker"
  (MultiWorkerMirroredStrategy from TF_CONFIG)."""
  if name == "mirrored":
    if cpu_replicas > 1 and not tf.config.list_physical_devices("GPU"):
      cpu = tf.config.list_physical_devices("CPU")[0]
      tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
      return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()

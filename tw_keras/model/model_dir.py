"""The model directory: the one format every job reads and writes.

Training writes it; evaluation, segmentation, export and the benchmarks read it through
`load` (one `twnet.TWNet`) or `load_all` ({name: TWNet} on one shared per-frame CNN);
`save` writes a whole TWNet. Layout::

  model_config.json                 the ModelConfig (THE description of the architecture)
  dataset.json                      the dataset descriptor (`tw_keras.dataset_info`): the classes
                                    (a directory without one: `dataset_info.default_for`)
  stage1/ckpt-N, stage1/per_frame.weights.h5, stage1/train/ (TensorBoard)
  stage2/{variant}/ckpt-N, stage2/{variant}/nkfc.weights.h5, stage2/{variant}/train/
  stage2/{variant}/motion.json      {"flow": the motion it was trained on}: "codec" (also when
                                    absent), "dis" or "gt" (`data.flow_sources`)
  default_variant.json              optional {"variant": name, "why": ...}: what the jobs run
                                    when no variant is named (`default_variant`; releases write it)

Every write is atomic (`fileio`); every error names the file.
"""

import dataclasses
import json
import os
from typing import Dict, Optional, Sequence

from tw_keras import config as config_lib, dataset_info, fileio
from tw_keras.model import twnet
from tw_keras.model import per_frame as per_frame_lib

STAGE1_WEIGHTS = "per_frame.weights.h5"
STAGE1_BEST = "best_val.weights.h5"  # stage 1 selected on the val split (the loop's best evaluation)
STAGE2_WEIGHTS = "nkfc.weights.h5"
MODEL_CONFIG = "model_config.json"
STAGE2_MOTION = "motion.json"
DEFAULT_VARIANT = "default_variant.json"
PAPER_VARIANT = "layer1_cfr_rga"  # the paper's best row, the default where it is trained


def stage1_dir(model_dir: str) -> str:
  return os.path.join(model_dir, "stage1")


def stage2_dir(model_dir: str, variant_name: str) -> str:
  return os.path.join(model_dir, "stage2", variant_name)


def per_frame_weights(model_dir: str) -> str:
  """Path of the trained per-frame CNN's weights."""
  return os.path.join(stage1_dir(model_dir), STAGE1_WEIGHTS)


def nkfc_weights(model_dir: str, variant_name: str) -> str:
  """Path of one trained non-key-frame variant's weights."""
  return os.path.join(stage2_dir(model_dir, variant_name), STAGE2_WEIGHTS)


def stage2_flow(model_dir: str, variant_name: str) -> str:
  """The motion a non-key-frame variant was trained on ("codec" when not recorded)."""
  path = os.path.join(stage2_dir(model_dir, variant_name), STAGE2_MOTION)
  if not fileio.exists(path):
    return "codec"
  with fileio.open_file(path) as f:
    return json.load(f)["flow"]


def save_stage2_flow(model_dir: str, variant_name: str, flow: str):
  """Records the motion stage 2 trains `variant_name` on; refuses (before any work) a variant
  already trained, or half trained, on another."""
  directory = stage2_dir(model_dir, variant_name)
  old = stage2_flow(model_dir, variant_name)
  started = fileio.exists(os.path.join(directory, STAGE2_WEIGHTS)) or fileio.exists(os.path.join(directory, "checkpoint"))
  if old != flow and (started or fileio.exists(os.path.join(directory, STAGE2_MOTION))):
    raise ValueError(f"{directory}: {variant_name} is trained on {old} motion here, not {flow}; "
                     "use a new model directory (copy its stage1/)")
  os.makedirs(directory, exist_ok=True)
  fileio.write_json(os.path.join(directory, STAGE2_MOTION), {"flow": flow})


def save_model_config(model_dir: str, config: config_lib.ModelConfig):
  """Writes `model_config.json`; refuses (before writing anything) a directory that already
  holds a model of another configuration."""
  path = os.path.join(model_dir, MODEL_CONFIG)
  if os.path.exists(path):
    old = load_model_config(model_dir)
    if old != config:
      diff = ", ".join(f"{k}={getattr(old, k)!r} (asked {getattr(config, k)!r})"
                       for k in dataclasses.asdict(config) if getattr(old, k) != getattr(config, k))
      raise ValueError(f"{path}: this model directory holds a model of another configuration ({diff}); "
                       "use a new model directory")
    return
  os.makedirs(model_dir, exist_ok=True)
  fileio.write_json(path, dataclasses.asdict(config))


def load_model_config(model_dir: str) -> config_lib.ModelConfig:
  path = os.path.join(model_dir, MODEL_CONFIG)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no model config (is {model_dir} a tw_keras model directory?)")
  try:
    with open(path) as f:
      return config_lib.ModelConfig(**json.load(f))
  except (ValueError, TypeError) as e:
    raise ValueError(f"{path}: not a valid model config ({e})") from None


def load_dataset_info(model_dir: str, model_config: Optional[config_lib.ModelConfig] = None
                      ) -> dataset_info.DatasetInfo:
  """The model's dataset descriptor; a one-line error when it does not fit the model config."""
  model_config = model_config or load_model_config(model_dir)
  info = dataset_info.in_directory(model_dir, dataset_info.default_for(model_config.num_classes))
  if info.num_classes != model_config.num_classes:
    raise ValueError(f"{os.path.join(model_dir, dataset_info.DESCRIPTOR)}: describes {info.describe()}, but "
                     f"{os.path.join(model_dir, MODEL_CONFIG)} has num_classes={model_config.num_classes}")
  return info


def save_dataset_info(model_dir: str, info: dataset_info.DatasetInfo):
  """Writes the model's `dataset.json`; refuses a directory of another class table."""
  dataset_info.write_to_directory(model_dir, info, "model directory")


def save_weights(model, path: str):
  """`model.save_weights` through a temporary file: a kill never leaves a broken .h5."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with fileio.atomic_path(path) as tmp:
    model.save_weights(tmp)


def load_weights(model, path: str):
  """`model.load_weights`, with an error that names the file."""
  try:
    model.load_weights(path)
  except (OSError, ValueError) as e:
    raise ValueError(f"{path}: unreadable weights file ({str(e).splitlines()[0][:120]})") from None


def load_per_frame(model_dir: str, model_config: Optional[config_lib.ModelConfig] = None):
  """The trained per-frame CNN of `model_dir` (ImageNet weights are not reloaded)."""
  model_config = model_config or load_model_config(model_dir)
  path = per_frame_weights(model_dir)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no stage-1 weights (train stage 1 first)")
  per_frame = per_frame_lib.build_per_frame(dataclasses.replace(model_config, imagenet_weights=None))
  load_weights(per_frame, path)
  return per_frame


def load_all(model_dir: str, variant_names: Sequence[str], strict: bool = True) -> Dict[str, twnet.TWNet]:
  """{name: TWNet} with trained weights from `model_dir`, all on one per-frame CNN (loaded once).

  Variants without stage-2 weights raise FileNotFoundError when `strict`, else are built
  from the per-frame weights (warp only) and reported as untrained.
  """
  model_config = load_model_config(model_dir)
  base = twnet.TWNet(model_config, config_lib.VARIANTS["per_frame"], load_per_frame(model_dir, model_config),
                     dataset=load_dataset_info(model_dir, model_config))
  out = {}
  for name in variant_names:
    if name not in config_lib.VARIANTS:
      raise ValueError(f"unknown variant {name!r}; known: {', '.join(config_lib.VARIANTS)}")
    net = base.with_variant(name)
    if net.nkfc is not None:
      path = nkfc_weights(model_dir, name)
      if os.path.exists(path):
        load_weights(net.nkfc, path)
      elif strict and net.variant.trainable:
        trained = [n for n in available_variants(model_dir) if config_lib.VARIANTS[n].trainable]
        raise FileNotFoundError(f"{path}: no stage-2 weights for {name} (train it first); this model "
                                f"directory has {', '.join(trained) if trained else 'stage 1 only'}: "
                                f"use per_frame{' or one of those' if trained else ''}")
    out[name] = net
  return out


def load(model_dir: str, variant_name: str = "per_frame", strict: bool = True) -> twnet.TWNet:
  """The TWNet of one variant with trained weights from `model_dir` (see `load_all`)."""
  return load_all(model_dir, [variant_name], strict)[variant_name]


def save(model_dir: str, net: twnet.TWNet):
  """Writes a whole TWNet: `model_config.json` (refusing another configuration), its
  `dataset.json`, the per-frame weights, and the non-key-frame weights of its variant."""
  save_model_config(model_dir, net.config)  # refuses another configuration before anything is written
  save_dataset_info(model_dir, net.dataset)
  save_weights(net.per_frame, per_frame_weights(model_dir))
  if net.nkfc is not None:
    save_weights(net.nkfc, nkfc_weights(model_dir, net.name))


def available_variants(model_dir):
  """["per_frame"] + every variant with stage-2 weights in `model_dir` + every variant with
  nothing to train (warp only, DFF-style warping), in `config.VARIANTS` order."""
  names = ["per_frame"]
  for name, v in config_lib.VARIANTS.items():
    if v.is_per_frame:
      continue
    trained = os.path.exists(nkfc_weights(model_dir, name))
    if trained or not v.trainable:
      names.append(name)
  return names


def default_variant(model_dir) -> str:
  """The variant a job runs when none is named: `default_variant.json`'s, else the paper's
  best row (layer1_cfr_rga) where it is trained, else the per-frame CNN."""
  path = os.path.join(model_dir, DEFAULT_VARIANT)
  if fileio.exists(path):
    with fileio.open_file(path) as f:
      name = json.load(f).get("variant")
    if name not in config_lib.VARIANTS:
      raise ValueError(f"{path}: unknown variant {name!r}")
    return name
  return PAPER_VARIANT if PAPER_VARIANT in available_variants(model_dir) else "per_frame"


def save_default_variant(model_dir, name: str, why: str):
  if name not in config_lib.VARIANTS:
    raise ValueError(f"unknown variant {name!r}")
  fileio.write_json(os.path.join(model_dir, DEFAULT_VARIANT), {"variant": name, "why": why})

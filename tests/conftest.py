"""Shared fixtures (clip helpers are in helpers.py)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture
def tmp(tmp_path):
  return str(tmp_path)


@pytest.fixture(scope="session")
def tiny_records(tmp_path_factory):
  """A tiny prepared synthetic dataset (64x128; 3 train and 2 val snippets), built once."""
  from tw_keras.data import layouts, shards, synthetic
  root = str(tmp_path_factory.mktemp("tiny_data"))
  config = synthetic.SyntheticConfig(height=64, width=128, sequences=(("train", 3), ("val", 2)))
  for split, city, seq in synthetic.snippets(config):
    synthetic.write_snippet(config, root, split, city, seq)
  for split in ("train", "val"):
    sources = layouts.find_cityscapes_sources(root, split)
    shards.write_shards(sources, root, split, num_shards=len(sources))
  return root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
  """A model directory of random (untrained) tiny models: per-frame + layer1_cfr_rga."""
  from tw_keras import config as config_lib
  from tw_keras.model import model_dir as model_dir_lib
  from tw_keras.model import twnet
  model_dir = str(tmp_path_factory.mktemp("tiny_model"))
  model_dir_lib.save(model_dir, twnet.build(config_lib.PRESETS["tiny"], "layer1_cfr_rga"))
  return model_dir


@pytest.fixture(scope="session")
def tiny_models():
  """A random (untrained) tiny TWNet of layer1_cfr_rga (shared: tests fold copies, never train it)."""
  from tw_keras import config as config_lib
  from tw_keras.model import twnet
  return twnet.build(config_lib.PRESETS["tiny"], "layer1_cfr_rga")

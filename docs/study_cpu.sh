#!/usr/bin/env bash
# The reproduction study on the 3D street benchmark (docs/study_cpu.md), 2-core CPU.
# Usage: bash docs/study_cpu.sh WORK_DIR   (data, models and evaluation go under WORK_DIR)
set -euo pipefail
W=${1:-runs/study}
D=$W/data; M=$W/model; N=$W/no_context
python -m data_prep.build_tfrecords --dataset=synthetic --output_dir=$D
python -m experiments.train --preset=cpu_study --data_dir=$D --model_dir=$M --stages=1
python -m experiments.train --preset=cpu_study --data_dir=$D --model_dir=$N --stages=1 --deep_context=false
python -m experiments.train --preset=cpu_study --data_dir=$D --model_dir=$M --stages=2 \
    --variants=layer1_ft,layer1_cfr,layer1_cfr_rga,layer2_ft,layer2_cfr,layer2_cfr_rga,layer3,clockwork
python -m experiments.evaluate --data_dir=$D --model_dir=$M --output_dir=$W/eval
python benchmarks/benchmark_properties.py --data_dir=$D --model_dir=$M --no_context_dir=$N

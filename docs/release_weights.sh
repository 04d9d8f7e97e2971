#!/usr/bin/env bash
# The released weights of the built-in benchmark (weights/benchmark/, README "Released weights"):
# the study's recipe (docs/study_cpu.md): stage 1 cpu_study to 12000 steps, the rows the demo and
# the docs show at the 1500-step stage 2, seed 0; then the release directory and its manifest.
# Usage: bash docs/release_weights.sh WORK_DIR   (2-core CPU: stage 1 about 2.2 h, stage 2 about 40 min)
set -euo pipefail
W=${1:-runs/release}
python -m data_prep.build_tfrecords --dataset=synthetic --output_dir=$W/data
python -m experiments.train --preset=cpu_study --stage1_steps=12000 --data_dir=$W/data --model_dir=$W/model \
    --stages=1 --seed=0
python -m experiments.train --preset=cpu_study --stage2_steps=1500 --data_dir=$W/data --model_dir=$W/model \
    --stages=2 --variants=layer1_ft,layer1_cfr,layer1_cfr_rga,layer2_cfr_rga,clockwork --seed=0
python benchmarks/release_weights.py --model_dir=$W/model --data_dir=$W/data --output_dir=weights/benchmark \
    --command="bash docs/release_weights.sh $W"

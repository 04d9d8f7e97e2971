#!/usr/bin/env bash
# The reproduction study on the 3D street benchmark (docs/study_cpu.md), 2-core CPU, ~1.3 h.
# Usage: bash docs/study_cpu.sh WORK_DIR   (data, models and evaluation go under WORK_DIR)
set -euo pipefail
W=${1:-runs/study}
VARIANTS=layer1_ft,layer1_cfr,layer1_cfr_rga,layer2_ft,layer2_cfr,layer2_cfr_rga,layer3,clockwork
# One study: the benchmark (24 train + 8 val snippets) and 24 val snippets for scoring (val 0..7
# are the same pixels as the default val split; more sequences, less noise), the per-frame CNN,
# the no-context model, every stage-2 row, the evaluation, the properties and the orderings.
# Usage: study DIR PRESET [render flags of build_tfrecords]
study() {
  local D=$1 P=$2
  shift 2
  python -m data_prep.build_tfrecords --dataset=synthetic --output_dir=$D/data "$@"
  python -m data_prep.build_tfrecords --dataset=synthetic --output_dir=$D/data_val24 --splits=val --synthetic_val=24 "$@"
  python -m experiments.train --preset=$P --data_dir=$D/data --model_dir=$D/model --stages=1
  python -m experiments.train --preset=$P --data_dir=$D/data --model_dir=$D/no_context --stages=1 \
      --deep_context=false
  python -m experiments.train --preset=$P --data_dir=$D/data --model_dir=$D/model --stages=2 --variants=$VARIANTS
  python -m experiments.evaluate --data_dir=$D/data_val24 --model_dir=$D/model --output_dir=$D/eval --schedulers=
  python benchmarks/benchmark_properties.py --synthetic_root=$D/data/synthetic_cityscapes --data_dir=$D/data_val24 \
      --model_dir=$D/model --no_context_dir=$D/no_context --val_root=$D/data_val24/synthetic_cityscapes \
      --output=$D/properties.json
  python benchmarks/study_report.py --results=$D/eval/results.json
}

# The study at 256x512 (the default benchmark size).
study $W cpu_study

# The 8000-step rows of docs/study_cpu.md (about 3 h more on 2 cores): LONG=1 bash docs/study_cpu.sh WORK_DIR
if [ "${LONG:-0}" = 1 ]; then
  python -m experiments.train --preset=cpu_study --stage1_steps=8000 --data_dir=$W/data --model_dir=$W/long --stages=1
  python -m experiments.train --preset=cpu_study --stage1_steps=8000 --data_dir=$W/data --model_dir=$W/long --stages=2 \
      --variants=$VARIANTS
  python -m experiments.train --preset=cpu_study --stage1_steps=8000 --data_dir=$W/data --model_dir=$W/long_nc --stages=1 \
      --deep_context=false
  python -m experiments.evaluate --data_dir=$W/data_val24 --model_dir=$W/long --output_dir=$W/long/eval24 --schedulers=
  python benchmarks/benchmark_properties.py --synthetic_root=$W/data/synthetic_cityscapes --data_dir=$W/data_val24 \
      --model_dir=$W/long --no_context_dir=$W/long_nc --val_root=$W/data_val24/synthetic_cityscapes \
      --output=$W/long_nc/properties.json
  python benchmarks/study_report.py --results=$W/long/eval24/results.json
fi

# The longer stage 2 of docs/study_cpu.md (Layer1, Layer2 and Clockwork, 1500 steps instead of 300,
# on the 8000-step per-frame CNN; about 50 min): LONG_STAGE2=1 bash docs/study_cpu.sh WORK_DIR (after LONG=1)
if [ "${LONG_STAGE2:-0}" = 1 ]; then
  mkdir -p $W/s2long && cp -r $W/long/model_config.json $W/long/stage1 $W/s2long/
  python -m experiments.train --preset=cpu_study --stage1_steps=8000 --stage2_steps=1500 --data_dir=$W/data \
      --model_dir=$W/s2long --stages=2 --variants=layer1_ft,layer1_cfr,layer1_cfr_rga
  python -m experiments.train --preset=cpu_study --stage1_steps=8000 --stage2_steps=1500 --data_dir=$W/data \
      --model_dir=$W/s2long --stages=2 --variants=layer2_ft,layer2_cfr,layer2_cfr_rga,clockwork
  python -m experiments.evaluate --data_dir=$W/data_val24 --model_dir=$W/s2long --output_dir=$W/s2long/eval24 --schedulers=
  python benchmarks/study_report.py --results=$W/s2long/eval24/results.json
fi

# Stage 1 resumed from the 8000-step checkpoints to 12000 steps, both models, then every row
# (docs/study_cpu.md, "Stage 1 resumed"; about 1.3 h): RESUME_12000=1 bash docs/study_cpu.sh WORK_DIR (after LONG=1)
if [ "${RESUME_12000:-0}" = 1 ]; then
  mkdir -p $W/long12k $W/long12k_nc
  cp -r $W/long/model_config.json $W/long/stage1 $W/long12k/
  cp -r $W/long_nc/model_config.json $W/long_nc/stage1 $W/long12k_nc/
  python -m experiments.train --preset=cpu_study --stage1_steps=12000 --data_dir=$W/data --model_dir=$W/long12k --stages=1
  python -m experiments.train --preset=cpu_study --stage1_steps=12000 --data_dir=$W/data --model_dir=$W/long12k_nc \
      --stages=1 --deep_context=false
  python -m experiments.train --preset=cpu_study --stage1_steps=12000 --data_dir=$W/data --model_dir=$W/long12k \
      --stages=2 --variants=$VARIANTS
  python -m experiments.evaluate --data_dir=$W/data_val24 --model_dir=$W/long12k --output_dir=$W/long12k/eval24 --schedulers=
  python benchmarks/benchmark_properties.py --synthetic_root=$W/data/synthetic_cityscapes --data_dir=$W/data_val24 \
      --model_dir=$W/long12k --no_context_dir=$W/long12k_nc --output=$W/long12k/properties.json
  python benchmarks/study_report.py --results=$W/long12k/eval24/results.json
fi

# The whole protocol on the val scenes resized 0.75 / 1 / 1.5, scored with the 12000-step models
# (docs/study_cpu.md, "How far the models look"; ~6 min): BY_SCALE=1 bash docs/study_cpu.sh WORK_DIR (after RESUME_12000=1)
if [ "${BY_SCALE:-0}" = 1 ]; then
  for F in 0.75 1.0 1.5; do
    python benchmarks/rescale_root.py --input_root=$W/data_val24/synthetic_cityscapes --output_root=$W/val24_x$F --factor=$F
    python -m data_prep.build_tfrecords --dataset=cityscapes --input_dir=$W/val24_x$F --splits=val \
        --output_dir=$W/val24_x$F/data
    python benchmarks/benchmark_properties.py --synthetic_root=$W/val24_x$F --split=val --data_dir=$W/val24_x$F/data \
        --model_dir=$W/long12k --no_context_dir=$W/long12k_nc --output=$W/val24_x$F/properties.json
    python -m experiments.evaluate --data_dir=$W/val24_x$F/data --model_dir=$W/long12k --output_dir=$W/val24_x$F/eval_d11 \
        --variants=per_frame,layer1_warp,layer1_ft,layer1_cfr_rga,clockwork,layer3 --distances=11 --schedulers= \
        --write_pngs=false
  done
fi

# The study at 512x1024 (docs/study_cpu.md, "How far the models look"): a GPU job, not yet run.
# STUDY_512=1 bash docs/study_cpu.sh WORK_DIR
if [ "${STUDY_512:-0}" = 1 ]; then
  S=$W/s512
  study $S study_512 --synthetic_height=512 --synthetic_width=1024
  python benchmarks/context_use.py --model_dir=$S/model --other_dir=$S/no_context \
      --val_root=$S/data_val24/synthetic_cityscapes --output=$S/context_use.json
fi

#!/usr/bin/env bash
# The CamVid release (weights/camvid/, docs/camvid.md): SegNet's copy of CamVid as it is ->
# TFRecords (train 367 single frames, val 90 GOPs of its 15 Hz run, test 233 single frames) ->
# stage 1 from ImageNet (MobileNetV1 1.0, the camvid_cpu preset: about 70 min on 2 cores) ->
# the weights selected on val, scored on test, packed with their manifest.
# Usage: bash docs/camvid.sh [CAMVID_ROOT] [IMAGENET_FILE] [WORK_DIR]
set -euo pipefail
CAMVID=${1:-../shared/camvid}
IMAGENET=${2:-../shared/imagenet/mobilenet_1_0_224_tf_no_top.h5}
W=${3:-runs/camvid}
python -m data_prep.build_tfrecords --dataset=camvid --input_dir="$CAMVID" --splits=train,val,test \
    --output_dir="$W/records" --sequences_per_shard=64
python -m experiments.train --preset=camvid_cpu --data_dir="$W/records" --model_dir="$W/model" --stages=1 \
    --imagenet_weights="$IMAGENET"
python benchmarks/release_weights.py --model_dir="$W/model" --data_dir="$W/records" --camvid_root="$CAMVID" \
    --per_frame_weights="$W/model/stage1/best_val.weights.h5" --output_dir=weights/camvid \
    --command="bash docs/camvid.sh $CAMVID $IMAGENET $W" \
    --trained_on="SegNet's copy of CamVid (Brostow et al. 2008), its 367 train frames; selected on its 101 val frames. CamVid is CC BY-NC 4.0: these weights inherit its research-only licence. Encoder initialised from ImageNet (MobileNetV1 1.0, $(basename "$IMAGENET"))."

#!/usr/bin/env bash
# Stage 2 on CamVid (issue 31, docs/camvid_stage2.md): the non-key-frame CNNs trained on clips
# synthesised from SegNet's 367 train stills (camera-like homography paths through the real
# canonical codec), on the frozen per-frame CNN of weights/camvid; scored on the real 15 Hz val
# run (90 GOPs), every path in one evaluation; FPS at 480x360 and 960x720.
#
#   bash docs/camvid_stage2.sh [CAMVID_ROOT] [OUT]      (about 2 h on 2 CPU cores)
set -euo pipefail
CAMVID=${1:-../shared/camvid}
OUT=${2:-runs/camvid_stage2}
RECORDS=$OUT/records
MODEL=$OUT/model
VARIANTS=layer1_warp,layer1_ft,layer1_cfr,layer1_cfr_rga,layer2_warp,layer2_ft,layer2_cfr,layer2_cfr_rga,warp_scores,clockwork

# train: one 12-frame clip per train still (OUT/records/still_clips/); val: the real 15 Hz run.
python -m data_prep.build_tfrecords --dataset=camvid --input_dir="$CAMVID" --splits=train,val \
    --still_clips=train --output_dir="$RECORDS" --sequences_per_shard=32
# The released per-frame CNN, frozen (a new model dir holding a copy of its stage 1).
mkdir -p "$MODEL/stage1"
cp -n weights/camvid/model_config.json weights/camvid/dataset.json "$MODEL/"
cp -n weights/camvid/stage1/per_frame.weights.h5 "$MODEL/stage1/"
# 600 steps of batch 2 per variant; no periodic evaluation (the val run is this study's test set).
python -m experiments.train --preset=camvid_cpu --data_dir="$RECORDS" --model_dir="$MODEL" --stages=2 \
    --variants=$VARIANTS --stage2_steps=600 --eval=false
python -m experiments.evaluate --data_dir="$RECORDS" --model_dir="$MODEL" --output_dir="$OUT/eval" \
    --variants=per_frame,$VARIANTS --schedulers= --write_pngs=false
for size in 360x480 720x960; do
  python benchmarks/fps.py --model_dir="$MODEL" --variants=$VARIANTS --size=$size
done
python benchmarks/camvid_tables.py --results="$OUT/eval/results.json"
python benchmarks/distance_strips.py --model_dir="$MODEL" --data_dir="$RECORDS" --gop=40 \
    --variants=per_frame,layer1_warp,layer1_cfr,layer2_cfr --distances=1,5,11 --png="$OUT/camvid_distances.png"
# To add the variants to the release (rewrites weights/camvid's manifest; needs the stage-1 records too):
#   python benchmarks/release_camvid_stage2.py --model_dir="$MODEL" --eval_dir="$OUT/eval" \
#       --data_dir=runs/camvid/records --camvid_root="$CAMVID" --release_dir=weights/camvid \
#       --default_variant=layer1_cfr --check_variant=layer1_cfr

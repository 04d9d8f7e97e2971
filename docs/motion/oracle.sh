#!/usr/bin/env bash
# The Table 9 analogue, the oracle split and temporal consistency (docs/motion/README.md) of the
# released weights: the same trained models evaluated with the codec's vectors, DIS optical flow
# and the benchmark's exact flow, on the 8 val snippets rendered with their exact flow.
# Usage: bash docs/motion/oracle.sh [WORK_DIR]   (2-core CPU: about 15 minutes)
set -euo pipefail
W=${1:-runs/oracle}
D=$W/data
[ -f $D/build_report.json ] || python -m data_prep.build_tfrecords --dataset=synthetic --splits=val --synthetic_flow --output_dir=$D
for f in codec dis gt; do
  python -m experiments.evaluate --data_dir=$D --model_dir=weights/benchmark --flow=$f --output_dir=$W/$f --write_pngs=false
done
python benchmarks/motion_oracle.py --eval_root=$W --data_dir=$D --model_dir=weights/benchmark | tee docs/motion/oracle.md

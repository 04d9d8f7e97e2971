#!/usr/bin/env bash
# The GPU benchmark suite, one command: network FPS at 1024x2048 (per-frame, Layer1, Layer2,
# Layer3; XLA off and on; float32 and bfloat16; batch norms folded, and once not), then the
# end-to-end segmenter (folded and not, in one run).
# Usage: bash benchmarks/gpu_suite.sh [MODEL_DIR]   (default: the paper preset, random weights)
# Run it on a machine with a GPU; on a CPU it runs too, slowly (XLA and bfloat16 are slower there).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:+--model_dir=$1}
MODEL=${MODEL:---preset=paper}
VARIANTS=layer1_ft,layer1_cfr_rga,layer2_ft,layer2_cfr_rga,layer3
python -c "import tensorflow as tf; print('devices:', tf.config.list_logical_devices())"
for xla in false true; do
  for precision in none bfloat16; do
    echo "== network only, 1024x2048, xla=$xla, mixed_precision=$precision"
    python -m experiments.benchmark_fps $MODEL --size=1024x2048 --variants=$VARIANTS --repeats=50 \
        --xla=$xla --mixed_precision=$precision --nodecode
  done
done
echo "== network only, 1024x2048, xla=false, float32, batch norms not folded"
python -m experiments.benchmark_fps $MODEL --size=1024x2048 --variants=$VARIANTS --repeats=50 --nodecode \
    --nofold_batch_norms
echo "== end to end (decode + transcode + network + overlay + write), 1024x2048, 120 frames"
python benchmarks/end_to_end.py $MODEL --size=1024x2048 --frames=120 --repeats=2 --fold_batch_norms=false,true
python benchmarks/end_to_end.py $MODEL --size=1024x2048 --frames=120 --repeats=2 --labels_only

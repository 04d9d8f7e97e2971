#!/usr/bin/env bash
# The GPU benchmark suite, one command: network FPS at 1024x2048 (per-frame, Layer1, Layer2,
# Layer3; XLA off and on; float32 and bfloat16; batch norms folded, and once not), then the
# end-to-end segmenter (folded and not, in one run).
# Usage: bash benchmarks/gpu_suite.sh [MODEL_DIR]   (default: the paper preset, random weights)
# Run it on a machine with a GPU; on a CPU it runs too, slowly (XLA and bfloat16 are slower there).
# Environment overrides (a quick check of the script itself, as the tests do):
#   SIZE=64x96 FRAMES=12 REPEATS=1 PRESET=tiny VARIANTS=layer1_cfr_rga bash benchmarks/gpu_suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
SIZE=${SIZE:-1024x2048}
FRAMES=${FRAMES:-120}
REPEATS=${REPEATS:-50}
VARIANTS=${VARIANTS:-layer1_ft,layer1_cfr_rga,layer2_ft,layer2_cfr_rga,layer3}
MODEL=${1:+--model_dir=$1}
MODEL=${MODEL:---preset=${PRESET:-paper}}
E2E_VARIANTS=$(echo "$VARIANTS" | tr ',' '\n' | grep -E 'cfr_rga$' | paste -sd, -)
E2E_VARIANTS=${E2E_VARIANTS:-layer1_cfr_rga}
$PY -c "import tensorflow as tf; print('devices:', tf.config.list_logical_devices())"
for xla in false true; do
  for precision in none bfloat16; do
    echo "== network only, $SIZE, xla=$xla, mixed_precision=$precision"
    $PY benchmarks/fps.py $MODEL --size=$SIZE --variants=$VARIANTS --repeats=$REPEATS \
        --xla=$xla --mixed_precision=$precision --nodecode
  done
done
echo "== network only, $SIZE, xla=false, float32, batch norms not folded"
$PY benchmarks/fps.py $MODEL --size=$SIZE --variants=$VARIANTS --repeats=$REPEATS --nodecode \
    --nofold_batch_norms
echo "== end to end (decode + transcode + network + overlay + write), $SIZE, $FRAMES frames"
$PY benchmarks/end_to_end.py $MODEL --size=$SIZE --frames=$FRAMES --repeats=2 --variants=$E2E_VARIANTS \
    --fold_batch_norms=false,true
$PY benchmarks/end_to_end.py $MODEL --size=$SIZE --frames=$FRAMES --repeats=2 --variants=$E2E_VARIANTS --labels_only

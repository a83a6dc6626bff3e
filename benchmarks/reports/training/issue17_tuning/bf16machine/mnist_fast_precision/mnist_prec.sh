#!/bin/bash
# mnist_fast (relu, seed 0) in float32 and mixed_bfloat16, interleaved pairs, one process each.
cd /work/main
export TFDS_DATA_DIR=$(cd ../shared/tensorflow_datasets && pwd) TF_CPP_MIN_LOG_LEVEL=2
for rep in 3 4; do for p in float32 mixed_bfloat16; do
  rm -rf /work/runs/mp${rep}_$p
  .venv/bin/python train.py --preset mnist_fast --seeds 1 --activations relu --no-diagnostics --verbose 0 --precision $p --out /work/runs/mp${rep}_$p > /dev/null 2>&1
done; done

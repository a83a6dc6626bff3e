#!/bin/bash
cd /work/main
export TFDS_DATA_DIR=$(cd ../shared/tensorflow_datasets && pwd) TF_CPP_MIN_LOG_LEVEL=2
run() { name=$1; shift; .venv/bin/python train.py --preset mnist_fast --seeds 3 --activations relu --no-diagnostics --verbose 0 --out /work/runs/mt_$name "$@" > /dev/null 2>&1
  .venv/bin/python -c "
import json; r=json.load(open('/work/runs/mt_$name/results.json'))
print('$name', [(x['seed'], round(100*x['test_accuracy'],2), round(sum(x['epoch_times']),1)) for x in r['runs']])"; }
run c1_16_32 --model-kwargs '{"filters": [16, 32], "convs_per_block": 1}'
run c1_32_64 --model-kwargs '{"filters": [32, 64], "convs_per_block": 1}'
run c1_16_32_e3 --model-kwargs '{"filters": [16, 32], "convs_per_block": 1}' --epochs 3

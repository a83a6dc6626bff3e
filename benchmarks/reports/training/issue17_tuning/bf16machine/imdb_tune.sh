#!/bin/bash
cd /work/main
export TFDS_DATA_DIR=$(cd ../shared/tensorflow_datasets && pwd) TF_CPP_MIN_LOG_LEVEL=2
run() { name=$1; shift; .venv/bin/python train.py --preset imdb_90 --task imdb_reviews_512 --seeds 1 --activations relu --no-diagnostics --verbose 0 --out /work/runs/it_$name "$@" > /dev/null 2>&1
  .venv/bin/python -c "
import json; r=json.load(open('/work/runs/it_$name/results.json'))
print('$name', [(x['seed'], 'val', round(100*x['val_accuracy'],2), 'test', round(100*x['test_accuracy'],2), round(sum(x['epoch_times']),1)) for x in r['runs']])"; }
run base
run e3 --epochs 3
run b18 --model-kwargs '{"embedding_dim": 32, "buckets": 262144, "units": 32, "dropout_rate": 0.3}'
run d64 --model-kwargs '{"embedding_dim": 64, "buckets": 131072, "units": 32, "dropout_rate": 0.3}'
run lin --model-kwargs '{"embedding_dim": 32, "buckets": 131072, "units": 0, "dropout_rate": 0.3}'

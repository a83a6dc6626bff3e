"""Input-pipeline throughput of relu_zoo.tasks on this machine (not a test).

For each task: the time of `load()` (opening TFDS, adapting the text vectorizer), the first pass over the
training split (read, decode, preprocess, fill the cache) and then the steady state: examples/s of cached
training epochs (shuffle, batch, augmentation, per-batch preprocessing), the number a training loop sees
from epoch 2 on. Prints a markdown table.

    TFDS_DATA_DIR=../shared/tensorflow_datasets python benchmarks/pipeline.py
    python benchmarks/pipeline.py --tasks mnist --batch-size 256 --epochs 5
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from relu_zoo import tasks  # noqa: E402

DEFAULT_TASKS = ("mnist", "imdb_reviews", "spoken_digit")


def consume(ds):
    """Iterates `ds` once; returns (examples, seconds)."""
    start = time.perf_counter()
    examples = 0
    for _, y in ds:
        examples += int(y.shape[0])
    return examples, time.perf_counter() - start


def bench(name, batch_size, epochs, data_dir):
    start = time.perf_counter()
    data = tasks.get(name).load(data_dir=data_dir, batch_size=batch_size, seed=0)
    load_s = time.perf_counter() - start
    n, cold_s = consume(data.train)
    warm = [consume(data.train)[1] for _ in range(epochs)]
    _, test_s = consume(data.test)  # first, uncached pass over the test split
    _, test_warm_s = consume(data.test)
    steady = n / (sum(warm) / len(warm))
    return {"task": name, "train": n, "load": load_s, "cold": n / cold_s, "warm": steady,
            "epoch": sum(warm) / len(warm), "test_warm": data.num_examples["test"] / test_warm_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS), help="comma-separated task names")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="cached epochs averaged for the steady state")
    parser.add_argument("--data-dir", default=None, help="TFDS data dir (default $TFDS_DATA_DIR)")
    args = parser.parse_args(argv)

    rows = [bench(name, args.batch_size, args.epochs, args.data_dir) for name in args.tasks.split(",")]
    print(f"Input pipeline, batch size {args.batch_size}, {os.cpu_count()} CPU cores ({platform.machine()}), "
          f"TensorFlow {tf.__version__}; steady state = mean of {args.epochs} cached epochs.\n")
    print("| task | train examples | `load()` s | 1st epoch (read + preprocess + cache) ex/s "
          "| cached train epoch ex/s (s/epoch) | cached test ex/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['task']}` | {r['train']:,} | {r['load']:.1f} | {r['cold']:,.0f} "
              f"| {r['warm']:,.0f} ({r['epoch']:.2f}) | {r['test_warm']:,.0f} |")


if __name__ == "__main__":
    main()

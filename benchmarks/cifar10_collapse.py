"""CIFAR-10 (JPEG copy): one epoch of the reference `cnn` (relu, Adam 2e-3, batch 128), train.py's path against a
plain `model.fit`, per seed: the
evidence behind the `cnn`'s `head_norm` (benchmarks/reports/cifar10_collapse/).

    python benchmarks/cifar10_collapse.py --arms plain,runner,plain_no_head_norm,runner_no_head_norm --seeds 0-5

Arms: `plain` is `create_model` + `tasks.get("cifar10").load()` + `compile(Adam(2e-3))` + `model.fit(data.train)`;
`runner` is `train.py --task cifar10 --model cnn --activations relu --epochs 1 --max-train-examples all
--max-eval-examples all --no-diagnostics` for one seed; `*_no_head_norm` build the cnn without
`head_norm` (no batch norm before the head's activation). Each finished (arm, seed) is appended to --out as one JSON line
(validation accuracy after the epoch, training accuracy over it); re-running skips those, so the script resumes.
Also records, for the dense head, the fraction of units never positive on 512 validation images.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from relu_zoo import models, tasks
from relu_zoo.run import spec as spec_lib
from relu_zoo.run import store
from relu_zoo.run.sweep import sweep


def _never_positive(model, probe):
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][0]
    index = model.layers.index(dense)
    # The activation's input: the Dense output, or the batch norm after it.
    pre = model.layers[index + 1] if isinstance(model.layers[index + 1], keras.layers.BatchNormalization) else dense
    values = keras.ops.convert_to_numpy(keras.Model(model.inputs, pre.output)(probe, training=False))
    return float(np.mean((values <= 0).all(axis=0)))


def run(arm, seed):
    head_norm = not arm.endswith("_no_head_norm")
    started = time.perf_counter()
    data = tasks.get("cifar10").load(batch_size=128, seed=0)
    probe = next(iter(data.validation.unbatch().batch(512)))[0]
    if arm.startswith("plain"):
        keras.utils.set_random_seed(seed)
        model = models.create_model("cnn", task=data.spec, activation="relu", head_norm=head_norm)
        model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        history = model.fit(data.train, validation_data=data.validation, epochs=1, verbose=0).history
        metrics = {k: float(v[-1]) for k, v in history.items()}
    else:
        out = tempfile.mkdtemp(prefix="collapse_")
        config = spec_lib.resolve(overrides={
            "tasks": ["cifar10"], "models": ["cnn"], "activations": ["relu"], "seeds": [seed], "epochs": 1,
            "max_train_examples": "all", "max_eval_examples": "all", "diagnostics": False, "out": out,
            "verbose": 0, "save_checkpoint": True, "model_kwargs": {} if head_norm else {"head_norm": False}})
        sweep(config, log=lambda *_: None)
        [result] = store.load_results(out)
        metrics = {k: v for k, v in result["history"][-1].items() if k in ("accuracy", "val_accuracy", "loss")}
        model = keras.saving.load_model(Path(out) / "runs" / result["run_id"] / "model.keras")
    return {"arm": arm, "seed": seed, **metrics, "head_never_positive": _never_positive(model, probe),
            "seconds": time.perf_counter() - started}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arms", default="plain,runner")
    parser.add_argument("--seeds", default="0-5", help="'0-5' or '0,3,4'")
    parser.add_argument("--out", default="benchmarks/reports/cifar10_collapse/current.jsonl")
    args = parser.parse_args(argv)
    if "-" in args.seeds:
        lo, hi = (int(s) for s in args.seeds.split("-"))
        seeds = list(range(lo, hi + 1))
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["arm"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    for seed in seeds:
        for arm in args.arms.split(","):
            if (arm, seed) in done:
                continue
            record = run(arm, seed)
            print(json.dumps(record), flush=True)
            with open(out, "a") as f:  # one complete line per run: a kill loses at most the run in progress
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    sys.exit(main())

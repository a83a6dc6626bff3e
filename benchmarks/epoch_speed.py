"""Epoch-time ratios of the activations: the reference mnist `cnn` with each, trained side by side in one process.

    python benchmarks/epoch_speed.py [--activations relu,prelu,rrelu] [--steps 60] [--repeats 5] [--unfused relu]
        [--json benchmarks/reports/training/speed.json]

Each activation's model (and `keras.layers.PReLU()` for reference) trains on the same real batches. Every
repetition trains one `steps`-batch epoch of every model, in rotating order, so load from other processes hits
them alike; the epoch time is Keras' epoch (on_epoch_begin to on_epoch_end, as in `train.py`'s `epoch_time`),
and the reported ratio is the median over repetitions of the epoch time divided by the first activation's epoch
time in the same repetition; the ratio of the best (minimum) epoch times, the least disturbed by other
processes, is shown beside it. Compare ratios measured in one run, not absolute times across runs.
"""

import argparse
import contextlib
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/epoch_speed.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting  # noqa: E402

RATIO_TARGETS = {"prelu": 1.15, "rrelu": 1.3}  # epoch time ÷ ReLU's
UNFUSED = " unfused"
DEFAULT_ACTIVATIONS = "relu,leaky_relu,prelu,rrelu,elu,keras.PReLU"


def compiled_models(activations, spec, seed=0, model_kwargs=None):
    """The mnist `cnn` with each activation, compiled as train.py compiles it (Adam 1e-3, logits)."""
    import keras

    from relu_zoo import models

    built = {}
    for activation in activations:
        keras.utils.set_random_seed(seed)
        # "keras.PReLU": a Keras layer with its defaults, as a reference (every use site gets a fresh copy).
        # "<name> unfused": the same spec, for a model traced with RELU_ZOO_XLA=0 (see `speed`).
        name = activation.removesuffix(UNFUSED)
        spec_or_layer = getattr(keras.layers, name[6:])() if name.startswith("keras.") else name
        model = models.create_model("cnn", task=spec, activation=spec_or_layer, **(model_kwargs or {}))
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        built[activation] = model
    return built


def mnist_batches(steps, batch_size, data_dir=None):
    """mnist's task data (first `steps` batches of training images) and those batches, cached in memory."""
    import tensorflow as tf

    from relu_zoo import tasks

    data = tasks.get("mnist").load(data_dir=data_dir, batch_size=batch_size, seed=0,
                                   max_examples={"train": steps * batch_size, "validation": batch_size,
                                                 "test": batch_size})
    return data, data.train.take(steps).cache().apply(tf.data.experimental.assert_cardinality(steps))


@contextlib.contextmanager
def unfused():
    """relu_zoo's element-wise math as separate TensorFlow ops (`RELU_ZOO_XLA=0`) for what is traced inside."""
    previous = os.environ.get("RELU_ZOO_XLA")
    os.environ["RELU_ZOO_XLA"] = "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["RELU_ZOO_XLA"]
        else:
            os.environ["RELU_ZOO_XLA"] = previous


def speed(activations, steps=60, repeats=5, batch_size=128, data_dir=None, unfused_activations=()):
    """Median epoch time of each activation's mnist `cnn` and its median ratio to the first activation's.

    `unfused_activations`: also trained as "<name> unfused", their train step traced with `RELU_ZOO_XLA=0`, in
    the same rotation."""
    from relu_zoo.run.callbacks import EpochTimer  # train.py's: adds `epoch_time` to the epoch logs

    activations = list(activations) + [f"{name}{UNFUSED}" for name in unfused_activations]
    data, batches = mnist_batches(steps, batch_size, data_dir)
    built = compiled_models(activations, data.spec)
    for activation, model in built.items():  # trace and warm up every model before timing any
        with unfused() if activation.endswith(UNFUSED) else contextlib.nullcontext():
            model.fit(batches, epochs=1, verbose=0, shuffle=False)
    times = {a: [] for a in activations}
    for rep in range(repeats):
        order = activations[rep % len(activations):] + activations[:rep % len(activations)]
        for activation in order:
            history = built[activation].fit(batches, epochs=1, verbose=0, shuffle=False, callbacks=[EpochTimer()])
            times[activation].append(history.history["epoch_time"][-1])
    base = activations[0]
    rows = []
    for activation in activations:
        ratios = [t / b for t, b in zip(times[activation], times[base])]
        rows.append({"activation": activation, "epoch_s": statistics.median(times[activation]),
                     "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "best_ratio": min(times[activation]) / min(times[base]),
                     "target": RATIO_TARGETS.get(activation), "times": times[activation]})
    return {"steps": steps, "batch_size": batch_size, "repeats": repeats, "baseline": base, "rows": rows}


def markdown(report):
    base = report["baseline"]
    rows = [[r["activation"], f"{r['epoch_s']:.2f}", f"{r['ratio']:.2f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})",
             f"{r['best_ratio']:.2f}",
             f"≤ {r['target']}× {reporting.verdict(r['ratio'] <= r['target'])}" if r["target"] else ""]
            for r in report["rows"]]
    return (f"mnist `cnn`, batch {report['batch_size']}, epochs of {report['steps']} steps, {report['repeats']} "
            f"interleaved repetitions; ratio = median of per-repetition ratios to {base}\n\n"
            + reporting.table(["activation", "epoch s (median)", f"× {base} (min–max)", f"best epoch × best {base}",
                               "target"], rows, "lrrrl"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/epoch_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--activations", default=DEFAULT_ACTIVATIONS,
                        help="comma-separated relu_zoo specs, or keras.<Layer> for a Keras layer with its defaults; "
                             "the first is the baseline")
    parser.add_argument("--steps", type=int, default=60, help="batches per timed epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--unfused", default="", help="comma-separated activations also trained with their step "
                        "traced with RELU_ZOO_XLA=0 (as '<name> unfused')")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file (and .md)")
    args = parser.parse_args(argv)
    report = speed([a for a in args.activations.split(",") if a], steps=args.steps, repeats=args.repeats,
                   batch_size=args.batch_size, data_dir=args.data_dir,
                   unfused_activations=[a for a in args.unfused.split(",") if a])
    reporting.publish(report, "epoch_speed.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

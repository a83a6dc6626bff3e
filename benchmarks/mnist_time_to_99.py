"""mnist time to 99% test accuracy: a preset against the Keras `mnist_convnet` example, side by side in one run.

    python benchmarks/mnist_time_to_99.py [--preset mnist_fast] [--seeds 3] [--json F]

Both sides are timed the same way: the sum of Keras epoch times (on_epoch_begin to on_epoch_end, as `train.py`'s
`epoch_time`) up to the epoch after which the test split is at 99%. An epoch includes its validation pass (both
hold out 6,000 of the 60,000 training images); the first includes tracing the train and test steps and the
input's first pass. Loading the data into memory before `fit` and evaluating the test split after each epoch
are outside it, for both. The Keras example (keras.io/examples/vision/mnist_convnet: its model, batch 128,
Adam, categorical cross-entropy, `validation_split=0.1`, 15 epochs) runs first, in this process, and stops at
the first epoch at 99%. The preset then trains `--seeds` seeds (ReLU) with `train.py` in a child process
(benchmarks/train_process.py); its test split is evaluated once, after its last epoch, so all its epochs count
(an earlier epoch at 99% would only make it faster). The ratio is each seed's training seconds ÷ the example's
seconds to 99%: the target is met when every seed reaches 99% and the median ratio is at most 0.26.
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/mnist_time_to_99.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting, train_process  # noqa: E402

ACCURACY = 0.99
RATIO_AT_MOST = 0.26
PRESET = "mnist_99"
# Caps for a smoke test of the whole command (its numbers say nothing about the target).
QUICK_TRAIN = ["--epochs", "1", "--max-train-examples", "512", "--max-eval-examples", "256"]


def keras_example(epochs=15, max_train=None, data_dir=None, stop_at=ACCURACY, seed=0):
    """The Keras example keras.io/examples/vision/mnist_convnet, timed to its first epoch with `stop_at` test
    accuracy (the module docstring's definition)."""
    import keras
    import numpy as np
    import tensorflow_datasets as tfds

    from relu_zoo.run.callbacks import EpochTimer  # train.py's: adds `epoch_time` to the epoch logs

    def split(name, limit):
        ds = tfds.load("mnist", split=name if limit is None else f"{name}[:{limit}]", batch_size=-1,
                       as_supervised=True, data_dir=data_dir)
        x, y = tfds.as_numpy(ds)
        return np.expand_dims(x.astype("float32") / 255, -1), keras.utils.to_categorical(y, 10)

    x_train, y_train = split("train", max_train)
    x_test, y_test = split("test", None if max_train is None else max(1000, max_train // 6))
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    epochs_log = []

    class TestEachEpoch(keras.callbacks.Callback):  # after EpochTimer: its time is not in epoch_time
        def on_epoch_end(self, epoch, logs=None):
            accuracy = float(self.model.evaluate(x_test, y_test, verbose=0, batch_size=512)[1])
            epochs_log.append({"epoch": epoch + 1, "epoch_s": logs["epoch_time"], "test_accuracy": accuracy})
            if accuracy >= stop_at:
                self.model.stop_training = True  # the time to 99% is known; later epochs cannot change it

    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=0,
              callbacks=[EpochTimer(), TestEachEpoch()])
    reached = next((e for e in epochs_log if e["test_accuracy"] >= stop_at), None)
    return {"epochs": epochs_log, "train_examples": int(0.9 * len(x_train)), "test_examples": len(x_test),
            "reached_epoch": reached and reached["epoch"],
            "seconds_to_target": reached and sum(e["epoch_s"] for e in epochs_log[:reached["epoch"]])}


def compare(preset=PRESET, seeds=3, quick=False, data_dir=None, extra=()):
    """The Keras example, then `preset` with `seeds` seeds: each seed's accuracy, seconds and ratio to the example."""
    example = keras_example(epochs=1 if quick else 15, max_train=2000 if quick else None, data_dir=data_dir)
    run = train_process.preset_run(preset, seeds, [*(QUICK_TRAIN if quick else []), *extra])
    ratio, met = judge(example, run)
    return {"quick": quick, "keras_mnist_convnet": example, "preset_run": run, "ratio": ratio,
            "accuracy_target": ACCURACY, "ratio_target": RATIO_AT_MOST, "met": met}


def judge(example, run):
    """(median ratio, met): each seed's training seconds ÷ the example's seconds to 99% (stored in the seed as
    "ratio"); met when every seed is at 99% and the median ratio at most RATIO_AT_MOST. No ratio where the example
    never reached 99%."""
    keras_s = example["seconds_to_target"]
    for seed in run["seeds"]:
        seed["ratio"] = seed["train_s"] / keras_s if keras_s else None
    ratios = [s["ratio"] for s in run["seeds"] if s["ratio"] is not None]
    ratio = statistics.median(ratios) if ratios else None
    accurate = all(s["test_accuracy"] >= ACCURACY for s in run["seeds"])
    return ratio, bool(accurate and ratio is not None and ratio <= RATIO_AT_MOST)


def example_sentence(example):
    """The Keras example's run in one sentence: its time to 99% and its test accuracy by epoch."""
    reached = (f"{example['seconds_to_target']:.0f} s to 99% (epoch {example['reached_epoch']})"
               if example["reached_epoch"] else f"99% not reached in {len(example['epochs'])} epochs")
    return (f"Keras `mnist_convnet` example in the same run: {reached}; test accuracy by epoch: "
            + ", ".join(f"{100 * e['test_accuracy']:.2f}% ({e['epoch_s']:.0f} s)" for e in example["epochs"]))


def markdown(report):
    run = report["preset_run"]
    rows = [[s["seed"], f"{100 * s['test_accuracy']:.2f}%", f"{s['train_s']:.1f}",
             "–" if s["ratio"] is None else f"{s['ratio']:.3f}×"] for s in run["seeds"]]
    ratio = "–" if report["ratio"] is None else f"{report['ratio']:.3f}×"
    return "\n".join([
        f"`{run['command']}` ({run['model']}, {run['params']:,} parameters, {run['epochs']} epochs, "
        f"{run.get('dtype_policy') or 'float32'}) against the Keras `mnist_convnet` example (float32): median ratio {ratio} (target ≤ {report['ratio_target']}× with every seed ≥ "
        f"{100 * report['accuracy_target']:.0f}%: {reporting.verdict(report['met'])})", "",
        reporting.table(["seed", "test accuracy", "training s", "× example's s to 99%"], rows), "",
        example_sentence(report["keras_mnist_convnet"])]
        + ([f"1-minute load average at the start and the end: {report['loadavg_start'][0]:.1f}, "
            f"{report['loadavg_end'][0]:.1f} (other processes slow both sides; the ratio is read within one run)."]
           if "loadavg_start" in report else []))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/mnist_time_to_99.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=PRESET)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="cap both sides: a smoke test, not a measurement")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file and .md")
    args, extra = parser.parse_known_args(argv)
    loadavg = list(os.getloadavg())
    report = compare(args.preset, args.seeds, args.quick, args.data_dir, [e for e in extra if e != "--"])
    report.update(command=reporting.command("mnist_time_to_99.py", argv), machine=reporting.machine(),
                  loadavg_start=loadavg, loadavg_end=list(os.getloadavg()))
    print(report["machine"]["text"])
    print(markdown(report))
    reporting.write(args.json, report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a train step's time goes, per activation: forward, forward + backward, and the whole train step.

    python benchmarks/step_stages.py [--activations relu,prelu,rrelu] [--repeats 10]
        [--json benchmarks/reports/training/profile.json]

For the reference mnist `cnn` with each activation (benchmarks/epoch_speed.py's models), the time of a forward
pass, of forward + backward (gradients of the loss), and of a whole `train_step` (plus the optimizer update and
metrics), each a compiled `tf.function` on one real batch, so the difference between the columns says where a
step's time goes. Stages and activations are interleaved; the medians of the repetitions are reported.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/step_stages.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import epoch_speed, reporting  # noqa: E402


def profile(activations, repeats=10, batch_size=128, data_dir=None):
    """Milliseconds per batch of forward, forward + backward, and a full train step, per activation."""
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per model and stage: retracing is expected here
    data, batches = epoch_speed.mnist_batches(1, batch_size, data_dir)
    x, y = next(iter(batches))
    built = epoch_speed.compiled_models(activations, data.spec)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    stages = {}
    for activation, model in built.items():
        model.train_on_batch(x, y)  # builds the optimizer's variables

        @tf.function
        def forward(model=model):
            return model(x, training=True)

        @tf.function
        def backward(model=model):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            return tape.gradient(loss, model.trainable_variables)

        train_step = model.make_train_function()
        iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
        stages[activation] = {"forward": forward, "forward + backward": backward,
                              "train step": lambda f=train_step, it=iterator: f(it)}
    times = {(a, s): [] for a in activations for s in stages[activations[0]]}
    for rep in range(repeats + 1):
        for activation in activations:
            for stage, fn in stages[activation].items():
                start = time.perf_counter()
                tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, fn())
                if rep:  # the first round traces
                    times[(activation, stage)].append(time.perf_counter() - start)
    rows = [{"activation": a, **{s: 1000 * statistics.median(times[(a, s)]) for s in stages[a]}}
            for a in activations]
    return {"batch_size": batch_size, "repeats": repeats, "rows": rows}


def markdown(report):
    stages = [k for k in report["rows"][0] if k != "activation"]
    rows = [[r["activation"], *(f"{r[s]:.1f}" for s in stages)] for r in report["rows"]]
    return (f"mnist `cnn`, batch {report['batch_size']}, ms per batch, median of {report['repeats']}\n\n"
            + reporting.table(["activation", *stages], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/step_stages.py", description=__doc__.splitlines()[0])
    parser.add_argument("--activations", default=epoch_speed.DEFAULT_ACTIVATIONS,
                        help="comma-separated relu_zoo specs, or keras.<Layer> for a Keras layer with its defaults")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args(argv)
    report = profile([a for a in args.activations.split(",") if a], repeats=args.repeats,
                     batch_size=args.batch_size, data_dir=args.data_dir)
    reporting.publish(report, "step_stages.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

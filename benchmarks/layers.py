"""Forward + backward time of every relu_zoo layer, as ratios to tf.nn.relu and to the matching Keras layer.

    python benchmarks/layers.py [--shape 256,32,32,64] [--repeats 15] [--layers prelu,rrelu] [--unfused prelu,rrelu]

Each candidate is a `tf.function` (graph mode, no XLA around it; relu_zoo's PReLU and RReLU compile their own
element-wise math as XLA clusters on TensorFlow, which `--unfused` compares with `RELU_ZOO_XLA=0`) computing the gradient of `sum(f(x) * cotangent)`
with respect to the input and the layer's weights. Candidates are timed round-robin (every repetition runs
each once, so load from other processes hits them alike) and the median is reported. The numbers are
ratios measured in one run; absolute times on a shared machine mean little.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# Targets of the foundation issue, as ratios to tf.nn.relu.
TARGETS = {"leaky_relu": 1.2, "prelu": 1.6, "rrelu (training)": 2.0}

KERAS_MATCH = {
    "relu": lambda keras: keras.layers.ReLU(),
    "relu6": lambda keras: keras.layers.ReLU(max_value=6.0),
    "leaky_relu": lambda keras: keras.layers.LeakyReLU(negative_slope=0.01),
    "prelu": lambda keras: keras.layers.PReLU(shared_axes=[1, 2]),
    "elu": lambda keras: keras.layers.ELU(),
    "selu": lambda keras: keras.layers.Activation("selu"),
    "gelu": lambda keras: keras.layers.Activation("gelu"),
    "silu": lambda keras: keras.layers.Activation("silu"),
    "mish": lambda keras: keras.layers.Activation("mish"),
    "softplus": lambda keras: keras.layers.Activation("softplus"),
    "celu": lambda keras: keras.layers.Activation("celu"),
}


def make_step(tf, fn, x, weights, cotangent):
    @tf.function(jit_compile=False)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * cotangent) if y.shape == cotangent.shape else tf.reduce_sum(y)
        return tape.gradient(loss, [x, *weights])

    return step


def run(shape=(256, 32, 32, 64), repeats=15, names=None):
    """The median seconds of each candidate (see `run_times`)."""
    return {k: float(np.median(v)) for k, v in run_times(shape, repeats, names).items()}


def run_times(shape=(256, 32, 32, 64), repeats=15, names=None, unfused=()):
    """Seconds of every repetition of each candidate, timed round-robin.

    `unfused`: activations also timed with `RELU_ZOO_XLA=0` (as "<name> unfused"; RReLU in training, as
    "rrelu (training) unfused"), side by side.
    """
    import keras
    import tensorflow as tf

    import relu_zoo

    x = tf.random.stateless_normal(shape, seed=[1, 2])
    cotangent = tf.random.stateless_normal(shape, seed=[3, 4])
    candidates = {"tf.nn.relu": make_step(tf, tf.nn.relu, x, [], cotangent)}
    names = names or relu_zoo.list_activations()
    for name in names:
        layer = relu_zoo.get(name)
        layer.build(shape)
        if name == "rrelu":
            candidates["rrelu (training)"] = make_step(
                tf, lambda t, layer=layer: layer(t, training=True), x, [], cotangent)
            candidates["rrelu (inference)"] = make_step(tf, layer, x, [], cotangent)
        else:
            candidates[name] = make_step(tf, layer, x, layer.trainable_weights, cotangent)
        if name in KERAS_MATCH:
            klayer = KERAS_MATCH[name](keras)
            klayer.build(shape)
            candidates[f"keras:{name}"] = make_step(tf, klayer, x, klayer.trainable_weights, cotangent)
            if name == "prelu":
                full = keras.layers.PReLU()  # Keras' default: one slope per input element
                full.build(shape)
                candidates["keras:prelu (default)"] = make_step(tf, full, x, full.trainable_weights, cotangent)
    for name in unfused:
        layer = relu_zoo.get(name)
        layer.build(shape)
        call = (lambda t, layer=layer: layer(t, training=True)) if name == "rrelu" else layer
        key = "rrelu (training) unfused" if name == "rrelu" else f"{name} unfused"
        candidates[key] = make_step(tf, _unfused(call), x, layer.trainable_weights, cotangent)
    for step in candidates.values():  # trace and warm up
        for _ in range(2):
            _ = [t.numpy() for t in step() if t is not None]
    times = {k: [] for k in candidates}
    for _ in range(repeats):
        for key, step in candidates.items():
            start = time.perf_counter()
            _ = [t.numpy() for t in step() if t is not None]
            times[key].append(time.perf_counter() - start)
    return times


def _unfused(call):
    """`call` traced with `RELU_ZOO_XLA=0`: relu_zoo's element-wise math as separate TensorFlow ops."""

    def traced(t):
        previous = os.environ.get("RELU_ZOO_XLA")
        os.environ["RELU_ZOO_XLA"] = "0"
        try:
            return call(t)
        finally:
            if previous is None:
                del os.environ["RELU_ZOO_XLA"]
            else:
                os.environ["RELU_ZOO_XLA"] = previous

    return traced


def table(medians):
    base = medians["tf.nn.relu"]
    lines = [f"forward+backward, median; tf.nn.relu = {1000 * base:.1f} ms", "",
             "| layer | ms | × tf.nn.relu | matching Keras layer | × Keras | target |",
             "|---|---:|---:|---|---:|---|"]
    for key, value in medians.items():
        if key.startswith("keras:") or key == "tf.nn.relu":
            continue
        name = key.split(" ")[0]
        keras_key = f"keras:{name}"
        keras_cells = ("–", "–")
        if keras_key in medians:
            keras_cells = (f"`{KERAS_NAMES.get(name, name)}`", f"{value / medians[keras_key]:.2f}")
        target = ""
        if key in TARGETS:
            ratio = value / base
            target = f"≤ {TARGETS[key]}× {'PASS' if ratio <= TARGETS[key] else 'MISS'}"
        lines.append(f"| {key} | {1000 * value:.1f} | {value / base:.2f} | {keras_cells[0]} | {keras_cells[1]} | "
                     f"{target} |")
    if "keras:prelu (default)" in medians:
        lines += ["", f"keras.layers.PReLU() with its default per-element slope: "
                      f"{medians['keras:prelu (default)'] / base:.2f}× tf.nn.relu; "
                      f"keras.layers.PReLU(shared_axes=[1, 2]): {medians['keras:prelu'] / base:.2f}×."]
    return "\n".join(lines)


KERAS_NAMES = {
    "relu": "ReLU", "relu6": "ReLU(max_value=6)", "leaky_relu": "LeakyReLU", "prelu": "PReLU(shared_axes=[1,2])",
    "elu": "ELU", "selu": 'Activation("selu")', "gelu": 'Activation("gelu")', "silu": 'Activation("silu")',
    "mish": 'Activation("mish")', "softplus": 'Activation("softplus")', "celu": 'Activation("celu")',
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/layers.py", description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="256,32,32,64", help="input shape, comma-separated")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--layers", default=None, help="comma-separated subset of activations")
    parser.add_argument("--unfused", default="", help="comma-separated activations also timed with RELU_ZOO_XLA=0 "
                                                       "(their element-wise math unfused), side by side")
    parser.add_argument("--markdown", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    times = run_times(shape, args.repeats, args.layers.split(",") if args.layers else None,
                      unfused=[u for u in args.unfused.split(",") if u])
    medians = {k: float(np.median(v)) for k, v in times.items()}
    text = f"shape {shape}, {args.repeats} repetitions\n\n" + table(medians)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Forward + backward time of every relu_zoo activation layer against Keras' own layer and TensorFlow's plain op,
in TensorFlow graph mode and under XLA.

    python benchmarks/layers.py [--shape 256,32,32,64] [--repeats 7] [--modes graph,xla] [--layers relu,gelu]
                                [--unfused prelu,rrelu] [--conv] [--clock wall|cpu]
                                [--json benchmarks/reports/layers/cpu.json]

Each candidate is a `tf.function` computing the gradient of `sum(f(x) * cotangent)` with respect to the input and
the layer's weights. Mode `graph` runs it without XLA: what Keras' `fit` runs on a CPU, where Keras turns XLA off
(relu_zoo's activations compile their own element-wise passes as XLA clusters inside that graph, which `--unfused`
compares with `RELU_ZOO_XLA=0`). Mode `xla` compiles the whole step (`jit_compile=True`). `--conv` adds a
Conv2D 3x3 + bias + activation step for the activations TensorFlow's graph optimizer fuses into the convolution
(relu, relu6, leaky_relu, elu), each against the same step with Keras' layer.

Candidates of one mode are timed round-robin, the order rotating each repetition, so that load from other
processes hits them alike; a ratio is the median of one candidate's times over the median of the other's, both
measured in the same run. Absolute times on a shared machine mean little. `--json` stores every repetition's time,
the ratios, the CPU and the command, and writes the table as markdown beside it (`README.md`).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# Targets, as ratios. The first two of each activation that Keras or TensorFlow has, forward + backward in each mode.
AT_MOST_KERAS = 1.0  # ÷ Keras' own layer
AT_MOST_PLAIN = 1.1  # ÷ TensorFlow's plain op (`PLAIN_OPS`)
# ÷ tf.nn.relu in graph mode, as earlier reports stated them; RReLU's holds for its median and slowest repetition.
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

KERAS_NAMES = {
    "relu": "ReLU", "relu6": "ReLU(max_value=6)", "leaky_relu": "LeakyReLU", "prelu": "PReLU(shared_axes=[1,2])",
    "elu": "ELU", "selu": 'Activation("selu")', "gelu": 'Activation("gelu")', "silu": 'Activation("silu")',
    "mish": 'Activation("mish")', "softplus": 'Activation("softplus")', "celu": 'Activation("celu")',
}

# TensorFlow's (or keras.ops') own function for an activation: (its name, a function of x, the rules of
# docs/howto/layers.md it does not keep, which relu_zoo pays for where it costs more than the plain op).
PLAIN_OPS = {
    "relu": ("tf.nn.relu", lambda tf, x: tf.nn.relu(x), "NaN gradient at a NaN input (ReluGrad gives 0)"),
    "relu6": ("tf.nn.relu6", lambda tf, x: tf.nn.relu6(x), "NaN gradient at a NaN input"),
    "leaky_relu": ("tf.nn.leaky_relu", lambda tf, x: tf.nn.leaky_relu(x, 0.01),
                   "NaN gradient at a NaN input; exact slope in float64"),
    "elu": ("tf.nn.elu", lambda tf, x: tf.nn.elu(x),
            "expm1 (the kernel's exp(x) - 1 is 20 % off at x = -1e-7); NaN gradient at a NaN input"),
    "selu": ("tf.nn.selu", lambda tf, x: tf.nn.selu(x), "expm1; derivative at 0 is scale·alpha (the kernel's: scale)"),
    "celu": ("keras.ops.celu", lambda tf, x: _keras_ops().celu(x), "expm1; 16-bit inputs computed in float32"),
    "gelu": ("tf.nn.gelu", lambda tf, x: tf.nn.gelu(x, approximate=False),
             "limits at ±inf; constants in the input's dtype (the kernel's are float32)"),
    "silu": ("tf.nn.silu", lambda tf, x: tf.nn.silu(x), "limits at ±inf (silu(-inf) = 0 and silu'(inf) = 1, not NaN)"),
    "mish": ("x·tanh(softplus(x))", lambda tf, x: x * tf.math.tanh(tf.math.softplus(x)), "limits at ±inf"),
    "softplus": ("tf.math.softplus", lambda tf, x: tf.math.softplus(x),
                 "PyTorch's threshold: exactly x where beta·x > 20"),
    "crelu": ("tf.nn.crelu", lambda tf, x: tf.nn.crelu(x), "NaN gradient at a NaN input"),
}

# The activations TensorFlow's graph optimizer (grappler's remapper) fuses into a preceding conv + bias.
CONV_FUSED = ("relu", "relu6", "leaky_relu", "elu")
CONV_SHAPE = (64, 32, 32, 32)  # the conv step's input; 32 filters, 3x3, "same"


def _keras_ops():
    import keras

    return keras.ops


def make_step(tf, fn, x, weights, cotangent, jit_compile=False):
    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * cotangent) if y.shape == cotangent.shape else tf.reduce_sum(y)
        return tape.gradient(loss, [x, *weights])

    return step


def run(shape=(256, 32, 32, 64), repeats=15, names=None):
    """The median seconds of each candidate in graph mode (see `run_times`)."""
    return {k: float(np.median(v)) for k, v in run_times(shape, repeats, names).items()}


def candidates(shape=(256, 32, 32, 64), names=None, unfused=(), jit_compile=False, conv=False):
    """{key: step} of one mode: "tf.nn.relu"; each activation's relu_zoo layer under its name (RReLU as "rrelu
    (training)" and "rrelu (inference)"), Keras' layer as "keras:<name>", the plain op as "plain:<name>"; with
    `unfused`, "<name> unfused" traced with `RELU_ZOO_XLA=0`; with `conv`, "conv+<name>" and "keras:conv+<name>"."""
    import keras
    import tensorflow as tf

    import relu_zoo

    x = tf.random.stateless_normal(shape, seed=[1, 2])
    cotangent = tf.random.stateless_normal(shape, seed=[3, 4])

    def step(fn, weights=()):
        return make_step(tf, fn, x, list(weights), cotangent, jit_compile)

    steps = {"tf.nn.relu": step(tf.nn.relu)}
    for name in names or relu_zoo.list_activations():
        layer = relu_zoo.get(name)
        layer.build(shape)
        if name == "rrelu":
            steps["rrelu (training)"] = step(lambda t, layer=layer: layer(t, training=True))
            steps["rrelu (inference)"] = step(layer)
        else:
            steps[name] = step(layer, layer.trainable_weights)
        if name in KERAS_MATCH:
            klayer = KERAS_MATCH[name](keras)
            klayer.build(shape)
            steps[f"keras:{name}"] = step(klayer, klayer.trainable_weights)
        if name in PLAIN_OPS:
            steps[f"plain:{name}"] = step(lambda t, op=PLAIN_OPS[name][1]: op(tf, t))
    for name in unfused:
        layer = relu_zoo.get(name)
        layer.build(shape)
        call = (lambda t, layer=layer: layer(t, training=True)) if name == "rrelu" else layer
        key = "rrelu (training) unfused" if name == "rrelu" else f"{name} unfused"
        steps[key] = step(_unfused(call), layer.trainable_weights)
    if conv:
        steps.update(conv_candidates(tf, keras, [n for n in CONV_FUSED if n in (names or CONV_FUSED)], jit_compile))
    return steps


def conv_candidates(tf, keras, names, jit_compile=False):
    """{"conv+<name>": step, "keras:conv+<name>": step}: a Conv2D with bias and the activation after it, the
    gradients for the input, kernel and bias (what a conv layer's training step computes)."""
    import relu_zoo

    x = tf.random.stateless_normal(CONV_SHAPE, seed=[5, 6])
    steps = {}
    for name in names:
        for key, act in ((f"conv+{name}", relu_zoo.get(name)), (f"keras:conv+{name}", KERAS_MATCH[name](keras))):
            conv = keras.layers.Conv2D(CONV_SHAPE[-1], 3, padding="same", use_bias=True)
            conv.build(CONV_SHAPE)
            cotangent = tf.random.stateless_normal(CONV_SHAPE, seed=[7, 8])
            steps[key] = make_step(tf, lambda t, conv=conv, act=act: act(conv(t)), x, conv.trainable_weights,
                                   cotangent, jit_compile)
    return steps


def run_times(shape=(256, 32, 32, 64), repeats=15, names=None, unfused=(), jit_compile=False, conv=False,
              clock=time.perf_counter):
    """Seconds of every repetition of each candidate (`candidates`), timed round-robin by `clock`: wall time, or
    `time.process_time` (the process' CPU seconds, all threads: on a machine shared with other jobs it leaves out
    the time spent waiting for a core, which wall time counts for whichever candidate was running).

    `unfused`: activations also timed with `RELU_ZOO_XLA=0` (as "<name> unfused"; RReLU in training, as
    "rrelu (training) unfused"), side by side.
    """
    steps = candidates(shape, names, unfused, jit_compile, conv)
    for step in steps.values():  # trace, compile and warm up
        for _ in range(2):
            _ = [t.numpy() for t in step() if t is not None]
    keys = list(steps)
    times = {k: [] for k in keys}
    for rep in range(repeats):
        for key in keys[rep % len(keys):] + keys[:rep % len(keys)]:
            start = clock()
            _ = [t.numpy() for t in steps[key]() if t is not None]
            times[key].append(clock() - start)
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
    """The graph-mode table of earlier reports: every candidate ÷ tf.nn.relu and ÷ the matching Keras layer."""
    base = medians["tf.nn.relu"]
    lines = [f"forward+backward, median; tf.nn.relu = {1000 * base:.1f} ms", "",
             "| layer | ms | × tf.nn.relu | matching Keras layer | × Keras | target |",
             "|---|---:|---:|---|---:|---|"]
    for key, value in medians.items():
        if key.startswith(("keras:", "plain:", "conv+")) or key == "tf.nn.relu":
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
    return "\n".join(lines)


def ratio(times, key, base):
    """`key`'s median time ÷ `base`'s, and the range of the per-repetition ratios (the same repetition's times)."""
    per_rep = [t / b for t, b in zip(times[key], times[base])]
    return {"median": round(statistics.median(times[key]) / statistics.median(times[base]), 3),
            "min": round(min(per_rep), 3), "max": round(max(per_rep), 3)}


def rows(times):
    """One row per relu_zoo candidate of a mode: its ratios to Keras' layer, the plain op and tf.nn.relu, and
    whether it meets its targets (`None` where it has none)."""
    out = []
    for key in times:
        if key.startswith(("keras:", "plain:")) or key == "tf.nn.relu":
            continue
        name = key.split(" ")[0]
        row = {"candidate": key, "ms": round(1000 * statistics.median(times[key]), 2),
               "relu": ratio(times, key, "tf.nn.relu")}
        if f"keras:{name}" in times:
            row["keras"] = ratio(times, key, f"keras:{name}")
        if key == name and name in PLAIN_OPS:
            row["plain"] = {**ratio(times, key, f"plain:{name}"), "op": PLAIN_OPS[name][0],
                            "rules": PLAIN_OPS[name][2]}
        met = []
        if "keras" in row:
            met.append(row["keras"]["median"] <= AT_MOST_KERAS)
        if "plain" in row:
            met.append(row["plain"]["median"] <= AT_MOST_PLAIN)
        if key in TARGETS:
            # "Stable" for RReLU: the median meets it and so does the slowest repetition's ratio.
            met.append(row["relu"]["median"] <= TARGETS[key]
                       and (key != "rrelu (training)" or row["relu"]["max"] <= TARGETS[key]))
        row["met"] = all(met) if met else None
        out.append(row)
    return out


def report(times_by_mode, shape, repeats, command, clock="wall"):
    """The stored report: the machine, the command, every repetition's seconds and the rows of each mode."""
    import keras
    import tensorflow as tf

    from relu_zoo.run import machine

    return {"command": command, "cpu": machine.cpu(), "machine": platform.machine(),
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()},
            "onednn": machine.onednn_enabled(), "shape": list(shape), "conv_shape": list(CONV_SHAPE),
            "repeats": repeats, "clock": clock,
            "targets": {"keras": AT_MOST_KERAS, "plain": AT_MOST_PLAIN, "relu": TARGETS},
            "modes": {mode: {"rows": rows(times), "seconds": {k: [round(t, 6) for t in v] for k, v in times.items()}}
                      for mode, times in times_by_mode.items()}}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_TEXT = {"wall": "wall time", "cpu": "CPU time of the process, all threads (`--clock cpu`: the machine was shared "
                                    "with other jobs, whose load wall time would charge to whichever candidate ran)"}

MODE_TEXT = {"graph": "TensorFlow graph mode (`tf.function`, no XLA: what `fit` runs on a CPU)",
             "xla": "XLA (`tf.function(jit_compile=True)`)"}


def markdown(stored):
    """The stored report as a page: one table per mode, then the rules that cost time."""
    from relu_zoo.run import machine

    def cell(r):
        return f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})" if r else "–"

    shape = ", ".join(map(str, stored["shape"]))
    clock = stored.get("clock", "wall")
    lines = ["# Layer speed", "", f"Forward + backward of one layer on a ({shape}) float32 tensor; each cell is the "
             f"ratio of medians over {stored['repeats']} round-robin repetitions, with the range of the "
             f"per-repetition ratios, measured in {CLOCK_TEXT[clock]}. Targets: ≤ "
             f"{stored['targets']['keras']}× Keras' own layer and ≤ {stored['targets']['plain']}× TensorFlow's "
             "plain op in every mode; RReLU in training ≤ 2.0× tf.nn.relu in graph mode, median and slowest "
             "repetition. Conv rows: a Conv2D 3×3 with bias and the activation "
             f"(input {tuple(stored['conv_shape'])}), against the same with Keras' layer.", "",
             f"`{stored['command']}`", "",
             f"CPU: {machine.cpu_text(stored['cpu'])}; TensorFlow {stored['versions']['tensorflow']}, Keras "
             f"{stored['versions']['keras']}, oneDNN {'on' if stored['onednn'] else 'off'}."]
    costs = []
    for mode, part in stored["modes"].items():
        lines += ["", f"## {MODE_TEXT.get(mode, mode)}", "",
                  "| layer | ms | × Keras' layer | × plain op | plain op | × tf.nn.relu | met |",
                  "|---|---:|---:|---:|---|---:|---|"]
        for row in part["rows"]:
            plain = row.get("plain")
            met = {True: "yes", False: "**no**", None: ""}[row["met"]]
            lines.append(f"| {row['candidate']} | {row['ms']:.1f} | {cell(row.get('keras'))} | {cell(plain)} | "
                         f"{('`' + plain['op'] + '`') if plain else '–'} | {cell(row['relu'])} | {met} |")
            if plain and plain["median"] > 1.0:
                costs.append(f"- {row['candidate']} ({mode}): {plain['median']:.2f}× `{plain['op']}`, which "
                             f"does not keep: {plain['rules']}.")
    if costs:
        lines += ["", "## What the rules cost", "",
                  "Rows slower than TensorFlow's plain op, which computes the same function without the edge rules "
                  "(docs/howto/layers.md) named here: the ratio bounds what keeping them costs, measured with "
                  "(relu_zoo) and without (the plain op) in the same run.", "", *costs]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/layers.py", description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="256,32,32,64", help="input shape, comma-separated")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--modes", default="graph,xla", help="comma-separated: graph (no XLA), xla (jit_compile)")
    parser.add_argument("--layers", default=None, help="comma-separated subset of activations")
    parser.add_argument("--unfused", default="", help="comma-separated activations also timed with RELU_ZOO_XLA=0 "
                                                       "(their element-wise math unfused), side by side, graph mode")
    parser.add_argument("--conv", action="store_true", help="also time conv + bias + activation steps")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or cpu: the process' CPU seconds (for a machine shared with other jobs)")
    parser.add_argument("--markdown", default=None, help="also write the graph-mode table to this file")
    parser.add_argument("--json", default=None, help="store the report here, and its markdown as README.md beside")
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    names = args.layers.split(",") if args.layers else None
    times_by_mode = {}
    for mode in args.modes.split(","):
        unfused = [u for u in args.unfused.split(",") if u] if mode == "graph" else []
        times_by_mode[mode] = run_times(shape, args.repeats, names, unfused=unfused, jit_compile=mode == "xla",
                                        conv=args.conv, clock=CLOCKS[args.clock])
        medians = {k: float(np.median(v)) for k, v in times_by_mode[mode].items()}
        print(f"## {mode}: shape {shape}, {args.repeats} repetitions\n\n" + table(medians) + "\n", flush=True)
    command = "python benchmarks/layers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stored = report(times_by_mode, shape, args.repeats, command.strip(), args.clock)
    text = markdown(stored)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table({k: float(np.median(v)) for k, v in times_by_mode[args.modes.split(",")[0]].items()}) + "\n")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(stored, f, indent=1)
        with open(os.path.join(os.path.dirname(os.path.abspath(args.json)), "README.md"), "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

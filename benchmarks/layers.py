"""Forward + backward time of every relu_zoo activation layer against Keras' own layer and the backend's plain op:
on TensorFlow in graph mode and under XLA, on JAX under `jax.jit`, on PyTorch in eager autograd.

    python benchmarks/layers.py [--backends tensorflow,jax,torch] [--python jax=PATH ...] [--shape 256,32,32,64]
                                [--repeats 7] [--modes graph,xla] [--layers relu,gelu] [--unfused prelu,rrelu]
                                [--conv] [--clock wall|cpu] [--json benchmarks/reports/layers/cpu.json]
    python benchmarks/layers.py --report benchmarks/reports/layers/cpu.json   # the page again from stored times

Each candidate computes the gradient of `sum(f(x) * cotangent)` with respect to the input and the layer's weights,
the way each backend trains by default. On TensorFlow it is a `tf.function`: mode `graph` runs it without XLA, what
Keras' `fit` runs on a CPU, where Keras turns XLA off (relu_zoo's activations compile their own element-wise passes
as XLA clusters inside that graph, which `--unfused` compares with `RELU_ZOO_XLA=0`); mode `xla` compiles the whole
step (`jit_compile=True`). `--conv` adds a Conv2D 3x3 + bias + activation step for the activations TensorFlow's
graph optimizer fuses into the convolution (relu, relu6, leaky_relu, elu), each against the same step with Keras'
layer. On JAX (mode `jit`) it is `jax.jit` of `jax.grad`, against `jax.nn`'s function; on PyTorch (mode `eager`)
`torch.autograd.grad`, against `torch.nn.functional`'s. Each backend runs in its own process (Keras picks its
backend once per process): this interpreter where it has the backend's package, else the one `--python
backend=path` names (benchmarks/backends.py's `interpreters`).

Candidates of one mode are timed round-robin, the order rotating each repetition, so that load from other
processes hits them alike; a ratio is the median of one candidate's times over the median of the other's, both
measured in the same run. Absolute times on a shared machine mean little. `--json` stores every repetition's time,
the ratios, the CPU and the command, and writes the tables as markdown beside it (`README.md`).
"""

import argparse
import importlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

if not __package__:  # `python benchmarks/layers.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import backends as backend_bench, reporting  # noqa: E402
from benchmarks.layer_steps import (  # noqa: E402,F401  (public here too: the report's tables name them)
    BASE, CONV_SHAPE, KERAS_MATCH, KERAS_NAMES, MODES, OWN_OPS, PLAIN_OPS, backend_steps, candidates, make_step,
)

# Targets, as ratios. The first two of each activation that Keras or the backend has, forward + backward in each mode.
AT_MOST_KERAS = 1.0  # ÷ Keras' own layer
AT_MOST_PLAIN = 1.1  # ÷ the backend's plain op (`PLAIN_OPS`, `OWN_OPS`)
# ÷ tf.nn.relu in graph mode, as earlier reports stated them; RReLU's holds for its median and slowest repetition.
TARGETS = {"leaky_relu": 1.2, "prelu": 1.6, "rrelu (training)": 2.0}
# ÷ the backend's relu on JAX and PyTorch: RReLU's, as on TensorFlow.
OTHER_TARGETS = {"rrelu (training)": TARGETS["rrelu (training)"]}


def run(shape=(256, 32, 32, 64), repeats=15, names=None):
    """The median seconds of each candidate in graph mode (see `run_times`)."""
    return {k: float(np.median(v)) for k, v in run_times(shape, repeats, names).items()}


def run_times(shape=(256, 32, 32, 64), repeats=15, names=None, unfused=(), jit_compile=False, conv=False,
              clock=time.perf_counter):
    """Seconds of every repetition of each TensorFlow candidate (`candidates`), timed round-robin by `clock`.

    `unfused`: activations also timed with `RELU_ZOO_XLA=0` (as "<name> unfused"; RReLU in training, as
    "rrelu (training) unfused"), side by side.
    """
    steps = candidates(shape, names, unfused, jit_compile, conv)
    return time_steps({k: lambda step=step: [t.numpy() for t in step() if t is not None] for k, step in steps.items()},
                      repeats, clock)


def time_steps(steps, repeats, clock=time.perf_counter):
    """Seconds of every repetition of each of `steps` ({key: a function that runs a step and waits for it}), after
    two calls each (tracing, compiling, warming up), timed round-robin, the order rotating each repetition, by
    `clock`: wall time, or `time.process_time` (the process' CPU seconds, all threads: on a machine shared with
    other jobs it leaves out the time spent waiting for a core, which wall time counts for whichever candidate ran).
    """
    for step in steps.values():
        step()
        step()
    keys = list(steps)
    times = {k: [] for k in keys}
    for rep in range(repeats):
        for key in keys[rep % len(keys):] + keys[:rep % len(keys)]:
            start = clock()
            steps[key]()
            times[key].append(clock() - start)
    return times


def worker(backend, shape, repeats, names=None, modes=("graph", "xla"), unfused=(), conv=False, clock="wall"):
    """This process's backend (`backend`, checked) timed: {"modes": {mode: seconds of every repetition}, "versions",
    "threads"}, and on TensorFlow whether it runs its oneDNN kernels; each mode's table printed to stderr."""
    import keras

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    module = importlib.import_module(backend)
    result = {"modes": {}, "versions": {backend: module.__version__, "keras": keras.__version__,
                                        "python": platform.python_version()}, "threads": {"cpus": os.cpu_count()}}
    if backend == "tensorflow":
        from relu_zoo.run import machine

        result["onednn"] = machine.onednn_enabled()
        for mode in modes:
            result["modes"][mode] = run_times(shape, repeats, names, unfused=unfused if mode == "graph" else (),
                                              jit_compile=mode == "xla", conv=conv, clock=CLOCKS[clock])
        result["threads"].update(intra_op=module.config.threading.get_intra_op_parallelism_threads(),
                                 inter_op=module.config.threading.get_inter_op_parallelism_threads())
    else:
        result["modes"][MODES[backend][0]] = time_steps(backend_steps(backend, shape, names), repeats, CLOCKS[clock])
        result["threads"].update({"torch": module.get_num_threads()} if backend == "torch"
                                 else {"XLA_FLAGS": os.environ.get("XLA_FLAGS")})
    for mode, times in result["modes"].items():
        medians = {k: float(np.median(v)) for k, v in times.items()}
        print(f"## {backend} {mode}: shape {shape}, {repeats} repetitions\n\n{table(medians, BASE[backend])}\n",
              file=sys.stderr, flush=True)
    return result


def table(medians, base="tf.nn.relu"):
    """A quick table of one mode's medians: every relu_zoo candidate ÷ `base` (the backend's relu), ÷ the matching
    Keras layer and ÷ the plain op."""
    lines = [f"forward+backward, median; {base} = {1000 * medians[base]:.1f} ms", "",
             f"| layer | ms | × {base} | matching Keras layer | × Keras | × plain op |",
             "|---|---:|---:|---|---:|---:|"]
    for key, value in medians.items():
        if key.startswith(("keras:", "plain:", "conv+")) or key == base:
            continue
        name = key.split(" ")[0]
        keras_cells = ("–", "–")
        if f"keras:{name}" in medians:
            keras_cells = (f"`{KERAS_NAMES.get(name, name)}`", f"{value / medians[f'keras:{name}']:.2f}")
        plain = f"{value / medians[f'plain:{key}']:.2f}" if f"plain:{key}" in medians else "–"
        lines.append(f"| {key} | {1000 * value:.1f} | {value / medians[base]:.2f} | {keras_cells[0]} | "
                     f"{keras_cells[1]} | {plain} |")
    return "\n".join(lines)


def ratio(times, key, base):
    """`key`'s median time ÷ `base`'s, and the range of the per-repetition ratios (the same repetition's times)."""
    per_rep = [t / b for t, b in zip(times[key], times[base])]
    return {"median": round(statistics.median(times[key]) / statistics.median(times[base]), 3),
            "min": round(min(per_rep), 3), "max": round(max(per_rep), 3)}


def rows(times, base="tf.nn.relu", plain_ops=PLAIN_OPS, targets=TARGETS):
    """One row per relu_zoo candidate of a mode: its ratios to Keras' layer, the plain op (of `plain_ops`) and
    `base` (the backend's relu), and whether it meets its targets (`None` where it has none; `targets`: ÷ `base`)."""
    out = []
    for key in times:
        if key.startswith(("keras:", "plain:")) or key == base:
            continue
        name = key.split(" ")[0]
        row = {"candidate": key, "ms": round(1000 * statistics.median(times[key]), 2),
               "relu": ratio(times, key, base)}
        if f"keras:{name}" in times:
            row["keras"] = ratio(times, key, f"keras:{name}")
        if f"plain:{key}" in times and key in plain_ops:
            row["plain"] = {**ratio(times, key, f"plain:{key}"), "op": plain_ops[key][0], "rules": plain_ops[key][2]}
        met = []
        # At the precision the page shows (two decimals): a ratio of 1.004 is 1.00, within any target of 1.0.
        if "keras" in row:
            met.append(round(row["keras"]["median"], 2) <= AT_MOST_KERAS)
        if "plain" in row:
            met.append(round(row["plain"]["median"], 2) <= AT_MOST_PLAIN)
        if key in targets:
            # "Stable" for RReLU: the median meets it and so does the slowest repetition's ratio.
            met.append(round(row["relu"]["median"], 2) <= targets[key]
                       and (key != "rrelu (training)" or round(row["relu"]["max"], 2) <= targets[key]))
        row["met"] = all(met) if met else None
        out.append(row)
    return out


def _modes(times_by_mode, base, plain_ops, targets):
    return {mode: {"rows": rows(times, base, plain_ops, targets),
                   "seconds": {k: [round(t, 6) for t in v] for k, v in times.items()}}
            for mode, times in times_by_mode.items()}


def report(times_by_mode, shape, repeats, command, clock="wall", others=None, tensorflow=None):
    """The stored report: the machine, the command, every repetition's seconds and the rows of each mode;
    TensorFlow's modes (`times_by_mode`) at the top, as earlier reports, and each other backend's (`others`:
    {backend: `worker()`'s result}) under "backends". `tensorflow`: the TensorFlow worker's result (default: this
    process's versions)."""
    from relu_zoo.run import machine

    if tensorflow is None:
        import keras
        import tensorflow as tf

        tensorflow = {"versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                                   "python": platform.python_version()}, "onednn": machine.onednn_enabled()}
    stored = {"command": command, "cpu": machine.cpu(), "machine": platform.machine(),
              "versions": tensorflow.get("versions", {}), "onednn": tensorflow.get("onednn"), "shape": list(shape),
              "conv_shape": list(CONV_SHAPE), "repeats": repeats, "clock": clock,
              "targets": {"keras": AT_MOST_KERAS, "plain": AT_MOST_PLAIN, "relu": TARGETS},
              "modes": _modes(times_by_mode, BASE["tensorflow"], PLAIN_OPS, TARGETS)}
    if "threads" in tensorflow:
        stored["threads"] = tensorflow["threads"]
    stored["backends"] = {b: {"base": BASE[b], "versions": r["versions"], "threads": r["threads"],
                              "relu_targets": OTHER_TARGETS,
                              "modes": _modes(r["modes"], BASE[b], OWN_OPS[b], OTHER_TARGETS)}
                          for b, r in (others or {}).items()}
    return stored


def rederived(stored):
    """`stored` with its rows, targets and rule texts derived again from its seconds by this code (`--report`)."""
    stored = {**stored, "targets": {"keras": AT_MOST_KERAS, "plain": AT_MOST_PLAIN, "relu": TARGETS},
              "modes": _modes({m: p["seconds"] for m, p in stored["modes"].items()}, BASE["tensorflow"], PLAIN_OPS,
                              TARGETS)}
    stored["backends"] = {b: {**p, "relu_targets": OTHER_TARGETS,
                              "modes": _modes({m: q["seconds"] for m, q in p["modes"].items()}, BASE[b], OWN_OPS[b],
                                              OTHER_TARGETS)}
                          for b, p in stored.get("backends", {}).items()}
    return stored


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_TEXT = {"wall": "wall time", "cpu": "CPU time of the process, all threads (`--clock cpu`: the machine was shared "
                                    "with other jobs, whose load wall time would charge to whichever candidate ran)"}

MODE_TEXT = {"graph": "TensorFlow graph mode (`tf.function`, no XLA: what `fit` runs on a CPU)",
             "xla": "XLA (`tf.function(jit_compile=True)`)",
             "jit": "JAX (`jax.jit` of `jax.value_and_grad`)", "eager": "PyTorch (eager autograd)"}
BACKEND_TEXT = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


def markdown(stored):
    """The stored report as a page: one table per backend and mode, then the rules that cost time."""
    from relu_zoo.run import machine

    def cell(r):
        return f"{r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f})" if r else "–"

    shape = ", ".join(map(str, stored["shape"]))
    clock = stored.get("clock", "wall")
    others = stored.get("backends", {})
    versions = [f"{BACKEND_TEXT[b]} {part['versions'][b]} (Keras {part['versions']['keras']}"
                + (f", {part['threads']['torch']} threads)" if "torch" in part["threads"] else ")")
                for b, part in others.items()]
    lines = ["# Layer speed", "", f"Forward + backward of one layer on a ({shape}) float32 tensor; each cell is the "
             f"ratio of medians over {stored['repeats']} round-robin repetitions, with the range of the "
             f"per-repetition ratios, measured in {CLOCK_TEXT[clock]}. Targets: ≤ "
             f"{stored['targets']['keras']}× Keras' own layer and ≤ {stored['targets']['plain']}× the backend's "
             "plain op in every mode; RReLU in training ≤ 2.0× tf.nn.relu in graph mode, median and slowest "
             "repetition. Conv rows: a Conv2D 3×3 with bias and the activation "
             f"(input {tuple(stored['conv_shape'])}), against the same with Keras' layer. Each backend ran in its "
             "own process, one after the other.", "",
             f"`{stored['command']}`", "",
             f"CPU: {machine.cpu_text(stored['cpu'])}; TensorFlow {stored['versions'].get('tensorflow', '–')}, Keras "
             f"{stored['versions'].get('keras', '–')}, oneDNN {'on' if stored['onednn'] else 'off'}"
             + "".join(f"; {v}" for v in versions) + "."]
    costs = []
    sections = [("tensorflow", "tf.nn.relu", stored["modes"], stored["targets"]["relu"])] + [
        (b, p["base"], p["modes"], p.get("relu_targets", {})) for b, p in others.items()]
    for backend, base, modes, _ in sections:
        for mode, part in modes.items():
            lines += ["", f"## {MODE_TEXT.get(mode, mode)}", "",
                      f"| layer | ms | × Keras' layer | × plain op | plain op | × {base} | met |",
                      "|---|---:|---:|---:|---|---:|---|"]
            for row in part["rows"]:
                plain = row.get("plain")
                met = {True: "yes", False: "**no**", None: ""}[row["met"]]
                lines.append(f"| {row['candidate']} | {row['ms']:.1f} | {cell(row.get('keras'))} | {cell(plain)} | "
                             f"{('`' + plain['op'] + '`') if plain else '–'} | {cell(row['relu'])} | {met} |")
                if plain and round(plain["median"], 2) > 1.0:
                    where = mode if backend == "tensorflow" else BACKEND_TEXT[backend]
                    costs.append(f"- {row['candidate']} ({where}): {plain['median']:.2f}× `{plain['op']}`, which "
                                 f"does not keep: {plain['rules']}.")
    if costs:
        lines += ["", "## What the rules cost", "",
                  "Rows slower than the backend's plain op, which computes the same function without the edge rules "
                  "(docs/howto/layers.md) named here: the ratio bounds what keeping them costs, measured with "
                  "(relu_zoo) and without (the plain op) in the same run.", "", *costs]
    limits = stored["targets"]
    misses = [f"- {key} ({mode if backend == 'tensorflow' else BACKEND_TEXT[backend]}): {miss}"
              for backend, base, modes, relu_targets in sections for mode, part in modes.items()
              for key, miss in missed(part["rows"], base, {**limits, "relu": relu_targets})]
    if misses:
        lines += ["", "## Misses and their causes", "",
                  "Every row that misses a target, by how much, and why: the rule it keeps (above), the rule of the "
                  "activation a conv row fuses, the backend's own kernel where that is what costs, or the spread of "
                  "the repetitions where their range reaches the target; a miss none of these explains says so.", "",
                  *misses]
    return "\n".join(lines) + "\n"


def missed(rows_, base, targets):
    """(candidate, text) for each row of a mode that misses a target: which ratios miss, and the cause."""
    by_name = {row["candidate"]: row for row in rows_}
    for row in rows_:
        if row["met"] is not False:
            continue
        plain, key = row.get("plain"), row["candidate"]
        over = [(f"{r['median']:.2f}× {what} (target {limit})", r, limit)
                for what, r, limit in (("Keras' layer", row.get("keras"), targets["keras"]),
                                       ("the plain op", plain, targets["plain"]),
                                       (base, row["relu"], targets["relu"].get(key)))
                if r and limit is not None and (round(r["median"], 2) > limit or (
                    key == "rrelu (training)" and what == base and round(r["max"], 2) > limit))]
        fused = by_name.get(key.split("+", 1)[1], {}).get("plain") if key.startswith("conv+") else None
        if plain and key == "rrelu (training)" and row["relu"]["median"] > targets["relu"].get(key, float("inf")):
            own = row["relu"]["median"] / plain["median"]
            cause = f"the backend's own `{plain['op']}` takes {own:.2f}× {base}: its random draw"
        elif plain and round(plain["median"], 2) > 1.0 and not plain["rules"].startswith("none"):
            cause = f"the rules it keeps ({plain['median']:.2f}× `{plain['op']}`, above)"
        elif fused and round(fused["median"], 2) > 1.0:
            cause = f"the rules of its activation ({fused['rules']})"
        elif all(r["min"] <= limit for _, r, limit in over):
            cause = "within the spread of the repetitions (their range reaches the target)"
        else:
            cause = "no rule explains it; measured as is"
        yield key, f"{', '.join(text for text, _, _ in over)}: {cause}."


def recorded(argv):
    """The command as a report keeps it: `--python backend=PATH` as `backend=$BACKEND_PYTHON` (a variable for the
    reader's own interpreter), paths in the checkout relative to it."""
    args = [f"{a.split('=')[0]}=${a.split('=')[0].upper()}_PYTHON" if before == "--python" else reporting.portable(a)
            for before, a in zip([None, *argv], argv)]
    return " ".join(["python benchmarks/layers.py", *(a if "$" in a else shlex.quote(a) for a in args)])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python benchmarks/layers.py", description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(backend_bench.BACKENDS),
                        help="comma-separated: tensorflow (modes graph, xla), jax (jit), torch (eager)")
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH",
                        help="the Python to run BACKEND with (a venv that has it)")
    parser.add_argument("--shape", default="256,32,32,64", help="input shape, comma-separated")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--modes", default="graph,xla", help="TensorFlow's, comma-separated: graph (no XLA), xla")
    parser.add_argument("--layers", default=None, help="comma-separated subset of activations")
    parser.add_argument("--unfused", default="", help="comma-separated activations also timed with RELU_ZOO_XLA=0 "
                                                       "(their element-wise math unfused), side by side, graph mode")
    parser.add_argument("--conv", action="store_true", help="also time conv + bias + activation steps (TensorFlow)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or cpu: the process' CPU seconds (for a machine shared with other jobs)")
    parser.add_argument("--markdown", default=None, help="also write TensorFlow's first mode's table to this file")
    parser.add_argument("--json", default=None, help="store the report here, and its markdown as README.md beside")
    parser.add_argument("--report", default=None, metavar="JSON",
                        help="time nothing: derive a stored report's rows and page again from its seconds")
    parser.add_argument("--worker", choices=backend_bench.BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report:
        stored = rederived(json.loads(open(args.report).read()))
        reporting.write_json(args.report, stored)
        reporting.write_text(os.path.join(os.path.dirname(os.path.abspath(args.report)), "README.md"), markdown(stored))
        return 0
    shape = tuple(int(s) for s in args.shape.split(","))
    names = args.layers.split(",") if args.layers else None
    if args.worker:
        print(json.dumps(worker(args.worker, shape, args.repeats, names, args.modes.split(","),
                                [u for u in args.unfused.split(",") if u], args.conv, args.clock)))
        return 0
    pythons = backend_bench.interpreters(dict(p.split("=", 1) for p in args.python))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = {}
    for backend in args.backends.split(","):
        if backend not in pythons:
            print(f"{backend}: skipped, no Python with it (pass --python {backend}=PATH)", file=sys.stderr)
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu",
               "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([pythons[backend], os.path.abspath(__file__), "--worker", backend, *argv],
                              stdout=subprocess.PIPE, text=True, env=env)
        if done.returncode:
            sys.exit(f"{backend} failed (exit {done.returncode})")
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    tensorflow = results.pop("tensorflow", {"modes": {}})
    stored = report(tensorflow["modes"], shape, args.repeats, recorded(argv), args.clock, results, tensorflow)
    text = markdown(stored)
    print(text)
    if args.markdown and tensorflow["modes"]:
        first = next(iter(tensorflow["modes"].values()))
        reporting.write_text(args.markdown, table({k: float(np.median(v)) for k, v in first.items()}) + "\n")
    if args.json:
        reporting.write_json(args.json, stored)
        reporting.write_text(os.path.join(os.path.dirname(os.path.abspath(args.json)), "README.md"), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training speed per Keras backend: a comparison's cells trained on TensorFlow, JAX and PyTorch, side by side.

    python benchmarks/backends.py train [--cells mnist:cnn_small,standard/spoken_digit_cnn,cifar10_parity] \
        [--epochs 3] [--repeats 3] [--max-minutes 11] [--python jax=/venv_jax/bin/python ...]

It trains each cell (relu, seed 0) on every backend, the backends interleaved within each repeat, with the
model built and compiled as `relu-zoo train` builds it: the default run (`mnist:cnn_small`: batch 128, Adam 2e-3,
float32), a cell of the standard protocol (`standard/spoken_digit_cnn`: batch 32, one-cycle, float32) and the
CIFAR-10 parity step (`cifar10_parity`: the cifar10 preset's airbench at 16/64/64, batch 1024, its precision).
It splits an epoch's time into what it is made of: an epoch fed by the task's tf.data pipeline (as `relu-zoo
train` feeds it; the first epoch, which compiles, is reported apart), the same epoch fed from NumPy arrays already
in memory (the difference is the pipeline's hand-over to the backend), and the bare train steps (`train_on_batch`,
no callbacks or iterator); the parity cell times its steps only. Its report, benchmarks/reports/backends/
training.json (and .md), names the CPU, its load and each backend's threads.

Each backend runs in its own process (Keras picks its backend once per process): this interpreter where it has
the backend's package, else the one given by `--python backend=path` (or listed in `RELU_ZOO_PYTHONS`, as for
tests/test_backends.py). The layers' own speed on each backend is benchmarks/layers.py's.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")
REPORTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reports", "backends")
TRAIN_REPORT = os.path.join(REPORTS, "training.json")
# The default run, the standard protocol's cheapest cell, and the CIFAR-10 parity setting's train step.
CELLS = "mnist:cnn_small,standard/spoken_digit_cnn,cifar10_parity"
PARITY_WIDTHS = [16, 64, 64]  # benchmarks/cifar10_parity.py's setting


def cell_config(cell):
    """The sweep configuration a cell trains with: `TASK:MODEL` the default run's (`relu-zoo train --task TASK
    --model MODEL`), `PROTOCOL/CELL` a protocol's cell (`relu-zoo compare`), `cifar10_parity` the cifar10 preset
    at benchmarks/cifar10_parity.py's widths (timed by its train steps only: an epoch is 49 steps of 1024)."""
    from relu_zoo.run import protocol, spec

    if cell == "cifar10_parity":
        config = spec.resolve("cifar10", check=False)
        return dataclasses.replace(config, model_kwargs={**config.model_kwargs, "widths": PARITY_WIDTHS})
    if "/" in cell:
        return protocol.load(cell.split("/")[0]).config(cell.split("/")[1])
    task, model = cell.split(":")
    return spec.resolve(overrides={"tasks": [task], "models": [model]}, check=False)


def train_worker(cell, epochs, max_train, steps, step_seconds):
    """Seconds of one cell on this process's backend: tf.data epochs, NumPy epochs and bare train steps, the model
    built and compiled as `relu-zoo train` builds it (the cell's optimizer, schedule, precision)."""
    import keras

    from relu_zoo.run import plan, train
    from relu_zoo.run.distribute import Distribution

    config = cell_config(cell)
    steps_only = cell == "cifar10_parity"
    # The cell's own cap or `max_train`, whichever is fewer; one batch where only steps are timed.
    cap = config.batch_size if steps_only else min(max_train, config.max_train_examples or max_train)
    config = dataclasses.replace(config, max_train_examples=cap, max_eval_examples=256, diagnostics=False)
    run = plan.RunSpec(config.tasks[0], config.models[0], "relu", 0)
    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    data = train.TaskCache(config).get(run.task)
    x, y = (np.concatenate(parts) for parts in zip(*data.train_epochs(0, 1).as_numpy_iterator()))
    load_s = time.perf_counter() - started
    times = {}

    def fit_times(feed):
        model, per_epoch = train.build_model(run, config, data, Distribution())
        epoch_times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                epoch_times.append(time.perf_counter() - self.start)

        feed(model, per_epoch, [Timer()])
        return model, epoch_times

    if steps_only:
        model, _ = train.build_model(run, config, data, Distribution())
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times["first_step_s"] = time.perf_counter() - start
    else:
        _, pipeline = fit_times(lambda m, n, cb: m.fit(data.train_epochs(0, epochs), epochs=epochs,
                                                       steps_per_epoch=n, callbacks=cb, verbose=0))
        model, arrays = fit_times(lambda m, n, cb: m.fit(x, y, batch_size=config.batch_size, epochs=epochs,
                                                         shuffle=False, callbacks=cb, verbose=0))
        times.update(first_epoch_s=pipeline[0], epoch_s=float(np.median(pipeline[1:])),
                     numpy_epoch_s=float(np.median(arrays[1:])))
    model.train_on_batch(x[:config.batch_size], y[:config.batch_size])
    # At least 3 steps, up to `steps` or `step_seconds`: a parity step takes some thirty of the default run's.
    step_times = []
    while len(step_times) < 3 or (len(step_times) < steps and sum(step_times) < step_seconds):
        j = (len(step_times) * config.batch_size) % max(len(x) - config.batch_size, 1)
        start = time.perf_counter()
        model.train_on_batch(x[j:j + config.batch_size], y[j:j + config.batch_size])
        step_times.append(time.perf_counter() - start)
    return {**times, "load_s": load_s, "step_s": float(np.median(step_times)), "steps_timed": len(step_times),
            "steps_per_epoch": None if steps_only else -(-data.num_examples["train"] // config.batch_size),
            "batch_size": config.batch_size,
            "precision": model.dtype_policy.name, "threads": threads()}


def threads():
    """The threads each library of this process computes with (a backend left to its default takes every core)."""
    import keras

    found = {"cpus": os.cpu_count()}
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        found["tf_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads()
        found["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
    if keras.backend.backend() == "torch":
        import torch

        found["torch"] = torch.get_num_threads()
        found["torch_inter_op"] = torch.get_num_interop_threads()
    found.update({name: os.environ[name] for name in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "XLA_FLAGS")
                  if name in os.environ})
    return found


def train_report(args, pythons, root):
    """`train`: every cell on every backend, interleaved, `args.repeats` times; the medians side by side."""
    backends = [b for b in args.backends.split(",") if b in pythons]
    load_before = os.getloadavg()[0]
    samples, started, repeats = {}, time.perf_counter(), 0
    while repeats < args.repeats:
        elapsed = time.perf_counter() - started
        if repeats and args.max_minutes and elapsed * (repeats + 1) / repeats > 60 * args.max_minutes:
            print(f"stopping after {repeats} repeat(s): another would end after --max-minutes {args.max_minutes:g}",
                  flush=True)
            break
        repeats += 1
        for cell in args.cells.split(","):
            for backend in backends:
                env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu",
                       "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
                done = subprocess.run([pythons[backend], os.path.abspath(__file__), "--train-worker",
                                       f"{cell}:{args.epochs}:{args.max_train_examples}:{args.steps}:"
                                       f"{args.step_seconds}"],
                                      capture_output=True, text=True, env=env)
                if done.returncode:
                    sys.exit(f"{backend} {cell} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                samples.setdefault(cell, {}).setdefault(backend, []).append(result)
                epochs = (f"epoch {result['epoch_s']:.2f} s, from NumPy {result['numpy_epoch_s']:.2f} s, "
                          if "epoch_s" in result else "")
                print(f"{cell} {backend:10s} {epochs}step {1e3 * result['step_s']:.1f} ms", flush=True)
    keys = ("load_s", "first_epoch_s", "first_step_s", "epoch_s", "numpy_epoch_s", "step_s")
    cells_out = {}
    for cell, by_backend in samples.items():
        cells_out[cell] = {}
        for backend, runs in by_backend.items():
            row = {k: float(np.median([r[k] for r in runs])) for k in keys if k in runs[0]}
            row.update({k: runs[0][k] for k in ("steps_per_epoch", "batch_size", "precision", "threads")})
            base = cells_out[cell].get("tensorflow")
            for key in ("epoch_s", "step_s") if base else ():
                if key in row:
                    row[f"{key[:-2]}_vs_tensorflow"] = round(row[key] / base[key], 2)
            cells_out[cell][backend] = row
    return {"command": "python benchmarks/backends.py train " + " ".join(
                f"--{k.replace('_', '-')} {getattr(args, k)}" for k in ("cells", "epochs", "repeats",
                                                                        "max_train_examples", "steps", "step_seconds",
                                                                        "max_minutes")
                if getattr(args, k) is not None), "repeats_done": repeats,
            "cpu": _cpu_name(), "cpu_flags": cpu_flags(), "cpus": os.cpu_count(),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "versions": {b: _versions(pythons[b]) for b in backends}, "cells": cells_out}


def _cpu_name():
    from relu_zoo.run import machine

    return machine.cpu_text()


def _versions(python):
    probe = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
             "('keras', 'tensorflow', 'jax', 'torch') if __import__('importlib').util.find_spec(p)}))")
    return json.loads(subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout)


def train_markdown(report):
    lines = ["# Training speed per Keras backend", "",
             f"Generated by `{report['command']}` on {report['cpu']}; load average "
             f"{report['load_before']} before, {report['load_after']} after (above ~0.5 other work shared the CPU). "
             f"Medians of {report['repeats_done']} interleaved repeat(s); an epoch after the first (which compiles); "
             "`cifar10_parity` is timed by its train steps only.", "",
             "| cell | backend | batch, precision | epoch (tf.data) | epoch (NumPy) | train step | first epoch / step "
             "| vs TensorFlow (epoch / step) |", "|---|---|---|---|---|---|---|---|"]

    def seconds(r, key, digits=2):
        return f"{r[key]:.{digits}f} s" if key in r else "–"

    for cell, rows in report["cells"].items():
        for backend, r in rows.items():
            ratio = " / ".join(f"{r[k]:.2f}×" if k in r else "–"
                               for k in ("epoch_vs_tensorflow", "step_vs_tensorflow"))
            first = seconds(r, "first_epoch_s", 1) if "first_epoch_s" in r else seconds(r, "first_step_s", 1)
            lines.append(f"| {cell} | {backend} | {r['batch_size']}, {r['precision']} | {seconds(r, 'epoch_s')} | "
                         f"{seconds(r, 'numpy_epoch_s')} | {1e3 * r['step_s']:.1f} ms | {first} | "
                         f"{ratio if backend != 'tensorflow' else '–'} |")
    lines += ["", "Threads: " + "; ".join(f"{b}: " + ", ".join(f"{k} {v}" for k, v in r["threads"].items())
                                          for b, r in next(iter(report["cells"].values())).items()),
              "", "Versions: " + "; ".join(f"{b}: " + ", ".join(f"{k} {v}" for k, v in vs.items())
                                           for b, vs in report["versions"].items()), ""]
    return "\n".join(lines)


def interpreters(given):
    """backend -> Python with its package: this one, then `--python` entries, then RELU_ZOO_PYTHONS."""
    found = {b: sys.executable for b in BACKENDS if importlib.util.find_spec(b)}
    found.update(given)
    for python in filter(None, os.environ.get("RELU_ZOO_PYTHONS", "").split(os.pathsep)):
        probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m)))" % (BACKENDS,)
        for backend in subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.split():
            found.setdefault(backend, python)
    return found


def cpu_flags():
    from relu_zoo.run import machine

    return sorted(set(machine.cpu()["flags"]) & {"avx2", "avx512_bf16", "amx_bf16"})


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # the command as the docs name it
        argv = argv[1:]
    if argv[:1] == ["--train-worker"]:
        # Before Keras imports the backend: relu_zoo._startup starts it as relu_zoo's commands do (TensorFlow's
        # oneDNN kernels, PyTorch's idle threads asleep).
        import relu_zoo  # noqa: F401

        cell, epochs, max_train, steps, seconds = argv[1].rsplit(":", 4)
        print(json.dumps(train_worker(cell, int(epochs), int(max_train), int(steps), float(seconds))))
        return None
    return main_train(argv)


def main_train(argv):
    parser = argparse.ArgumentParser(prog="python benchmarks/backends.py train",
                                     description="Training speed of a comparison's cells per Keras backend.")
    parser.add_argument("--cells", default=CELLS, help="comma-separated: TASK:MODEL (the default run's settings), "
                        "PROTOCOL/CELL (a protocol's cell) or cifar10_parity (its train step)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (the first compiles; >= 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-train-examples", type=int, default=6000, help="cap on each cell's training examples")
    parser.add_argument("--steps", type=int, default=20, help="bare train steps timed, at most (at least 3)")
    parser.add_argument("--step-seconds", type=float, default=10.0, help="... or as many as fit in this many seconds")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="start no further repeat that would end after this many minutes (judged by the last)")
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=TRAIN_REPORT)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first compiles). Received: --epochs {args.epochs}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    report = train_report(args, interpreters(dict(p.split("=", 1) for p in args.python)), root)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
            f.write(train_markdown(report))
    print(train_markdown(report))
    return report


if __name__ == "__main__":
    main()

"""Training speed on this machine: epoch-time ratios, where a step's time goes, time to accuracy, peak memory.

    python benchmarks/training.py speed      [--activations relu,prelu,rrelu] [--steps 60] [--repeats 5]
    python benchmarks/training.py profile    [--activations relu,prelu,rrelu]
    python benchmarks/training.py accuracy   [--presets mnist_60s,imdb,spoken_digit]
    python benchmarks/training.py memory     [-- extra train.py flags]
    python benchmarks/training.py precision  [--widths 32,128,128]

- `speed`: the reference mnist `cnn` with each activation (and `keras.layers.PReLU()` for reference), trained side by side in one process on the same
  real batches. Every repetition trains one `steps`-batch epoch of every model, in rotating order, so load
  from other processes hits them alike; the epoch time is Keras' epoch (on_epoch_begin to on_epoch_end,
  as in `train.py`'s `epoch_time`), and the reported ratio is the median over repetitions of the epoch
  time divided by the ReLU model's epoch time in the same repetition (the target's measure); the ratio of
  the best (minimum) epoch times, the least disturbed by other processes, is shown beside it.
- `profile`: for the same models, the time of a forward pass, of forward + backward (gradients of the
  loss), and of a whole `train_step` (plus the optimizer update and metrics), each a compiled
  `tf.function`, so the difference between the columns says where a step's time goes.
- `accuracy`: runs `train.py --preset P --seeds 1` for each preset in a fresh process and reports the
  test accuracy against the training wall time (the sum of Keras epoch times, which include the
  per-epoch validation pass; the input pipeline's first pass is in epoch 1).
- `precision`: the train-step time of the cifar10 `airbench` model in float32 and in mixed_bfloat16, and what
  `precision: auto` picks on this machine (bfloat16 only where the CPU computes it natively).
- `memory`: runs the default `python train.py` (the `quick` preset) in a child process and reports its
  peak resident memory (`ru_maxrss` of that child from `os.wait4`: the whole process, TensorFlow included).

Each command prints a markdown table and writes its measurements to `--json` (atomically) if given.
Numbers are measured on a shared 2-core machine: compare ratios measured in one run, not absolute times
across runs.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The scale issue's targets.
RATIO_TARGETS = {"prelu": 1.15, "rrelu": 1.3}
ACCURACY_TARGETS = {  # preset (mnist, imdb_reviews, spoken_digit): (test accuracy, seconds of training)
    "mnist_60s": (0.990, 60.0),
    "imdb": (0.88, 300.0),
    "spoken_digit": (0.97, 120.0),
    "cifar10": (0.90, 1200.0),  # the CIFAR-10 issue's main target (test split of the JPEG copy)
}
MEMORY_TARGET_MB = 3 * 1024

REPO = Path(__file__).resolve().parents[1]


def _compiled_models(activations, spec, seed=0, model_kwargs=None):
    import keras

    from relu_zoo import models

    built = {}
    for activation in activations:
        keras.utils.set_random_seed(seed)
        # "keras.PReLU": a Keras layer with its defaults, as a reference (every use site gets a fresh copy).
        spec_or_layer = getattr(keras.layers, activation[6:])() if activation.startswith("keras.") else activation
        model = models.create_model("cnn", task=spec, activation=spec_or_layer, **(model_kwargs or {}))
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        built[activation] = model
    return built


def _mnist_batches(steps, batch_size, data_dir=None):
    import tensorflow as tf

    from relu_zoo import tasks

    data = tasks.get("mnist").load(data_dir=data_dir, batch_size=batch_size, seed=0,
                                   max_examples={"train": steps * batch_size, "validation": batch_size,
                                                 "test": batch_size})
    return data, data.train.take(steps).cache().apply(tf.data.experimental.assert_cardinality(steps))


def speed(activations, steps=60, repeats=5, batch_size=128, data_dir=None):
    """Median epoch time of each activation's mnist `cnn` and its median ratio to the first activation's."""
    from relu_zoo.run.callbacks import EpochTimer  # train.py's: adds `epoch_time` to the epoch logs

    data, batches = _mnist_batches(steps, batch_size, data_dir)
    built = _compiled_models(activations, data.spec)
    for model in built.values():  # trace and warm up every model before timing any
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


def profile(activations, repeats=10, batch_size=128, data_dir=None):
    """Milliseconds per batch of forward, forward + backward, and a full train step, per activation."""
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per model and stage: retracing is expected here
    data, batches = _mnist_batches(1, batch_size, data_dir)
    x, y = next(iter(batches))
    built = _compiled_models(activations, data.spec)
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


def _train_py(args, out):
    """Runs train.py in a child process; returns its wall time, its own peak RSS and the results."""
    command = [sys.executable, str(REPO / "train.py"), *args, "--out", str(out)]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would be the max over all children).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed (exit {proc.returncode}):\n{stderr.read()[-3000:]}")
    return {"command": " ".join(["python train.py", *args]), "wall_s": time.perf_counter() - start,
            "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
            "results": json.loads((Path(out) / "results.json").read_text())}


def accuracy(presets, extra=()):
    rows = []
    for preset in presets:
        target_acc, target_s = ACCURACY_TARGETS.get(preset, (None, None))
        with tempfile.TemporaryDirectory() as out:
            run = _train_py(["--preset", preset, "--seeds", "1", "--activations", "relu", "--no-diagnostics",
                             "--verbose", "0", *extra], out)
        (result,) = run["results"]["runs"]
        train_s = sum(result["epoch_times"])
        rows.append({"preset": preset, "task": result["task"], "model": result["model"], "epochs": result["epochs"],
                     "test_accuracy": result["test_accuracy"], "test_accuracy_tta": result.get("test_accuracy_tta"),
                     "dtype_policy": result.get("dtype_policy"), "train_s": train_s, "process_s": run["wall_s"],
                     "target_accuracy": target_acc, "target_s": target_s, "command": run["command"],
                     "met": None if target_acc is None else bool(result["test_accuracy"] >= target_acc
                                                                 and train_s <= target_s),
                     "met_with_tta": None if target_acc is None or result.get("test_accuracy_tta") is None else bool(
                         result["test_accuracy_tta"] >= target_acc and train_s <= target_s)})
    return {"rows": rows}


def memory(extra=()):
    with tempfile.TemporaryDirectory() as out:
        run = _train_py(list(extra), out)
    return {"command": run["command"], "peak_rss_mb": run["peak_rss_mb"], "wall_s": run["wall_s"],
            "target_mb": MEMORY_TARGET_MB}


def precision(widths=(32, 128, 128), batch_size=512, steps=5, repeats=3):
    """Train-step time of the cifar10 `airbench` model under each dtype policy, interleaved repetitions."""
    import keras
    import numpy as np

    from relu_zoo import models, tasks
    from relu_zoo.run.train import auto_precision, cpu_flags

    spec = tasks.get("cifar10").spec
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size,) + spec.input_shape).astype("float32")
    y = rng.integers(0, spec.num_classes, size=batch_size)
    built, previous = {}, keras.config.dtype_policy()
    try:
        for policy in ("float32", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            model = models.create_model("airbench", task=spec, activation="relu", widths=tuple(widths))
            model.compile(keras.optimizers.SGD(0.1, momentum=0.85, nesterov=True),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.train_on_batch(x, y)  # trace and compile outside the timing
            built[policy] = model
    finally:
        keras.config.set_dtype_policy(previous)
    times = {policy: [] for policy in built}
    for _ in range(repeats):
        for policy, model in built.items():
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            times[policy].append((time.perf_counter() - start) / steps)
    step = {policy: statistics.median(t) for policy, t in times.items()}
    flags = cpu_flags()
    return {"widths": list(widths), "batch_size": batch_size, "steps": steps, "repeats": repeats,
            "step_s": step, "times": times, "bf16_over_f32": step["mixed_bfloat16"] / step["float32"],
            "cpu_bf16_flags": sorted(flags & {"amx_bf16", "avx512_bf16", "amx_tile"}),
            "cpu_avx512f": "avx512f" in flags, "auto": auto_precision()}


def _verdict(ok):
    return "PASS" if ok else "MISS"


def markdown(command, report):
    if command == "speed":
        lines = [f"mnist `cnn`, batch {report['batch_size']}, epochs of {report['steps']} steps, "
                 f"{report['repeats']} interleaved repetitions; ratio = median of per-repetition ratios to "
                 f"{report['baseline']}", "",
                 f"| activation | epoch s (median) | × {report['baseline']} (min–max) | best epoch × best "
                 f"{report['baseline']} | target |", "|---|---:|---:|---:|---|"]
        for r in report["rows"]:
            target = f"≤ {r['target']}× {_verdict(r['ratio'] <= r['target'])}" if r["target"] else ""
            lines.append(f"| {r['activation']} | {r['epoch_s']:.2f} | {r['ratio']:.2f} "
                         f"({r['ratio_min']:.2f}–{r['ratio_max']:.2f}) | {r['best_ratio']:.2f} | {target} |")
    elif command == "profile":
        stages = [k for k in report["rows"][0] if k != "activation"]
        lines = [f"mnist `cnn`, batch {report['batch_size']}, ms per batch, median of {report['repeats']}", "",
                 "| activation | " + " | ".join(stages) + " |", "|---|" + "---:|" * len(stages)]
        for r in report["rows"]:
            lines.append(f"| {r['activation']} | " + " | ".join(f"{r[s]:.1f}" for s in stages) + " |")
    elif command == "accuracy":
        lines = ["| preset | task | model | epochs | test accuracy | with flip TTA | training s | target | met | "
                 "met with TTA |", "|---|---|---|---:|---:|---:|---:|---|---|---|"]
        for r in report["rows"]:
            target = (f"≥ {100 * r['target_accuracy']:.1f}% in ≤ {r['target_s']:.0f} s"
                      if r["target_accuracy"] else "–")
            tta = r.get("test_accuracy_tta")
            lines.append(f"| `{r['preset']}` | {r['task']} | {r['model']} | {r['epochs']} | "
                         f"{100 * r['test_accuracy']:.2f}% | {'–' if tta is None else f'{100 * tta:.2f}%'} | "
                         f"{r['train_s']:.0f} | {target} | {'' if r['met'] is None else _verdict(r['met'])} | "
                         f"{'' if r.get('met_with_tta') is None else _verdict(r['met_with_tta'])} |")
    elif command == "precision":
        lines = [f"cifar10 `airbench` widths {report['widths']}, batch {report['batch_size']}, train step seconds "
                 f"(median of {report['repeats']} interleaved repetitions of {report['steps']} steps); CPU bf16 "
                 f"flags: {', '.join(report['cpu_bf16_flags']) or 'none'}; `precision: auto` picks "
                 f"{report['auto']}", "", "| policy | step s | × float32 |", "|---|---:|---:|"]
        for policy, seconds in report["step_s"].items():
            lines.append(f"| {policy} | {seconds:.3f} | {seconds / report['step_s']['float32']:.2f} |")
    else:
        peak = report["peak_rss_mb"]
        lines = [f"`{report['command']}`: peak resident memory {peak:,.0f} MB "
                 f"(target ≤ {report['target_mb']:,} MB: {_verdict(peak <= report['target_mb'])}), "
                 f"{report['wall_s'] / 60:.1f} min"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/training.py",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("speed", "profile"):
        p = sub.add_parser(name)
        p.add_argument("--activations", default="relu,leaky_relu,prelu,rrelu,elu,keras.PReLU",
                       help="comma-separated relu_zoo specs, or keras.<Layer> for a Keras layer with its "
                            "defaults; the first is the baseline")
        p.add_argument("--repeats", type=int, default=5 if name == "speed" else 10)
        p.add_argument("--batch-size", type=int, default=128)
        p.add_argument("--data-dir", default=None)
        if name == "speed":
            p.add_argument("--steps", type=int, default=60, help="batches per timed epoch")
    p = sub.add_parser("accuracy")
    p.add_argument("--presets", default=",".join(ACCURACY_TARGETS))
    sub.add_parser("memory")
    p = sub.add_parser("precision")
    p.add_argument("--widths", default="32,128,128", help="airbench widths")
    p.add_argument("--batch-size", type=int, default=512)
    for p in sub.choices.values():
        p.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("accuracy", "memory"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    extra = [e for e in extra if e != "--"]

    if args.command in ("speed", "profile"):
        activations = [a for a in args.activations.split(",") if a]
        kwargs = {"repeats": args.repeats, "batch_size": args.batch_size, "data_dir": args.data_dir}
        if args.command == "speed":
            report = speed(activations, steps=args.steps, **kwargs)
        else:
            report = profile(activations, **kwargs)
    elif args.command == "accuracy":
        report = accuracy([p for p in args.presets.split(",") if p], extra)
    elif args.command == "precision":
        report = precision(tuple(int(w) for w in args.widths.split(",")), batch_size=args.batch_size)
    else:
        report = memory(extra)

    import tensorflow as tf

    report["machine"] = f"{os.cpu_count()} CPU cores ({platform.machine()}), TensorFlow {tf.__version__}"
    print(report["machine"])
    print(markdown(args.command, report))
    if args.json:
        from relu_zoo.run.store import atomic_write_json

        atomic_write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

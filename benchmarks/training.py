"""Training speed on this machine: epoch-time ratios, where a step's time goes, time to accuracy, peak memory.

    python benchmarks/training.py speed      [--activations relu,prelu,rrelu] [--steps 60] [--repeats 5] [--unfused relu]
    python benchmarks/training.py profile    [--activations relu,prelu,rrelu]
    python benchmarks/training.py accuracy   [--presets mnist_60s,imdb,spoken_digit]
    python benchmarks/training.py memory     [-- extra train.py flags]
    python benchmarks/training.py phases     [-- extra train.py flags]
    python benchmarks/training.py ops        [--model airbench|cnn] [--torch-python PYTHON] [--variants ...]
    python benchmarks/training.py precision  [--widths 32,128,128]
    python benchmarks/training.py targets    [--quick] [--seeds 3] [--torch-python PYTHON] [--before]
    python benchmarks/training.py render     --json benchmarks/reports/training/targets.json

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
- `targets`: every row of the speed-target table (`SPEED_TARGETS`), measured in one run (see `targets` below): the PReLU and
  RReLU layer ratios (with the unfused formulation beside them), time to accuracy of the speed presets
  (one `train.py` process each, `--seeds` seeds: seed 0 is the row, the others its spread), the Keras
  `mnist_convnet` example timed to 99% test accuracy in the same run, the default `python train.py` as a whole
  process, and the cifar10 `airbench` train step against the same net in PyTorch (a child process of
  `--torch-python`, steps interleaved with TensorFlow's). With `--json F` it writes F and a markdown table
  beside it (F with `.md`) after every row, so a run cut short keeps what it measured. `--quick` caps every
  row (a smoke test, ~2 min on an idle 2-core CPU; its numbers say nothing about the targets). `--before` adds the presets the rows were
  measured with before the speed presets existed.
- `phases`: runs the default `python train.py` (or `train.py` with the flags after `--`) in this process and
  splits its wall and CPU time into phases that add up to the whole (benchmarks/phases.py: import, data,
  model build, first train/test step (tracing), train steps, validation, each callback, test evaluation,
  report and plots), then times one run's training batches drawn from the input pipeline alone.
- `ops`: a train step's time by kind of op (conv forward, conv backward by filter and input, batch norm,
  pooling, activation, optimizer, ...; benchmarks/ops.py, from TensorFlow's profiler) for the cifar10
  `airbench` net or the default run's mnist `cnn`, once per TensorFlow setting (`--variants`: oneDNN off,
  thread counts, the whole step compiled by XLA, relu_zoo's XLA fusion off; a child process each) and, for
  `airbench` with `--torch-python`, the same net in PyTorch (torch.profiler); then repetitions of every
  process's step interleaved, so each setting's step time is compared with the first's under the same load.
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

if not __package__:  # `python benchmarks/training.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import layers as layer_bench  # noqa: E402
from benchmarks import ops as ops_lib  # noqa: E402
from benchmarks import phases as phases_lib  # noqa: E402

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
        # "<name> unfused": the same spec, for a model traced with RELU_ZOO_XLA=0 (see `speed`).
        name = activation.removesuffix(UNFUSED)
        spec_or_layer = getattr(keras.layers, name[6:])() if name.startswith("keras.") else name
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


UNFUSED = " unfused"


def speed(activations, steps=60, repeats=5, batch_size=128, data_dir=None, unfused=()):
    """Median epoch time of each activation's mnist `cnn` and its median ratio to the first activation's.

    `unfused`: activations also trained as "<name> unfused", their train step traced with `RELU_ZOO_XLA=0`
    (relu_zoo's element-wise math as separate TensorFlow ops), in the same rotation."""
    from relu_zoo.run.callbacks import EpochTimer  # train.py's: adds `epoch_time` to the epoch logs

    activations = list(activations) + [f"{name}{UNFUSED}" for name in unfused]
    data, batches = _mnist_batches(steps, batch_size, data_dir)
    built = _compiled_models(activations, data.spec)
    without_fusion = layer_bench._unfused
    for activation, model in built.items():  # trace and warm up every model before timing any
        def warm_up(_, model=model):
            model.fit(batches, epochs=1, verbose=0, shuffle=False)

        (without_fusion(warm_up) if activation.endswith(UNFUSED) else warm_up)(None)
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
    from relu_zoo.run.precision import auto_precision, cpu_flags

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


# The speed targets. They were written for another (AMX) machine; each row is measured here and
# reported against them as they are.
SPEED_TARGETS = {
    "prelu_layer": {"what": "PReLU fwd+bwd, graph mode, 256x32x32x64, ÷ tf.nn.relu", "at_most": 1.5, "unit": "×"},
    "rrelu_layer": {"what": "RReLU training fwd+bwd ÷ tf.nn.relu (stable: every repetition)", "at_most": 2.0,
                    "unit": "×"},
    "mnist": {"what": "mnist ≥ 99.0% test: training s ÷ Keras `mnist_convnet` example's time to 99%",
              "preset": "mnist_fast", "accuracy": 0.990, "at_most": 0.26, "unit": "×"},
    "imdb_88": {"what": "imdb_reviews ≥ 88% test, training s", "preset": "imdb_fast", "accuracy": 0.88,
                "at_most": 40.0, "unit": "s"},
    "imdb_90": {"what": "imdb_reviews ≥ 90% test, training s", "preset": "imdb_90", "accuracy": 0.90,
                "at_most": 300.0, "unit": "s"},
    "spoken_digit": {"what": "spoken_digit ≥ 97% test, training s", "preset": "spoken_digit_fast",
                     "accuracy": 0.97, "at_most": 20.0, "unit": "s"},
    "default": {"what": "default `python train.py`, whole process (same report)", "at_most": 180.0, "unit": "s"},
    "cifar10_torch": {"what": "cifar10 `airbench` train step ÷ the same net in PyTorch", "preset": "cifar10",
                      "at_most": 1.1, "unit": "×"},
}
# The presets these rows were measured with before the speed presets (`accuracy`), for `--before`.
BEFORE_PRESETS = {"mnist": "mnist_60s", "imdb_88": "imdb", "spoken_digit": "spoken_digit"}
# `--quick`: every row capped, so that the whole command is a smoke test of a couple of minutes.
QUICK_TRAIN = ["--epochs", "1", "--max-train-examples", "512", "--max-eval-examples", "256"]


def _row(key, measured, met, command, **details):
    target = SPEED_TARGETS[key]
    return {"key": key, "what": target["what"], "measured": measured, "unit": target["unit"],
            "target": target["at_most"], "met": met, "command": command, **details}


def layer_rows(shape=(256, 32, 32, 64), repeats=9):
    """PReLU and RReLU (training) forward + backward ÷ tf.nn.relu, fused (the default) and unfused, one run."""
    times = layer_bench.run_times(shape, repeats, ["prelu", "rrelu"], unfused=["prelu", "rrelu"])
    base = times["tf.nn.relu"]

    def ratios(key):
        per_rep = [t / b for t, b in zip(times[key], base)]
        return {"median": statistics.median(times[key]) / statistics.median(base),
                "min": min(per_rep), "max": max(per_rep)}

    command = (f"python benchmarks/layers.py --layers prelu,rrelu --unfused prelu,rrelu --repeats {repeats} "
               f"--shape {','.join(map(str, shape))}")
    detail = {"shape": list(shape), "repeats": repeats, "relu_ms": 1000 * statistics.median(base)}
    prelu, rrelu = ratios("prelu"), ratios("rrelu (training)")
    return [_row("prelu_layer", prelu["median"], prelu["median"] <= 1.5, command, spread=prelu,
                 before=ratios("prelu unfused"), **detail),
            # "Stable": the median meets it and so does the slowest repetition's ratio.
            _row("rrelu_layer", rrelu["median"], rrelu["median"] <= 2.0 and rrelu["max"] <= 2.0, command,
                 spread=rrelu, before=ratios("rrelu (training) unfused"), **detail)]


def keras_mnist_convnet(epochs=15, max_train=None, data_dir=None, stop_at=0.99):
    """The Keras example keras.io/examples/vision/mnist_convnet, timed to its first epoch with `stop_at` test
    accuracy: its model, batch 128, Adam, `validation_split=0.1`; the test split evaluated after each epoch
    outside the epoch's time (as ours: a Keras epoch with its validation pass, without the test evaluation)."""
    import keras
    import numpy as np
    import tensorflow_datasets as tfds

    from relu_zoo.run.callbacks import EpochTimer

    def split(name, limit):
        ds = tfds.load("mnist", split=name if limit is None else f"{name}[:{limit}]", batch_size=-1,
                       as_supervised=True, data_dir=data_dir)
        x, y = tfds.as_numpy(ds)
        return np.expand_dims(x.astype("float32") / 255, -1), keras.utils.to_categorical(y, 10)

    x_train, y_train = split("train", max_train)
    x_test, y_test = split("test", None if max_train is None else max(1000, max_train // 6))
    keras.utils.set_random_seed(0)
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


def preset_run(preset, seeds=1, extra=()):
    """`train.py --preset P` with ReLU, `seeds` seeds, in a child process: seed 0's row and the spread."""
    with tempfile.TemporaryDirectory() as out:
        run = _train_py(["--preset", preset, "--seeds", str(seeds), "--activations", "relu", "--no-diagnostics",
                         "--verbose", "0", *extra], out)
    runs = sorted(run["results"]["runs"], key=lambda r: r["seed"])
    per_seed = [{"seed": r["seed"], "test_accuracy": r["test_accuracy"], "train_s": sum(r["epoch_times"])}
                for r in runs]
    return {"preset": preset, "command": run["command"], "process_s": run["wall_s"], "model": runs[0]["model"],
            "epochs": runs[0]["epochs"], "params": runs[0]["params"], "seeds": per_seed,
            "test_accuracy": per_seed[0]["test_accuracy"], "train_s": per_seed[0]["train_s"]}


def preset_row(key, preset=None, seeds=1, extra=(), keras_seconds=None):
    target = SPEED_TARGETS[key]
    run = preset_run(preset or target["preset"], seeds, extra)
    accurate = run["test_accuracy"] is not None and run["test_accuracy"] >= target["accuracy"]
    if key == "mnist":
        measured = None if not keras_seconds else run["train_s"] / keras_seconds
        run["keras_seconds_to_99"] = keras_seconds
    else:
        measured = run["train_s"]
    return _row(key, measured, bool(accurate and measured is not None and measured <= target["at_most"]),
                run.pop("command"), **run)


def _report_files(out):
    """The report files a sweep wrote into `out` (its top-level files and plots)."""
    return sorted(str(p.relative_to(out)) for p in Path(out).glob("*") if p.is_file()) + sorted(
        f"plots/{p.name}" for p in (Path(out) / "plots").glob("*.png"))


def default_row(extra=()):
    """The default `python train.py` (15 runs, diagnostics, logs, report, plots) as a whole process."""
    with tempfile.TemporaryDirectory() as out:
        run = _train_py(list(extra), out)
        report = _report_files(out)
    runs = run["results"]["runs"]
    return _row("default", run["wall_s"], run["wall_s"] <= SPEED_TARGETS["default"]["at_most"], run["command"],
                runs=len(runs), train_s=sum(sum(r["epoch_times"]) for r in runs),
                diagnostics=all(r.get("diagnostics") for r in runs), report_files=report,
                peak_rss_mb=run["peak_rss_mb"])


def phases(extra=()):
    """`python train.py [extra]` (no flags: the default sweep) run in this process with its time split into
    phases (benchmarks/phases.py), then one run's training batches drawn from its input pipeline alone.
    Call it before this process imports TensorFlow: the import is the first phase."""
    loadavg = list(os.getloadavg())
    with tempfile.TemporaryDirectory() as out:
        report = phases_lib.profile_train_py(list(extra), out)
        report["report_files"] = _report_files(out)
    report["process_s"] = phases_lib.process_age_s()  # interpreter start to here (what `time python ...` sees)
    from relu_zoo import console
    from relu_zoo.run import spec as config_lib

    args = console.train_parser().parse_args(list(extra))
    report["pipeline_alone"] = phases_lib.pipeline_pass(config_lib.resolve(args.preset, args.config,
                                                                        console._overrides(args)))
    report["loadavg_start"] = loadavg
    return report


def cifar10_torch_row(torch_python, steps=3, repeats=5, batch_size=None, widths=None, threads=2):
    """The cifar10 preset's `airbench` train step in TensorFlow ÷ the same net's in PyTorch (a child process),
    `threads` threads each, repetitions of `steps` steps interleaved; medians of the repetitions. Both sides
    train in the preset's precision on this machine (`precision: auto`): mixed_bfloat16 in Keras and
    `torch.autocast` bfloat16 in PyTorch where the CPU computes bfloat16 natively, float32 elsewhere."""
    import keras
    import numpy as np
    import tensorflow as tf

    from relu_zoo import models, tasks
    from relu_zoo.run import spec as config_lib
    from relu_zoo.run.precision import dtype_policy
    from relu_zoo.run.optim import make_loss, make_optimizer

    config = config_lib.resolve(preset="cifar10")
    batch_size = batch_size or config.batch_size
    widths = tuple(widths or config.model_kwargs["widths"])
    policy = dtype_policy(config)
    command = (f"python benchmarks/training.py targets (cifar10_torch: --torch-python {torch_python}, "
               f"batch {batch_size}, widths {','.join(map(str, widths))}, {policy})")
    torch_cmd = [torch_python, str(Path(__file__).with_name("airbench_torch.py")), "--widths",
                 ",".join(map(str, widths)), "--batch-size", str(batch_size), "--threads", str(threads), "--activation", "relu",
                 "--precision", "bfloat16" if policy == "mixed_bfloat16" else "float32"]
    probe = subprocess.run([torch_python, "-c", "import torch"], capture_output=True, text=True)
    if probe.returncode != 0:
        return _row("cifar10_torch", None, None, command,
                    skipped=f"PyTorch is not importable by {torch_python}: {probe.stderr.strip()[-300:]}")
    # TensorFlow's threads as PyTorch's. Once TensorFlow has started (an earlier row) they can no longer be
    # set; its default is one thread per core, which is `threads` on the 2-core machine this was written for.
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    tf_threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    spec = tasks.get("cifar10").spec
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size,) + spec.input_shape).astype("float32")
    y = rng.integers(0, spec.num_classes, size=batch_size)
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = models.create_model("airbench", task=spec, activation="relu", widths=widths)
        model.compile(make_optimizer(config, 98), make_loss(config), metrics=["accuracy"])
    finally:
        keras.config.set_dtype_policy("float32")
    model.train_on_batch(x, y)  # trace outside the timing
    info, measured = ops_lib.interleaved_with(torch_cmd, lambda: model.train_on_batch(x, y), steps, repeats)
    times = {"tensorflow": measured["here"], "pytorch": measured["child"]}
    step = {k: statistics.median(v) for k, v in times.items()}
    ratio = step["tensorflow"] / step["pytorch"]
    return _row("cifar10_torch", ratio, ratio <= SPEED_TARGETS["cifar10_torch"]["at_most"], command,
                step_s=step, times=times, batch_size=batch_size, widths=list(widths), dtype_policy=policy,
                torch_precision=info["precision"],
                threads={"tensorflow": tf_threads, "pytorch": info["threads"]}, params={"tensorflow": int(model.count_params()), "pytorch": info["parameters"]},
                torch=info["torch"])


def _parse_variant(text):
    """"NAME=VALUE ... --flag value ...": environment variables and benchmarks/ops.py flags of one setting."""
    env, flags = {}, []
    for token in text.split():
        if "=" in token and not token.startswith("-"):
            key, value = token.split("=", 1)
            env[key] = value
        else:
            flags.append(token)
    return env, flags


OPS_VARIANTS = ("default", "TF_ENABLE_ONEDNN_OPTS=0", "--inter 1", "--intra 1 --inter 2", "--jit-compile",
                "RELU_ZOO_XLA=0")


def ops(model="airbench", variants=OPS_VARIANTS, torch_python=None, steps=3, repeats=5, profile_steps=2,
        batch_size=None, widths=None, activation="relu"):
    """A train step by op kind (benchmarks/ops.py) for each TensorFlow setting in `variants` (a child process
    each) and, for `airbench`, the same net in PyTorch; then `repeats` interleaved repetitions of `steps`
    steps of every process, so that each setting's step is compared with the first's under the same load."""
    ops_py, torch_py = Path(__file__).with_name("ops.py"), Path(__file__).with_name("airbench_torch.py")
    shape = (["--batch-size", str(batch_size)] if batch_size else []) + (
        ["--widths", ",".join(map(str, widths))] if widths else [])
    commands = {}
    for variant in variants:
        env, flags = _parse_variant("" if variant == "default" else variant)
        commands[variant] = ([sys.executable, str(ops_py), "--model", model, "--activation", activation,
                              "--profile-steps", str(profile_steps), *shape, *flags], {**os.environ, **env})
    if torch_python and model == "airbench":
        commands["pytorch"] = ([torch_python, str(torch_py), "--profile", str(profile_steps), "--threads", "2",
                                *shape], dict(os.environ))
    children, ready = {}, {}
    try:
        for name, (command, env) in commands.items():  # one at a time: each profile runs alone
            children[name] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                              env=env)
            line = children[name].stdout.readline()
            if not line:
                raise RuntimeError(f"{' '.join(command)} ({name}) exited before its first step")
            ready[name] = json.loads(line)
        times, protocol = {name: [] for name in children}, ops_lib
        for rep in range(repeats):
            names = list(children)
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                times[name].append(protocol.request_steps(children[name], steps))
    finally:
        for child in children.values():
            child.stdin.close()
            child.wait()
    base = next(iter(times))
    rows = []
    for name, seconds in times.items():
        ratios = [t / b for t, b in zip(seconds, times[base])]
        rows.append({"setting": name, "step_s": statistics.median(seconds), "times": seconds,
                     "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "ops": ready[name].get("ops"), "threads": ready[name].get("threads"),
                     "parameters": ready[name].get("parameters")})
    return {"model": model, "activation": activation, "batch_size": batch_size, "widths": widths,
            "steps": steps, "repeats": repeats, "profile_steps": profile_steps, "baseline": base, "rows": rows}


def targets(quick=False, seeds=3, torch_python=None, before=False, data_dir=None, rows=None, progress=None):
    """Every row of SPEED_TARGETS in one run (`rows`: a subset), the cheap ratio rows first.

    `progress(report)` is called after every row (the command writes the JSON so far: a run cut short keeps
    the rows it finished). The load average before and after is recorded: other work on the machine slows
    the absolute times (the ratio rows are measured side by side and suffer less).
    """
    rows = list(rows or SPEED_TARGETS)
    seeds = 1 if quick else seeds
    cap = QUICK_TRAIN if quick else []
    report = {"quick": quick, "seeds": seeds, "rows": [], "before": [], "loadavg_start": list(os.getloadavg()),
              "complete": False}
    progress = progress or (lambda report: None)

    def add(row, where="rows"):
        report[where].append(row)
        report["loadavg_now"] = list(os.getloadavg())
        progress(report)

    if {"prelu_layer", "rrelu_layer"} & set(rows):
        for row in layer_rows(shape=(32, 32, 32, 64) if quick else (256, 32, 32, 64), repeats=3 if quick else 9):
            if row["key"] in rows:
                add(row)
    if "cifar10_torch" in rows:
        add(cifar10_torch_row(torch_python or sys.executable, steps=1 if quick else 3, repeats=2 if quick else 5,
                              batch_size=64 if quick else None))
    for key in ("spoken_digit", "imdb_88"):
        if key in rows:
            add(preset_row(key, seeds=seeds, extra=cap))
    if "mnist" in rows:
        keras_run = keras_mnist_convnet(epochs=1 if quick else 15, max_train=2000 if quick else None,
                                        data_dir=data_dir)
        report["keras_mnist_convnet"] = keras_run
        add(preset_row("mnist", seeds=seeds, extra=cap, keras_seconds=keras_run["seconds_to_target"]))
    if "default" in rows:
        add(default_row(["--seeds", "1", "--activations", "relu,prelu", *QUICK_TRAIN] if quick else []))
    if "imdb_90" in rows:
        add(preset_row("imdb_90", seeds=seeds, extra=cap))
    if before:
        for key, preset in BEFORE_PRESETS.items():
            if key in rows:
                keras_seconds = report.get("keras_mnist_convnet", {}).get("seconds_to_target")
                add(preset_row(key, preset=preset, extra=cap, keras_seconds=keras_seconds), "before")
    report["complete"] = True
    return report


def _measured(row):
    if row["measured"] is None:
        return "–"
    return f"{row['measured']:.2f}×" if row["unit"] == "×" else f"{row['measured']:.1f} s"


def _targets_markdown(report):
    lines = ["| what | measured | target | met | command |", "|---|---:|---|---|---|"]
    if not report.get("complete", True):
        lines.insert(0, "**Incomplete run: only the rows below were measured.**\n")
    for row in report["rows"] + [{**r, "what": f"before: {r['what']} (`{r['preset']}`)"} for r in report["before"]]:
        measured = _measured(row)
        if "test_accuracy" in row and row["test_accuracy"] is not None:
            measured += f" at {100 * row['test_accuracy']:.2f}%"
            if len(row.get("seeds", [])) > 1:
                accs = [s["test_accuracy"] for s in row["seeds"]]
                secs = [s["train_s"] for s in row["seeds"]]
                measured += (f" ({len(accs)} seeds: {100 * min(accs):.2f}–{100 * max(accs):.2f}%, "
                             f"{min(secs):.0f}–{max(secs):.0f} s)")
        if row.get("times") and set(row["times"]) == {"tensorflow", "pytorch"}:
            # Load from other processes drifts between repetitions: each repetition's own ratio is beside it.
            per_rep = [t / p for t, p in zip(row["times"]["tensorflow"], row["times"]["pytorch"])]
            measured += (f" (ratio of median steps {row['step_s']['tensorflow']:.2f} / {row['step_s']['pytorch']:.2f}"
                         f" s; per repetition {min(per_rep):.2f}–{max(per_rep):.2f}×, median "
                         f"{statistics.median(per_rep):.2f}×)")
        if row.get("spread"):
            measured += f" (repetitions {row['spread']['min']:.2f}–{row['spread']['max']:.2f}×)"
        if row.get("before"):
            measured += f"; unfused {row['before']['median']:.2f}×"
        if row.get("skipped"):
            measured = f"skipped: {row['skipped']}"
        target = f"≤ {row['target']}{'×' if row['unit'] == '×' else ' s'}"
        met = "–" if row["met"] is None else _verdict(row["met"])
        lines.append(f"| {row['what']} | {measured} | {target} | {met} | `{row['command']}` |")
    keras_run = report.get("keras_mnist_convnet")
    if keras_run:
        reached = (f"{keras_run['seconds_to_target']:.0f} s to 99% (epoch {keras_run['reached_epoch']})"
                   if keras_run["reached_epoch"] else f"99% not reached in {len(keras_run['epochs'])} epochs")
        lines += ["", f"Keras `mnist_convnet` example in the same run: {reached}; test accuracy by epoch: "
                  + ", ".join(f"{100 * e['test_accuracy']:.2f}% ({e['epoch_s']:.0f} s)" for e in keras_run["epochs"])]
    return "\n".join(lines)


def _verdict(ok):
    return "PASS" if ok else "MISS"


def markdown(command, report):
    if command == "targets":
        return _targets_markdown(report)
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
    elif command == "ops":
        base = report["baseline"]
        lines = [f"`{report['model']}` ({report['activation']}) train step: median of {report['repeats']} interleaved "
                 f"repetitions of {report['steps']} steps; ratio = median of per-repetition ratios to {base}", "",
                 f"| setting | step s | × {base} (min–max) |", "|---|---:|---:|"]
        for r in report["rows"]:
            lines.append(f"| {r['setting']} | {r['step_s']:.3f} | {r['ratio']:.2f} ({r['ratio_min']:.2f}–"
                         f"{r['ratio_max']:.2f}) |")
        profiled = [r for r in report["rows"] if r["ops"]]
        kinds = list(dict.fromkeys(k for r in profiled for k in r["ops"]["by_kind"]))
        lines += ["", f"ms per step by kind of op ({report['profile_steps']} profiled steps, each setting alone)", "",
                  "| kind | " + " | ".join(r["setting"] for r in profiled) + " |", "|---|" + "---:|" * len(profiled)]
        for kind in kinds + ["all ops", "step (wall)"]:
            cells = [r["ops"]["by_kind"].get(kind, 0.0) if kind not in ("all ops", "step (wall)") else
                     r["ops"]["ops_ms" if kind == "all ops" else "step_ms"] for r in profiled]
            lines.append(f"| {kind} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
    elif command == "phases":
        total = report["total"]
        lines = [f"`{report['command']}` in one process: {total['wall_s']:.1f} s wall, {total['cpu_s']:.1f} s CPU "
                 f"(process {report['process_s'] or float('nan'):.1f} s); input pipeline alone: "
                 f"{report['pipeline_alone']['batches']} batches in {report['pipeline_alone']['seconds']:.1f} s",
                 "", "| phase | wall s | share | CPU s | calls |", "|---|---:|---:|---:|---:|"]
        for r in report["phases"]:
            lines.append(f"| {r['phase']} | {r['wall_s']:.1f} | {100 * r['share']:.1f}% | {r['cpu_s']:.1f} | "
                         f"{r['calls']} |")
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
            p.add_argument("--unfused", default="", help="comma-separated activations also trained with their "
                           "step traced with RELU_ZOO_XLA=0 (as '<name> unfused')")
    p = sub.add_parser("accuracy")
    p.add_argument("--presets", default=",".join(ACCURACY_TARGETS))
    sub.add_parser("memory")
    sub.add_parser("phases", help="time the phases of `python train.py [-- flags]` in this process")
    p = sub.add_parser("ops", help="a train step by op kind, per TensorFlow setting, and PyTorch's")
    p.add_argument("--model", choices=("airbench", "cnn"), default="airbench",
                   help="airbench: the cifar10 preset's net (with PyTorch's beside it); cnn: the default run's")
    p.add_argument("--activation", default="relu")
    p.add_argument("--variants", default=";".join(OPS_VARIANTS),
                   help="';'-separated settings, each 'default' or environment variables (NAME=VALUE) and "
                        "benchmarks/ops.py flags (--intra N, --inter N); the first is the baseline")
    p.add_argument("--torch-python", default=None, help="a Python with PyTorch (airbench only)")
    p.add_argument("--steps", type=int, default=3, help="steps per timed repetition")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--profile-steps", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=None, help="default: the run's (cnn 128, airbench 512)")
    p.add_argument("--widths", default=None, help="airbench widths (default: the cifar10 preset's)")
    p = sub.add_parser("precision")
    p.add_argument("--widths", default="32,128,128", help="airbench widths")
    p.add_argument("--batch-size", type=int, default=512)
    p = sub.add_parser("targets")
    p.add_argument("--quick", action="store_true", help="cap every row: a smoke test, not a measurement")
    p.add_argument("--seeds", type=int, default=3, help="seeds per preset row (seed 0 is the row)")
    p.add_argument("--torch-python", default=sys.executable,
                   help="a Python with PyTorch for the cifar10 row (the row is skipped if it has none)")
    p.add_argument("--before", action="store_true", help="also run the presets used before the speed presets")
    p.add_argument("--rows", default=",".join(SPEED_TARGETS), help="a comma-separated subset of the rows")
    p.add_argument("--data-dir", default=None)
    sub.add_parser("render", help="rewrite the markdown beside a stored `targets` JSON (F.md) from F")
    for p in sub.choices.values():
        p.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("accuracy", "memory", "phases"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    extra = [e for e in extra if e != "--"]

    if args.command == "render":
        if not args.json:
            parser.error("render needs --json (a stored `targets` report)")
        from relu_zoo.run.store import atomic_write_text

        stored = json.loads(Path(args.json).read_text())
        text = f"`{stored['command']}`" + (f" ({stored['machine']})" if "machine" in stored else "")
        atomic_write_text(Path(args.json).with_suffix(".md"), f"{text}\n\n{_targets_markdown(stored)}\n")
        print(_targets_markdown(stored))
        return 0
    if args.command in ("speed", "profile"):
        activations = [a for a in args.activations.split(",") if a]
        kwargs = {"repeats": args.repeats, "batch_size": args.batch_size, "data_dir": args.data_dir}
        if args.command == "speed":
            report = speed(activations, steps=args.steps, unfused=[a for a in args.unfused.split(",") if a],
                           **kwargs)
        else:
            report = profile(activations, **kwargs)
    elif args.command == "accuracy":
        report = accuracy([p for p in args.presets.split(",") if p], extra)
    elif args.command == "targets":
        unknown = sorted(set(args.rows.split(",")) - set(SPEED_TARGETS))
        if unknown:
            parser.error(f"unknown rows: {', '.join(unknown)}; valid: {', '.join(SPEED_TARGETS)}")
        def progress(partial):
            if args.json:  # the rows so far, JSON and markdown side by side (`.md` beside the `.json`)
                from relu_zoo.run.store import atomic_write_json, atomic_write_text

                atomic_write_json(args.json, {**partial, "command": command_line})
                atomic_write_text(Path(args.json).with_suffix(".md"), _targets_markdown(partial) + "\n")

        command_line = "python benchmarks/training.py " + " ".join(argv if argv is not None else sys.argv[1:])
        report = targets(quick=args.quick, seeds=args.seeds, torch_python=args.torch_python, before=args.before,
                         data_dir=args.data_dir, rows=args.rows.split(","), progress=progress)
        report["command"] = command_line
    elif args.command == "ops":
        report = ops(args.model, [v.strip() for v in args.variants.split(";") if v.strip()], args.torch_python,
                     steps=args.steps, repeats=args.repeats, profile_steps=args.profile_steps,
                     batch_size=args.batch_size, activation=args.activation,
                     widths=[int(w) for w in args.widths.split(",")] if args.widths else None)
        report["benchmark_command"] = "python benchmarks/training.py " + " ".join(
            argv if argv is not None else sys.argv[1:])
    elif args.command == "phases":
        report = phases(extra)
        report["benchmark_command"] = "python benchmarks/training.py " + " ".join(
            argv if argv is not None else sys.argv[1:])
    elif args.command == "precision":
        report = precision(tuple(int(w) for w in args.widths.split(",")), batch_size=args.batch_size)
    else:
        report = memory(extra)

    import tensorflow as tf

    report["machine"] = f"{os.cpu_count()} CPU cores ({platform.machine()}), TensorFlow {tf.__version__}"
    print(report["machine"])
    print(markdown(args.command, report))
    if args.json:
        from relu_zoo.run.store import atomic_write_json, atomic_write_text

        atomic_write_json(args.json, report)
        if args.command == "targets":
            atomic_write_text(Path(args.json).with_suffix(".md"),
                              f"`{report['command']}` ({report['machine']})\n\n{markdown(args.command, report)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every row of the speed-target table measured in one run, each against its target.

    python benchmarks/speed_targets.py [--rows prelu_layer,...] [--seeds 3] [--torch-python PYTHON] [--before]
        [--quick] [--json benchmarks/reports/training/targets.json]
    python benchmarks/speed_targets.py --render benchmarks/reports/training/targets.json

Rows (`SPEED_TARGETS`), cheap ratio rows first: the PReLU and RReLU layer ratios with the unfused formulation
beside them (benchmarks/layers.py); the cifar10 `airbench` train step against the same net in PyTorch (a child
process of `--torch-python`, steps interleaved with TensorFlow's); time to accuracy of the speed presets (one
`train.py` process each, `--seeds` seeds: seed 0 is the row, the others its spread); mnist's time to 99% against
the Keras `mnist_convnet` example's in the same run (benchmarks/mnist_time_to_99.py: the median over seeds);
the default `python train.py` as a whole process. With `--json F` it writes F and a markdown table beside it (F
with `.md`) after every row, so a run cut short keeps what it measured; the load average before and after is
recorded. `--quick` caps every row (a smoke test, ~2 min on an idle 2-core CPU; its numbers say nothing about
the targets). `--before` adds the presets the rows were measured with before the speed presets existed.
`--render F` rewrites F's markdown from a stored F. Compare ratios measured in one run, not absolute times.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/speed_targets.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import layers as layer_bench  # noqa: E402
from benchmarks import mnist_time_to_99, ops, reporting, train_process  # noqa: E402

# Written for another (AMX) machine; each row is measured here and reported against them as they are.
SPEED_TARGETS = {
    "prelu_layer": {"what": "PReLU fwd+bwd, graph mode, 256x32x32x64, ÷ tf.nn.relu", "at_most": 1.5, "unit": "×"},
    "rrelu_layer": {"what": "RReLU training fwd+bwd ÷ tf.nn.relu (stable: every repetition)", "at_most": 2.0,
                    "unit": "×"},
    "mnist": {"what": "mnist ≥ 99.0% test: training s ÷ Keras `mnist_convnet` example's time to 99%",
              "preset": mnist_time_to_99.PRESET, "accuracy": mnist_time_to_99.ACCURACY,
              "at_most": mnist_time_to_99.RATIO_AT_MOST, "unit": "×"},
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
# The presets these rows were measured with before the speed presets, for `--before`.
BEFORE_PRESETS = {"mnist": "mnist_60s", "imdb_88": "imdb", "spoken_digit": "spoken_digit"}


def row(key, measured, met, command, **details):
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
    return [row("prelu_layer", prelu["median"], prelu["median"] <= 1.5, command, spread=prelu,
                before=ratios("prelu unfused"), **detail),
            # "Stable": the median meets it and so does the slowest repetition's ratio.
            row("rrelu_layer", rrelu["median"], rrelu["median"] <= 2.0 and rrelu["max"] <= 2.0, command,
                spread=rrelu, before=ratios("rrelu (training) unfused"), **detail)]


def preset_row(key, preset=None, seeds=1, extra=()):
    """A time-to-accuracy row: seed 0's training seconds against the target, the other seeds its spread."""
    target = SPEED_TARGETS[key]
    run = train_process.preset_run(preset or target["preset"], seeds, extra)
    accurate = run["test_accuracy"] is not None and run["test_accuracy"] >= target["accuracy"]
    return row(key, run["train_s"], bool(accurate and run["train_s"] <= target["at_most"]), run.pop("command"),
               **run)


def mnist_row(compared):
    """The mnist row from benchmarks/mnist_time_to_99.py's comparison (the example's run is in the report)."""
    run = dict(compared["preset_run"])
    return row("mnist", compared["ratio"], compared["met"], run.pop("command"),
               keras_seconds_to_99=compared["keras_mnist_convnet"]["seconds_to_target"], **run)


def before_mnist_row(preset, keras_seconds, extra=()):
    run = train_process.preset_run(preset, 1, extra)
    ratio = run["train_s"] / keras_seconds if keras_seconds else None
    accurate = run["test_accuracy"] >= SPEED_TARGETS["mnist"]["accuracy"]
    return row("mnist", ratio, bool(accurate and ratio is not None and ratio <= SPEED_TARGETS["mnist"]["at_most"]),
               run.pop("command"), keras_seconds_to_99=keras_seconds, **run)


def default_row(extra=()):
    """The default `python train.py` (15 runs, diagnostics, logs, report, plots) as a whole process."""
    with tempfile.TemporaryDirectory() as out:
        run = train_process.train_py(list(extra), out)
        report = train_process.report_files(out)
    runs = run["results"]["runs"]
    return row("default", run["wall_s"], run["wall_s"] <= SPEED_TARGETS["default"]["at_most"], run["command"],
               runs=len(runs), train_s=sum(sum(r["epoch_times"]) for r in runs),
               diagnostics=all(r.get("diagnostics") for r in runs), report_files=report,
               peak_rss_mb=run["peak_rss_mb"])


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
    from relu_zoo.run.optim import make_loss, make_optimizer
    from relu_zoo.run.precision import dtype_policy

    config = config_lib.resolve(preset="cifar10")
    batch_size = batch_size or config.batch_size
    widths = tuple(widths or config.model_kwargs["widths"])
    policy = dtype_policy(config)
    command = (f"python benchmarks/speed_targets.py (cifar10_torch: --torch-python {reporting.portable(torch_python)}"
               f", batch {batch_size}, widths {','.join(map(str, widths))}, {policy})")
    torch_cmd = [torch_python, str(Path(ops.__file__).with_name("airbench_torch.py")), "--widths",
                 ",".join(map(str, widths)), "--batch-size", str(batch_size), "--threads", str(threads),
                 "--activation", "relu", "--precision", "bfloat16" if policy == "mixed_bfloat16" else "float32"]
    probe = subprocess.run([torch_python, "-c", "import torch"], capture_output=True, text=True)
    if probe.returncode != 0:
        return row("cifar10_torch", None, None, command,
                   skipped=f"PyTorch is not importable by {reporting.portable(torch_python)}: "
                           f"{probe.stderr.strip()[-300:]}")
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
    info, measured = ops.interleaved_with(torch_cmd, lambda: model.train_on_batch(x, y), steps, repeats)
    times = {"tensorflow": measured["here"], "pytorch": measured["child"]}
    step = {k: statistics.median(v) for k, v in times.items()}
    ratio = step["tensorflow"] / step["pytorch"]
    return row("cifar10_torch", ratio, ratio <= SPEED_TARGETS["cifar10_torch"]["at_most"], command,
               step_s=step, times=times, batch_size=batch_size, widths=list(widths), dtype_policy=policy,
               torch_precision=info["precision"], threads={"tensorflow": tf_threads, "pytorch": info["threads"]},
               params={"tensorflow": int(model.count_params()), "pytorch": info["parameters"]}, torch=info["torch"])


def targets(quick=False, seeds=3, torch_python=None, before=False, data_dir=None, rows=None, progress=None):
    """Every row of SPEED_TARGETS in one run (`rows`: a subset), the cheap ratio rows first; `progress(report)` is
    called after every row."""
    rows = list(rows or SPEED_TARGETS)
    seeds = 1 if quick else seeds
    cap = mnist_time_to_99.QUICK_TRAIN if quick else []
    report = {"quick": quick, "seeds": seeds, "rows": [], "before": [], "loadavg_start": list(os.getloadavg()),
              "complete": False}
    progress = progress or (lambda report: None)

    def add(measured_row, where="rows"):
        report[where].append(measured_row)
        report["loadavg_now"] = list(os.getloadavg())
        progress(report)

    if {"prelu_layer", "rrelu_layer"} & set(rows):
        for measured_row in layer_rows(shape=(32, 32, 32, 64) if quick else (256, 32, 32, 64),
                                       repeats=3 if quick else 9):
            if measured_row["key"] in rows:
                add(measured_row)
    if "cifar10_torch" in rows:
        add(cifar10_torch_row(torch_python or sys.executable, steps=1 if quick else 3, repeats=2 if quick else 5,
                              batch_size=64 if quick else None))
    for key in ("spoken_digit", "imdb_88"):
        if key in rows:
            add(preset_row(key, seeds=seeds, extra=cap))
    if "mnist" in rows:
        compared = mnist_time_to_99.compare(SPEED_TARGETS["mnist"]["preset"], seeds, quick, data_dir)
        report["keras_mnist_convnet"] = compared["keras_mnist_convnet"]
        add(mnist_row(compared))
    if "default" in rows:
        add(default_row(["--seeds", "1", "--activations", "relu,prelu", *mnist_time_to_99.QUICK_TRAIN]
                        if quick else []))
    if "imdb_90" in rows:
        add(preset_row("imdb_90", seeds=seeds, extra=cap))
    if before:
        for key, preset in BEFORE_PRESETS.items():
            if key not in rows:
                continue
            if key == "mnist":
                keras_seconds = report.get("keras_mnist_convnet", {}).get("seconds_to_target")
                add(before_mnist_row(preset, keras_seconds, cap), "before")
            else:
                add(preset_row(key, preset=preset, extra=cap), "before")
    report["complete"] = True
    return report


def _measured(measured_row):
    if measured_row["measured"] is None:
        return "–"
    return f"{measured_row['measured']:.2f}×" if measured_row["unit"] == "×" else f"{measured_row['measured']:.1f} s"


def markdown(report):
    rows = []
    shown = report["rows"] + [{**r, "what": f"before: {r['what']} (`{r['preset']}`)"} for r in report["before"]]
    for r in shown:
        measured = _measured(r)
        if "test_accuracy" in r and r["test_accuracy"] is not None:
            measured += f" at {100 * r['test_accuracy']:.2f}%"
            if len(r.get("seeds", [])) > 1:
                accs = [s["test_accuracy"] for s in r["seeds"]]
                secs = [s["train_s"] for s in r["seeds"]]
                measured += (f" ({len(accs)} seeds: {100 * min(accs):.2f}–{100 * max(accs):.2f}%, "
                             f"{min(secs):.0f}–{max(secs):.0f} s)")
        if r.get("times") and set(r["times"]) == {"tensorflow", "pytorch"}:
            # Load from other processes drifts between repetitions: each repetition's own ratio is beside it.
            per_rep = [t / p for t, p in zip(r["times"]["tensorflow"], r["times"]["pytorch"])]
            measured += (f" (ratio of median steps {r['step_s']['tensorflow']:.2f} / {r['step_s']['pytorch']:.2f}"
                         f" s; per repetition {min(per_rep):.2f}–{max(per_rep):.2f}×, median "
                         f"{statistics.median(per_rep):.2f}×)")
        if r.get("spread"):
            measured += f" (repetitions {r['spread']['min']:.2f}–{r['spread']['max']:.2f}×)"
        if r.get("before"):
            measured += f"; unfused {r['before']['median']:.2f}×"
        if r.get("skipped"):
            measured = f"skipped: {r['skipped']}"
        target = f"≤ {r['target']}{'×' if r['unit'] == '×' else ' s'}"
        rows.append([r["what"], measured, target, "–" if r["met"] is None else reporting.verdict(r["met"]),
                     f"`{r['command']}`"])
    text = reporting.table(["what", "measured", "target", "met", "command"], rows, "lrlll")
    if not report.get("complete", True):
        text = "**Incomplete run: only the rows below were measured.**\n\n" + text
    if report.get("keras_mnist_convnet"):
        text += "\n\n" + mnist_time_to_99.example_sentence(report["keras_mnist_convnet"])
    return text


def render(path):
    """Rewrites the markdown beside a stored report (`F.md`) from `F`."""
    stored = json.loads(Path(path).read_text())
    reporting.write(path, stored, markdown(stored))
    return markdown(stored)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/speed_targets.py", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(SPEED_TARGETS), help="a comma-separated subset of the rows")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per preset row (seed 0 is the row)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with PyTorch for the cifar10 row (the row is skipped if it has none)")
    parser.add_argument("--before", action="store_true", help="also run the presets used before the speed presets")
    parser.add_argument("--quick", action="store_true", help="cap every row: a smoke test, not a measurement")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", default=None, help="write the measurements to this JSON file and F.md beside it")
    parser.add_argument("--render", metavar="F", default=None,
                        help="only rewrite the markdown beside a stored report (F.md) from F")
    args = parser.parse_args(argv)
    if args.render:
        print(render(args.render))
        return 0
    unknown = sorted(set(args.rows.split(",")) - set(SPEED_TARGETS))
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}; valid: {', '.join(SPEED_TARGETS)}")
    command = reporting.command("speed_targets.py", argv)
    machine = reporting.machine()
    print(machine["text"])

    def progress(partial):  # the rows so far, JSON and markdown side by side
        reporting.write(args.json, {**partial, "command": command, "machine": machine}, markdown(partial))

    report = targets(quick=args.quick, seeds=args.seeds, torch_python=args.torch_python, before=args.before,
                     data_dir=args.data_dir, rows=args.rows.split(","), progress=progress)
    report.update(command=command, machine=machine)
    print(markdown(report))
    reporting.write(args.json, report, markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Keras `cifar10` recipe against airbench94 in PyTorch: same images, width, epochs and seeds.

    python benchmarks/cifar10_parity.py run --torch-python "$TORCH_PYTHON" \
        --widths 16,64,64 --epochs 4 --seeds 3 --out benchmarks/reports/cifar10_parity
    python benchmarks/cifar10_parity.py report --out benchmarks/reports/cifar10_parity

`run` trains, seed by seed, the `cifar10` preset through `train.py` (relu, the width and epochs given) and
benchmarks/airbench_torch.py in the PyTorch interpreter on the same TFDS images (exported once as uint8
arrays), and writes each finished run's record to `<out>/records/` at once, so an interrupted run resumes
where it stopped. Then it times the two train steps interleaved (repetitions of a few steps each,
alternating, medians), which is the step ratio the report states: the training runs' own times are
sequential and move with the machine's load. `report` writes `<out>/report.json` and `<out>/README.md`
from the records. Every figure names the CPU it ran on.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import reporting  # noqa: E402

ACTIVATION = "relu"
ACCURACY_MARGIN = 0.003  # the Keras mean may be at most 0.3 points below PyTorch's
STEP_RATIO_AT_MOST = 1.0


def export_images(path, data_dir=None):
    """The TFDS cifar10 train (all 50,000) and test splits as uint8 arrays in an .npz, for the PyTorch side."""
    import numpy as np

    from relu_zoo import tasks

    splits = tasks.get("cifar10").replace(validation_every=None).raw_splits(data_dir=data_dir, download=False)
    arrays = {}
    for split in ("train", "test"):
        images, labels = zip(*((x.numpy(), int(y)) for x, y in splits[split]))
        arrays[f"{split}_x"], arrays[f"{split}_y"] = np.stack(images), np.asarray(labels, dtype="int64")
    reporting.write_file(path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")


def keras_config(widths, epochs):
    """The preset's settings with the given width and epochs, relu only, as train.py overrides."""
    from relu_zoo.run import spec

    config = spec.resolve(preset="cifar10")
    model_kwargs = {**config.model_kwargs, "widths": list(widths)}
    return ["--preset", "cifar10", "--activations", ACTIVATION, "--epochs", str(epochs),
            "--model-kwargs", json.dumps(model_kwargs), "--verbose", "0"]


def keras_run(widths, epochs, seed, data_dir=None):
    with tempfile.TemporaryDirectory() as out:
        # One seed by number: on the command line a single number is a count of seeds.
        seeds = Path(out) / "seed.json"
        seeds.write_text(json.dumps({"seeds": [seed]}))
        args = [*keras_config(widths, epochs), "--config", str(seeds)]
        if data_dir:
            args += ["--data-dir", data_dir]
        subprocess.run([sys.executable, str(REPO / "train.py"), *args, "--out", str(Path(out) / "run")],
                       check=True, stdout=subprocess.DEVNULL)
        (result,) = json.loads((Path(out) / "run" / "results.json").read_text())["runs"]
        args[args.index("--config") + 1] = f"<a file with seeds: [{seed}]>"
    steps = -(-result["train_examples"] // result["config"]["batch_size"]) * result["epochs"]
    if len(result["epoch_times"]) != result["epochs"]:
        raise RuntimeError(f"The Keras run recorded {len(result['epoch_times'])} epoch times for {result['epochs']} "
                           "epochs; its history is incomplete.")
    return {"framework": "keras", "seed": seed, "activation": ACTIVATION, "widths": list(widths), "epochs": epochs,
            "batch_size": result["config"]["batch_size"], "train_examples": result["train_examples"],
            "steps": steps, "train_seconds": sum(result["epoch_times"]),
            "step_seconds": sum(result["epoch_times"]) / steps, "precision": result["dtype_policy"],
            "parameters": result["params"], "test_accuracy": result["test_accuracy"],
            "test_accuracy_tta": result["test_accuracy_tta"], "command": "python train.py " + " ".join(args),
            "config": result["config"]}


def torch_run(torch_python, images, widths, epochs, seed, precision):
    command = [torch_python, str(REPO / "benchmarks" / "airbench_torch.py"), "train", "--data", str(images),
               "--widths", ",".join(map(str, widths)), "--epochs", str(epochs), "--seed", str(seed),
               "--activation", ACTIVATION, "--precision", precision]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    record = json.loads(out.strip().splitlines()[-1])
    record["command"] = " ".join(["python", *(reporting.portable(arg) for arg in command[1:])])
    return record


def step_ratio(torch_python, widths, batch_size, precision, steps=3, repeats=5, threads=2):
    """Keras' train step ÷ PyTorch's, both `threads` threads, repetitions of `steps` steps interleaved."""
    import keras
    import numpy as np

    from benchmarks import ops as protocol
    from relu_zoo import models, tasks
    from relu_zoo.run import spec
    from relu_zoo.run.optim import make_loss, make_optimizer
    from relu_zoo.run.precision import dtype_policy

    config = spec.resolve(preset="cifar10")
    policy = dtype_policy(config)
    task = tasks.get("cifar10").spec
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size,) + task.input_shape).astype("float32")
    y = rng.integers(0, task.num_classes, size=batch_size)
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = models.create_model("airbench", task=task, activation=ACTIVATION,
                                    **{**config.model_kwargs, "widths": tuple(widths)})
        model.compile(make_optimizer(config, 49), make_loss(config), metrics=["accuracy"])
    finally:
        keras.config.set_dtype_policy("float32")
    model.train_on_batch(x, y)  # trace outside the timing
    model.train_on_batch(x, y)
    command = [torch_python, str(REPO / "benchmarks" / "airbench_torch.py"), "steps", "--widths",
               ",".join(map(str, widths)), "--batch-size", str(batch_size), "--threads", str(threads),
               "--activation", ACTIVATION, "--precision", precision]
    _, measured = protocol.interleaved_with(command, lambda: model.train_on_batch(x, y), steps, repeats)
    times = {"keras": measured["here"], "pytorch": measured["child"]}
    median = {k: statistics.median(v) for k, v in times.items()}
    return {"ratio": median["keras"] / median["pytorch"], "median_step_seconds": median, "times": times,
            "widths": list(widths), "batch_size": batch_size, "precision": policy, "steps": steps,
            "repeats": repeats}


def run(args):
    from relu_zoo.run.precision import dtype_policy
    from relu_zoo.run import spec
    out = Path(args.out)
    records = out / "records"
    records.mkdir(parents=True, exist_ok=True)
    widths = [int(w) for w in args.widths.split(",")]
    policy = dtype_policy(spec.resolve(preset="cifar10"))
    precision = "bfloat16" if policy == "mixed_bfloat16" else "float32"
    images = Path(args.cache) / "cifar10_uint8.npz"
    if not images.exists():
        images.parent.mkdir(parents=True, exist_ok=True)
        export_images(images, args.data_dir)
    # The Keras runs (relu_zoo's commands, started as this one was: relu_zoo._startup) and steps use the same
    # TensorFlow kernels.
    machine = {**reporting.cpu(), "tensorflow_onednn": reporting.machine()["onednn"]}
    tag = setting_tag(widths, args.epochs, precision)
    keras_tag = setting_tag(widths, args.epochs, precision, machine["tensorflow_onednn"])
    for seed in range(args.seeds):
        for framework in ("keras", "pytorch"):
            path = records / f"{keras_tag if framework == 'keras' else tag}_{framework}_seed{seed}.json"
            if path.exists():
                continue
            print(f"[{framework} seed {seed}] training", flush=True)
            record = (keras_run(widths, args.epochs, seed, args.data_dir) if framework == "keras" else
                      torch_run(args.torch_python, images, widths, args.epochs, seed, precision))
            reporting.write_json(path, {**record, "cpu": machine})
            print(f"[{framework} seed {seed}] test {record['test_accuracy']:.4f} "
                  f"(TTA {record['test_accuracy_tta']:.4f}), {record['train_seconds']} s", flush=True)
    path = out / f"{keras_tag}_steps.json"
    if not path.exists():
        print("timing the train steps, interleaved", flush=True)
        reporting.write_json(path, {**step_ratio(args.torch_python, widths, 1024, precision), "cpu": machine})
    report(args)


def setting_tag(widths, epochs, precision, onednn=None):
    """The name shared by one setting's records and its step timing: `w16-64-64_e4[_bf16][_eigen]` (PyTorch's
    records without the kernels part, `onednn=None`)."""
    return f"w{'-'.join(map(str, widths))}_e{epochs:g}" + precision_suffix(precision) + kernels_suffix(onednn)


def precision_suffix(precision):
    """Record names of bfloat16 runs (both sides, where the CPU has it natively) carry `_bf16`."""
    return "_bf16" if "bfloat16" in precision else ""


def kernels_suffix(onednn):
    """Record names of Keras runs with TensorFlow's Eigen kernels carry `_eigen`; oneDNN's are the default."""
    return "_eigen" if onednn is False else ""


def report(args):
    from relu_zoo.run.stats import describe as _mean_ci
    out = Path(args.out)
    keras_runs, torch_runs = {}, {}
    for path in sorted((out / "records").glob("*.json")):
        record = json.loads(path.read_text())
        key = (tuple(record["widths"]), record["epochs"], record["cpu"]["model"], tuple(record["cpu"]["flags"]),
               precision_suffix(record["precision"]))
        if record["framework"] == "keras":
            # TensorFlow's kernels are a setting of their own; PyTorch's runs are the reference for each.
            keras_runs.setdefault(key + (record["cpu"].get("tensorflow_onednn", True),), []).append(record)
        else:
            torch_runs.setdefault(key, []).append(record)
    groups = {key: {"keras": runs, **({"pytorch": torch_runs[key[:5]]} if key[:5] in torch_runs else {})}
              for key, runs in keras_runs.items()}
    groups.update({key + (None,): {"pytorch": runs} for key, runs in torch_runs.items()
                   if not any(k[:5] == key for k in keras_runs)})
    settings = []
    for (widths, epochs, model, flags, bf16, onednn), sides in groups.items():
        precision = "bfloat16" if bf16 else "float32"
        tag = setting_tag(widths, epochs, precision, onednn)
        steps_path = out / f"{tag}_steps.json"
        steps = json.loads(steps_path.read_text()) if steps_path.exists() else None
        summary = {"widths": list(widths), "epochs": epochs, "cpu": {"model": model, "flags": list(flags)},
                   "precision": precision,
                   "tensorflow_onednn": onednn, "step": steps}
        for side, records in sides.items():
            records.sort(key=lambda r: r["seed"])
            summary[side] = {"seeds": [r["seed"] for r in records],
                             "test_accuracy": _mean_ci([r["test_accuracy"] for r in records]),
                             "test_accuracy_tta": _mean_ci([r["test_accuracy_tta"] for r in records]),
                             "train_seconds": [r["train_seconds"] for r in records],
                             "step_seconds": [r["step_seconds"] for r in records if r["step_seconds"] is not None],
                             "runs": records}
        if "keras" in summary and "pytorch" in summary:
            for key in ("test_accuracy", "test_accuracy_tta"):
                gap = summary["keras"][key]["mean"] - summary["pytorch"][key]["mean"]
                summary[f"{key}_gap"] = gap
                summary[f"{key}_met"] = bool(gap >= -ACCURACY_MARGIN)
        if steps:
            summary["step_met"] = bool(steps["ratio"] <= STEP_RATIO_AT_MOST)
        summary["tag"] = tag
        settings.append(summary)
    reporting.write_json(out / "report.json", {"settings": settings})
    reporting.write_text(out / "README.md", markdown(settings))
    print((out / "README.md").read_text())


def _pct(d):
    if d.get("ci95") is None:
        return f"{100 * d['mean']:.2f}"
    return f"{100 * d['mean']:.2f} ± {100 * (d['ci95'][1] - d['mean']):.2f}"


def markdown(settings):
    lines = ["# CIFAR-10 (JPEG copy): the Keras recipe against airbench94 in PyTorch", "",
             "Generated by `python benchmarks/cifar10_parity.py report` from the records in `records/`; "
             "each run's command is in its record. Both sides train relu on all 50,000 training images of the "
             "TFDS `cifar10` split and are tested on its 10,000 test images. Accuracy: mean ± 95% CI half-width "
             "over seeds. TTA: airbench's mirror x {0, ±1 px} translate averaging. The step ratio is Keras' train "
             "step ÷ PyTorch's, timed interleaved on a fixed batch of 1024 (medians of repetitions); the runs' "
             f"own seconds are sequential and move with the machine's load. Targets: Keras' mean ≥ PyTorch's − "
             f"{100 * ACCURACY_MARGIN:.1f} points; step ratio ≤ {STEP_RATIO_AT_MOST:.1f}.", ""]
    for s in settings:
        kernels = {True: ", TensorFlow's oneDNN kernels", False: ", TensorFlow's Eigen kernels (its default on "
                   "this CPU, before relu_zoo turned oneDNN's on)", None: ""}[s.get("tensorflow_onednn")]
        lines += [f"## widths {'/'.join(map(str, s['widths']))}, {s['epochs']:g} epochs — {s['cpu']['model']} "
                  f"({', '.join(s['cpu']['flags'])}), {s.get('precision', 'float32')}{kernels}", ""]
        rows = []
        for side in ("keras", "pytorch"):
            if side in s:
                d = s[side]
                seconds = ", ".join("–" if t is None else f"{t:.0f}" for t in d["train_seconds"])
                step = f"{statistics.median(d['step_seconds']):.2f}" if d["step_seconds"] else "–"
                rows.append([side, len(d["seeds"]), _pct(d["test_accuracy"]), _pct(d["test_accuracy_tta"]), seconds,
                             step])
        lines += [reporting.table(["", "seeds", "test accuracy %", "with TTA %", "train s per run",
                                   "s per step (in the runs)"], rows, "llllll"), ""]
        if "test_accuracy_gap" in s:
            lines.append(f"- Keras − PyTorch: {100 * s['test_accuracy_gap']:+.2f} points "
                         f"({'met' if s['test_accuracy_met'] else 'MISSED'}); with TTA "
                         f"{100 * s['test_accuracy_tta_gap']:+.2f} points.")
        if s.get("step"):
            st = s["step"]
            lines.append(f"- Train step, interleaved: Keras {st['median_step_seconds']['keras']:.3f} s ÷ PyTorch "
                         f"{st['median_step_seconds']['pytorch']:.3f} s = **{st['ratio']:.2f}×** "
                         f"({'met' if s['step_met'] else 'MISSED'}; {st['precision']}, {st['repeats']} repetitions "
                         f"of {st['steps']} steps; TensorFlow's oneDNN kernels "
                         f"{'on' if st.get('cpu', {}).get('tensorflow_onednn', True) else 'off'}).")
        lines.append("")
    return "\n".join(lines)


def summary(settings):
    """(measured, judged) sentences for the README's CIFAR-10 table: each setting measured with the kernels the
    recipe runs on now (TensorFlow's oneDNN; the Eigen rows stay in the report)."""
    measured, judged = [], []
    shown = [s for s in settings if s.get("tensorflow_onednn") is not False and "test_accuracy_gap" in s]
    for s in shown:
        text = (f"{'/'.join(map(str, s['widths']))}, {s['epochs']:g} epochs, {ACTIVATION}, "
                f"{len(s['keras']['seeds'])} + {len(s['pytorch']['seeds'])} seeds: Keras − PyTorch "
                f"{100 * s['test_accuracy_gap']:+.2f} points ({100 * s['test_accuracy_tta_gap']:+.2f} with TTA)")
        verdict = f"≥ −{100 * ACCURACY_MARGIN:.1f} points: {'met' if s['test_accuracy_met'] else '**missed**'}"
        if s.get("step"):
            text += (f"; train step {s['step']['ratio']:.2f}× PyTorch's ({s['step']['precision']}, "
                     f"{s['cpu']['model']}, {', '.join(s['cpu']['flags'])})")
            verdict += f"; step ≤ {STEP_RATIO_AT_MOST:.1f}×: {'met' if s['step_met'] else '**missed**'}"
        # With several settings each sentence names its precision, so no verdict is read against another's.
        label = f"{s['precision']}: " if len(shown) > 1 else ""
        measured.append(label + text)
        judged.append(label + verdict)
    return "; ".join(measured) or "not run yet", "; ".join(judged) or "–"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "report"):
        p = sub.add_parser(name)
        p.add_argument("--out", default="benchmarks/reports/cifar10_parity")
        if name == "run":
            p.add_argument("--torch-python", required=True, help="a Python interpreter with PyTorch")
            p.add_argument("--widths", default="16,64,64")
            p.add_argument("--epochs", type=int, default=4)
            p.add_argument("--seeds", type=int, default=3)
            p.add_argument("--data-dir", default=None)
            p.add_argument("--cache", default="runs/cifar10_parity", help="where the exported images go")
    args = parser.parse_args(argv)
    return run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())

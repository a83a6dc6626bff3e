"""Re-running a checkpoint's training from its card, and checking that it gives the card's accuracy
(`relu-zoo reproduce NAME`).

A card records the command that made its checkpoint, for that activation and seed alone and without the folders
of the machine that ran it (`relu_zoo.zoo.card_command`), and how far a re-run may land from its test accuracy
(`reproduction` in metadata.json: the metric and its tolerance, `relu_zoo.zoo.default_tolerance`). `reproduce`
resolves that command as `relu-zoo train` would, checks that it trains this checkpoint (task, model, activation,
seed, epochs, model options, and a model of the checkpoint's number of parameters), runs it as a sweep into `out`
(an interrupted re-run continues; a finished one is read back), and compares the run's own test accuracy,
measured on the whole test split as the card's was, with the recorded one.

Loading checkpoints: `relu_zoo.pretrained`; making them and their cards: `relu_zoo.zoo`.
"""

import datetime
import json
import time
from pathlib import Path

from relu_zoo import _cpu, pretrained, zoo
from relu_zoo._io import atomic_write_json, atomic_write_text
from relu_zoo.run import spec, store
from relu_zoo.run.plan import run_grid
from relu_zoo.run.spec import ConfigError

DEFAULT_OUT = Path("runs") / "reproduce"
RECORD_FILE = "reproduce.json"
# What the card's `relu-zoo train` switches set (relu_zoo.console.train_parser); --ray changes only where runs go.
SWITCHES = {"--diagnostics": ("diagnostics", True), "--no-diagnostics": ("diagnostics", False),
            "--no-download": ("download", False), "--save-checkpoint": ("save_checkpoint", True)}
# The metrics a card records beside the judged one, shown for comparison.
SHOWN = ("test_accuracy", "test_accuracy_tta", "test_bits_per_byte", "test_loss")
# A float32 accuracy stored as a float64 (0.984000027...) against an exact tolerance (0.004): not a difference.
ROUNDING = 1e-6


def default_out(name):
    """Where `reproduce` trains checkpoint `name` without an `out`: runs/reproduce/NAME."""
    return DEFAULT_OUT / name


def card_config(meta):
    """The `SweepConfig` of the card's command (made machine-independent, `relu_zoo.zoo.card_command`), as
    `relu-zoo train` resolves it; ConfigError when the card has no command or one that does not train exactly
    this checkpoint."""
    name = meta["name"]
    if not meta.get("command"):
        raise ConfigError(f"Checkpoint {name!r} records no command in its metadata.json, so there is nothing to "
                          "re-run. Re-export it from its run with `relu-zoo zoo export RUN_DIR`, which records the "
                          "command.")
    try:
        _, flags = zoo.parse_command(zoo.card_command(meta))
    except ValueError as e:
        raise ConfigError(f"Checkpoint {name!r} cannot be re-run: {e}. Correct `command` in its metadata.json, then "
                          "regenerate its card with `relu-zoo zoo cards`.") from None
    preset, overrides = None, {}
    for flag, value in flags:
        if flag == "--preset":
            preset = value
        elif flag in SWITCHES:
            key, setting = SWITCHES[flag]
            overrides[key] = setting
        elif flag in spec.FLAGS:
            overrides[flag[2:].replace("-", "_")] = value
    try:
        config = spec.resolve(preset, None, overrides, check=False)
    except ConfigError as e:
        raise ConfigError(f"Checkpoint {name!r}: its command does not resolve: {e}") from None
    expected = {"task": [meta["task"]], "model": [meta["model"]], "activation": [meta["activation"]],
                "seed": [meta["seed"]], "epochs": meta["epochs"], "model_kwargs": meta.get("model_kwargs", {})}
    found = {"task": config.tasks, "model": config.models, "seed": config.seeds, "epochs": config.epochs,
             "activation": [spec.activation_label(a) for a in config.activations],
             "model_kwargs": config.model_kwargs}
    wrong = [f"{key} {found[key]} where the card records {expected[key]}" for key in expected
             if found[key] != expected[key]]
    if wrong:
        raise ConfigError(f"Checkpoint {name!r}: its command trains {'; '.join(wrong)} (has the preset changed?). "
                          "Correct `command` in its metadata.json, then run `relu-zoo zoo cards`.")
    return config


def check_model(meta, config):
    """ConfigError unless `config` (`card_config`) builds a model with the checkpoint's number of parameters: a
    default of the model changed since it was trained would have the re-run train another model."""
    from relu_zoo import models, tasks

    task = tasks.get(meta["task"]).replace(**config.task_kwargs).spec
    built = models.create_model(meta["model"], task=task, activation=config.activations[0],
                                **config.model_kwargs).count_params()
    if built != meta["params"]:
        raise ConfigError(f"Checkpoint {meta['name']!r}: its command builds a {meta['model']} of {built:,} parameters, "
                          f"the checkpoint has {meta['params']:,}: a default of the model changed since it was "
                          "trained. Add the option that restores it to `command` (--model-kwargs) and `model_kwargs` "
                          "in its metadata.json, then run `relu-zoo zoo cards`.")


def reproduce(name, out=None, data_dir=None, verbose=None, root=None, log=print):
    """Re-runs checkpoint `name`'s training as its card records it, into `out` (default runs/reproduce/NAME), and
    returns the comparison (also written to `out`/reproduce.json): recorded and reproduced metric, difference,
    tolerance, `within`, and the precision, CPU, versions and seconds of both.

    Raises ConfigError (one line, for the command line's exit status 2) for an unknown checkpoint, a card without a
    command or with one that does not train it (`card_config`, `check_model`), an `out` holding another sweep, and
    data that is neither in `data_dir` (default TFDS_DATA_DIR) nor downloadable; nothing is left in `out` then.
    """
    try:
        meta = pretrained.metadata(name, root)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    config = card_config(meta)
    out = Path(out) if out else default_out(name)
    config = spec.apply(config, {"out": str(out), "data_dir": data_dir,
                                 **({} if verbose is None else {"verbose": verbose})}, "the command line")
    spec.validate(config)
    check_model(meta, config)
    (run,) = run_grid(config)
    started = time.perf_counter()
    result = _train(config, run, zoo.card_command(meta), log)
    record = compare(meta, result)
    record["wall_seconds"] = time.perf_counter() - started
    atomic_write_json(out / RECORD_FILE, record)
    return record


def _train(config, run, command, log):
    """Trains the one run of `config` (a sweep: resumed or read back when `config.out` has it); its result."""
    from relu_zoo.run.sweep import sweep
    from relu_zoo.tasks import DatasetNotFoundError

    try:
        sweep(config, log=log, command=command)
    except DatasetNotFoundError as e:
        # The command line's one line: what is missing and why (its first line), and the fixes in short.
        raise ConfigError(f"{str(e).splitlines()[0]} Point TFDS_DATA_DIR or --data-dir at a folder that holds it "
                          "prepared by TFDS, or re-run where its download host answers.") from None
    return store.read_result(store.run_dir(config.out, run) / store.RESULT_FILE)


def compare(meta, result):
    """The comparison of a finished run's `result` with the card `meta` it re-ran (see `reproduce`)."""
    reproduction = meta.get("reproduction") or {}
    metric = reproduction.get("metric", zoo.REPRODUCE_METRIC)
    tolerance = reproduction.get("tolerance") or zoo.default_tolerance(meta["data"].get("test_examples"))
    recorded, reproduced = meta["metrics"][metric], result.get(metric)
    difference = None if reproduced is None else reproduced - recorded
    return {
        "name": meta["name"],
        "command": zoo.card_command(meta),
        "metric": metric,
        "recorded": recorded,
        "reproduced": reproduced,
        "difference": difference,
        "tolerance": tolerance,
        "within": difference is not None and abs(difference) <= tolerance + ROUNDING,
        "status": result["status"],
        "diverged_epoch": result.get("diverged_epoch"),
        "metrics": {key: {"recorded": meta["metrics"].get(key), "reproduced": result.get(key)} for key in SHOWN
                    if meta["metrics"].get(key) is not None},
        "test_examples": {"recorded": meta["data"].get("test_examples"), "reproduced": result.get("test_examples")},
        "dtype_policy": {"recorded": meta.get("dtype_policy"), "reproduced": result.get("dtype_policy")},
        "machine": {"recorded": meta.get("machine"), "reproduced": result.get("machine")},
        "versions": {"recorded": meta.get("versions"), "reproduced": result.get("versions")},
        "run_seconds": result.get("run_seconds"),
        "recorded_train_seconds": meta.get("train_seconds"),
        "date": datetime.date.today().isoformat(),
    }


def _points(value, signed=False):
    return "–" if value is None else f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}%"


def _value(metric, value, signed=False):
    """A metric's value as printed: accuracies in percent (differences in points), a loss or bits per byte as is."""
    if not metric.endswith(("loss", "bits_per_byte")):
        return _points(value, signed)
    return "–" if value is None else f"{value:+.4f}" if signed else f"{value:.4f}"


def _tolerance(metric, tolerance):
    return f"±{tolerance:.4f} bits per byte" if metric.endswith("bits_per_byte") else f"±{100 * tolerance:.2f} points"


def summary(record):
    """What `relu-zoo reproduce` prints: each metric recorded vs reproduced, then the verdict in one line."""
    lines = [f"{'metric':<20}{'card':>10}{'re-run':>10}{'difference':>12}"]
    for key, values in record["metrics"].items():
        recorded, reproduced = values["recorded"], values["reproduced"]
        cells = (_value(key, recorded), _value(key, reproduced),
                 "–" if reproduced is None else _value(key, reproduced - recorded, signed=True))
        lines.append(f"{key:<20}{cells[0]:>10}{cells[1]:>10}{cells[2]:>12}")
    metric = record["metric"]
    judged = f"{metric} within {_tolerance(metric, record['tolerance'])} of the card"
    if record["status"] == "diverged":
        verdict = f"Not reproduced: the re-run diverged at epoch {record['diverged_epoch']}."
    else:
        unit = "bits per byte" if metric.endswith("bits_per_byte") else "points"
        verdict = (f"{'Reproduced' if record['within'] else 'Not reproduced'}: {judged} "
                   f"({_value(metric, record['difference'], signed=True)} {unit}).")
    examples = record["test_examples"]
    if examples["recorded"] and examples["reproduced"] != examples["recorded"]:
        verdict += (f" The test split here has {examples['reproduced']:,} examples, the card's "
                    f"{examples['recorded']:,}: another copy of the data.")
    machine = record["machine"]["reproduced"]
    where = f"{record['run_seconds']:,.0f} s, {record['dtype_policy']['reproduced']}, {_cpu.text(machine)}" \
        if machine and record["run_seconds"] is not None else ""
    return "\n".join(lines + ["", verdict + (f" Re-run: {where}." if where else "")])


def store_record(record, folder):
    """Stores a comparison as `folder`/NAME.json and regenerates `folder`/README.md (`write_report`)."""
    atomic_write_json(Path(folder) / f"{record['name']}.json", record)
    return write_report(folder)


def write_report(folder):
    """Regenerates `folder`/README.md from every comparison stored there; returns its path."""
    folder = Path(folder)
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    atomic_write_text(folder / "README.md", report(records))
    return folder / "README.md"


def report(records):
    """The markdown page of stored comparisons: one row per checkpoint."""
    lines = ["# Checkpoints re-run from their cards", "",
             "Generated by `relu-zoo reproduce NAME --record benchmarks/reports/reproduce`; do not edit. Each row "
             "re-ran the command of the checkpoint's card (`models/NAME/README.md`) on a CPU with the flags named, "
             "and compares the run's test accuracy on the whole test split with the card's; the tolerance is the "
             "card's own. Run seconds: the wall time of the run (training and evaluation) on a machine that may "
             "have been shared with other work, so not a cost to compare (`benchmarks/reports/training` is).", "",
             "| checkpoint | card | re-run | difference (points) | tolerance (points) | within? | precision | CPU "
             "flags | run seconds | date |", "|---|---|---|---|---|---|---|---|---:|---|"]
    for r in records:
        machine = r["machine"]["reproduced"] or {}
        within = "yes" if r["within"] else ("**no** (diverged)" if r["status"] == "diverged" else "**no**")
        seconds = "–" if r["run_seconds"] is None else f"{r['run_seconds']:,.0f}"
        metric = r["metric"]
        bits = metric.endswith("bits_per_byte")  # its cells name their unit: the columns' is points
        tolerance = _tolerance(metric, r["tolerance"]) if bits else f"±{100 * r['tolerance']:.2f}"
        lines.append(f"| `{r['name']}` | {_value(metric, r['recorded'])} | {_value(metric, r['reproduced'])} | "
                     f"{_value(metric, r['difference'], signed=True)}{' bits per byte' if bits else ''} | "
                     f"{tolerance} | {within} | "
                     f"{r['dtype_policy']['reproduced']} | {', '.join(machine.get('flags', [])) or '–'} | "
                     f"{seconds} | {r['date']} |")
    return "\n".join(lines) + "\n"

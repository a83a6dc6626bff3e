"""Pretrained checkpoints: `list_pretrained()`, `load(name)`, and `export()` of a finished run into the zoo.

A checkpoint is a self-describing folder `<model>_<activation>.<task>/`:

    model.keras          the trained model (inputs: preprocessed tensors; outputs: logits)
    preprocessor.keras   the task's preprocessing (raw uint8 image / string / waveform -> model input)
    metadata.json        task, model, activation config, seed, epochs, command, metrics, versions, date,
                         sha256 of every other file
    README.md            the model card

Every file's sha256 is verified before anything is loaded, and models load
with `safe_mode=True` only. The zoo is found in `$RELU_ZOO_MODELS`, else the
`models/` folder of a source checkout, else the copy installed with the
package: `pip install .` puts `models/` in `<prefix>/share/relu_zoo/models`
(the `[tool.setuptools.data-files]` table of pyproject.toml, regenerated with
the index), found through the installed distribution's file list (RECORD),
wherever pip put it (tested with a wheel installed into another `--prefix`).
"""

import datetime
import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

from relu_zoo.config import atomic_write_json, atomic_write_text
from relu_zoo.report import final_layers

MODEL_FILE = "model.keras"
PREPROCESSOR_FILE = "preprocessor.keras"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
INDEX_FILE = "index.json"


class ChecksumError(ValueError):
    """A checkpoint file does not match the sha256 recorded in its metadata."""


INSTALLED_ZOO = "share/relu_zoo/models"  # where `pip install .` puts models/, relative to the install prefix


def zoo_dir():
    """The folder holding the checkpoints (see module docstring for the search order)."""
    env = os.environ.get("RELU_ZOO_MODELS")
    if env:
        return Path(env)
    source = Path(__file__).resolve().parents[1] / "models"
    if (source / INDEX_FILE).is_file():
        return source
    return installed_zoo_dir() or source


def installed_zoo_dir():
    """The zoo installed with the distribution (its RECORD lists `.../share/relu_zoo/models/index.json`)."""
    from importlib import metadata

    try:
        files = metadata.distribution("relu_zoo").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == INDEX_FILE and file.as_posix().endswith(f"{INSTALLED_ZOO}/{INDEX_FILE}"):
            path = Path(file.locate()).resolve()
            if path.is_file():
                return path.parent
    return None


def _register_custom_objects():
    """Imports what registers relu_zoo's serializable objects, so `safe_mode=True` loading finds them:
    the model building blocks (e.g. `MaskedGlobalMaxPooling1D`) and the preprocessing layers."""
    import relu_zoo.models  # noqa: F401
    import relu_zoo.tasks  # noqa: F401


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_pretrained(root=None):
    """Names of the checkpoints in the zoo (folders with a metadata.json), sorted."""
    root = Path(root) if root else zoo_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / METADATA_FILE).is_file())


def checkpoint_dir(name, root=None):
    root = Path(root) if root else zoo_dir()
    available = list_pretrained(root)
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name, available, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(available) if available else "(none: the zoo folder is empty)"
        raise ValueError(f"Unknown pretrained model {name!r} in {root}.{hint} Available: {listing}.")
    return root / name


def metadata(name, root=None):
    return json.loads((checkpoint_dir(name, root) / METADATA_FILE).read_text())


def verify(name, root=None):
    """Checks every recorded file's sha256; raises ChecksumError naming the file on any mismatch."""
    folder = checkpoint_dir(name, root)
    meta = json.loads((folder / METADATA_FILE).read_text())
    files = meta.get("sha256", {})
    if MODEL_FILE not in files:
        raise ChecksumError(f"{folder / METADATA_FILE} records no sha256 for {MODEL_FILE}; refusing to load.")
    for filename, expected in files.items():
        path = folder / filename
        if not path.is_file():
            raise ChecksumError(f"Checkpoint {name!r} is missing {filename} (recorded in its metadata).")
        actual = sha256(path)
        if actual != expected:
            raise ChecksumError(f"Checkpoint {name!r}: {filename} has sha256 {actual}, metadata records {expected}. "
                                "The file was modified or corrupted; restore it (e.g. `git checkout models/`) "
                                "instead of loading it.")
    return meta


def load(name, compile=True, raw_inputs=False, root=None):
    """Loads checkpoint `name` after verifying its hashes.

    Args:
        name: A name from `list_pretrained()`, e.g. "cnn_prelu.mnist".
        compile: Restore the training configuration (optimizer, loss, metrics).
        raw_inputs: Return an end-to-end model that takes what a user has
            (uint8 images, strings, int waveforms) with the task's
            preprocessing built in, and outputs class probabilities.
    """
    folder = checkpoint_dir(name, root)
    verify(name, root)
    model = _load_keras(folder / MODEL_FILE, compile=compile)
    if not raw_inputs:
        return model
    preprocessor = _load_keras(folder / PREPROCESSOR_FILE, compile=False)
    return end_to_end(preprocessor, model)


def _load_keras(path, compile=True):
    """`keras.saving.load_model` with `safe_mode=True`, relu_zoo's objects registered."""
    import keras

    _register_custom_objects()
    with warnings.catch_warnings():
        # Checkpoints carry the optimizer's configuration but not its state (see `save_lean`).
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.saving.load_model(path, compile=compile, safe_mode=True)


def end_to_end(preprocessor, model):
    """raw input -> preprocessor -> model -> softmax, as one Keras model."""
    import keras

    inputs = keras.Input(shape=preprocessor.input_shape[1:], dtype=preprocessor.inputs[0].dtype, name="raw")
    logits = model(preprocessor(inputs))
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name=f"{model.name}_raw")


CHECK_EXAMPLES = 2000


def raw_test_batches(task_name, max_examples=CHECK_EXAMPLES, batch_size=250, data_dir=None):
    """The first `max_examples` raw test examples of a task, batched `(raw, label)`."""
    from relu_zoo import tasks

    raw = tasks.get(task_name).raw_splits(data_dir=data_dir, max_examples={"test": max_examples})["test"]
    # Waveforms differ in length: zero-padding to the batch maximum is what the preprocessor does anyway.
    return raw.padded_batch(batch_size)


def raw_accuracy(model, task_name, max_examples=CHECK_EXAMPLES, data_dir=None):
    """Accuracy of an end-to-end (raw-input) model on the first `max_examples` raw test examples."""
    import numpy as np

    correct = total = 0
    for x, y in raw_test_batches(task_name, max_examples, data_dir=data_dir):
        predictions = np.argmax(model.predict_on_batch(x), axis=-1)
        correct += int(np.sum(predictions == np.asarray(y)))
        total += int(len(y))
    return correct / total, total


def card(meta):
    """The model card (README.md) text of a checkpoint."""
    acc = meta["metrics"]["test_accuracy"]
    target = meta.get("target_accuracy")
    lines = [
        f"# {meta['name']}",
        "",
        f"The relu_zoo `{meta['model']}` model trained on TFDS `{meta['task']}` with the `{meta['activation']}` "
        "activation.",
        "",
        "## Use",
        "",
        "```python",
        "from relu_zoo import pretrained",
        f"model = pretrained.load({meta['name']!r})                   # preprocessed inputs -> logits",
        f"raw = pretrained.load({meta['name']!r}, raw_inputs=True)    # raw inputs -> probabilities",
        "```",
        "",
        "Intended use: a reference point for comparing activations, a starting point for fine-tuning, "
        "teaching. Not evaluated for any production use.",
        "",
        "## Data",
        "",
        f"TFDS `{meta['task']}`: trained on {meta['data']['train_examples']:,} training examples; metrics on "
        f"the `{meta['data']['test_split']}` split ({meta['data']['test_examples']:,} examples). "
        f"{meta['data'].get('notes', '')}",
        "",
        "## Metrics",
        "",
        "| split | accuracy | loss |",
        "|---|---|---|",
        f"| {meta['data']['test_split']} | {100 * acc:.2f}% | {meta['metrics']['test_loss']:.4f} |",
        "",
        f"Accuracy of the raw-input model on the first {meta['check']['examples']:,} test examples (what the "
        f"test suite re-checks): {100 * meta['check']['accuracy']:.2f}%.",
        "",
    ]
    if target is not None:
        verdict = "met" if acc >= target else f"**missed** — {meta.get('target_note') or 'no reason recorded'}"
        lines += [f"Target accuracy {100 * target:.1f}%: {verdict}.", ""]
    lines += ["## Training", "", f"Seed {meta['seed']}, {meta['epochs']} epochs. Reproduce with:", "", "```",
              meta["command"], "```", ""]
    learned = meta.get("learned_parameters") or {}
    if learned:
        lines += ["## Learned activation parameters (per layer: mean [min, max])", "", "| layer | parameter | "
                  "mean | min | max |", "|---|---|---|---|---|"]
        for layer, params in learned.items():
            for param, st in params.items():
                lines.append(f"| {layer} | {param} | {st['mean']:.4f} | {st['min']:.4f} | {st['max']:.4f} |")
        lines.append("")
    lines += ["## Limits", "", "Single seed; accuracy differences between checkpoints of different activations "
              "are not evidence of a ranking (see `train.py` reports for multi-seed statistics). Inputs must be "
              "preprocessed like the training data unless loaded with `raw_inputs=True`.", "",
              f"Versions: relu_zoo {meta['versions']['relu_zoo']}, keras {meta['versions']['keras']}, "
              f"tensorflow {meta['versions']['tensorflow']}. Created {meta['date']}.", ""]
    return "\n".join(lines)


def export(run_dir, root=None, target_accuracy=None, target_note=None, data_notes=None):
    """Turns a finished run saved with --save-checkpoint into a zoo folder; returns its name."""
    run_dir = Path(run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    for needed in (MODEL_FILE, PREPROCESSOR_FILE):
        if not (run_dir / needed).is_file():
            raise ValueError(f"{run_dir} has no {needed}: run train.py with --save-checkpoint.")
    name = f"{result['model']}_{result['activation'].split(':')[0]}.{result['task'].replace('/', '_')}"
    root = Path(root) if root else zoo_dir()
    folder = root / name
    tmp = root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_lean(run_dir / MODEL_FILE, tmp / MODEL_FILE)
    shutil.copy2(run_dir / PREPROCESSOR_FILE, tmp / PREPROCESSOR_FILE)
    learned = {layer: entry["params"] for layer, entry in final_layers(result).items() if entry.get("params")}
    cfg = result["config"]
    meta = {
        "name": name,
        "task": result["task"],
        "model": result["model"],
        "activation": result["activation"],
        "activation_config": result["activation_config"],
        "model_kwargs": cfg.get("model_kwargs", {}),
        "seed": result["seed"],
        "epochs": result["epochs"],
        "command": result.get("command") or _command_for(result),
        "metrics": {"test_accuracy": result["test_accuracy"], "test_loss": result["test_loss"]},
        "target_accuracy": target_accuracy,
        "target_note": target_note,
        "data": {"train_examples": result["train_examples"], "test_split": result.get("test_split", "test"),
                 "test_examples": result.get("test_examples"), "notes": data_notes or ""},
        "params": result["params"],
        "learned_parameters": learned,
        "versions": result["versions"],
        "date": datetime.date.today().isoformat(),
    }
    staged = end_to_end(_load_keras(tmp / PREPROCESSOR_FILE), _load_keras(tmp / MODEL_FILE))
    check_accuracy, check_examples = raw_accuracy(staged, result["task"])
    meta["check"] = {"examples": check_examples, "accuracy": check_accuracy}
    atomic_write_text(tmp / CARD_FILE, card(meta))
    meta["sha256"] = {f: sha256(tmp / f) for f in (MODEL_FILE, PREPROCESSOR_FILE, CARD_FILE)}
    atomic_write_json(tmp / METADATA_FILE, meta)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    write_index(root)
    return name


def save_lean(source, dest):
    """Saves the model in `source` to `dest` without the optimizer's state.

    The training configuration stays (`load(compile=True)` gives the same optimizer, loss and metrics), but
    the optimizer starts fresh: Adam's two moments per weight would triple the file for no use in
    inference, and fine-tuning usually starts its own optimizer anyway. Weights are unchanged.
    """
    import keras

    model = _load_keras(source)
    compile_config = model.get_compile_config()
    if compile_config:
        model.compile(**keras.saving.deserialize_keras_object(compile_config))  # an unbuilt optimizer
    tmp = Path(dest).with_name(f".{Path(dest).name}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, dest)


def _command_for(result):
    cfg = result["config"]
    parts = ["python train.py", f"--task {result['task']}", f"--model {result['model']}",
             f"--activations '{result['activation']}'", f"--seeds {result['seed'] + 1}", f"--epochs {result['epochs']}",
             f"--batch-size {cfg['batch_size']}", f"--learning-rate {cfg['learning_rate']}",
             f"--optimizer {cfg['optimizer']}", f"--schedule {cfg['schedule']}",
             f"--max-train-examples {cfg['max_train_examples'] or 'all'}",
             f"--max-eval-examples {cfg['max_eval_examples'] or 'all'}", "--save-checkpoint"]
    if cfg.get("model_kwargs"):
        parts.append(f"--model-kwargs '{json.dumps(cfg['model_kwargs'])}'")
    return " ".join(parts)


def index_rows(root=None):
    root = Path(root) if root else zoo_dir()
    rows = []
    for name in list_pretrained(root):
        meta = json.loads((root / name / METADATA_FILE).read_text())
        size = sum((root / name / f).stat().st_size for f in meta["sha256"])
        rows.append({"name": name, "task": meta["task"], "model": meta["model"], "activation": meta["activation"],
                     "epochs": meta["epochs"], "test_accuracy": meta["metrics"]["test_accuracy"], "target_accuracy": meta["target_accuracy"],
                     "test_split": meta["data"]["test_split"], "params": meta["params"], "size_bytes": size})
    return rows


def index_markdown(rows):
    lines = ["| checkpoint | task | model | activation | epochs | test accuracy | target | params | size |",
             "|---|---|---|---|---:|---|---|---|---|"]
    for r in rows:
        target = "–" if r["target_accuracy"] is None else f"{100 * r['target_accuracy']:.1f}%"
        mark = "" if r["target_accuracy"] is None or r["test_accuracy"] >= r["target_accuracy"] else " (missed)"
        lines.append(f"| `{r['name']}` | {r['task']} | {r['model']} | {r['activation']} | {r['epochs']} | "
                     f"{100 * r['test_accuracy']:.2f}%{mark} | {target} | {r['params']:,} | "
                     f"{r['size_bytes'] / 1e6:.2f} MB |")
    total = sum(r["size_bytes"] for r in rows)
    lines += ["", f"{len(rows)} checkpoints, {total / 1e6:.1f} MB in total."]
    return "\n".join(lines)


def write_index(root=None):
    """Regenerates models/index.json and models/README.md from the checkpoint folders, and, for the
    repository's own models/, the data-files table in pyproject.toml that installs them and the checkpoint
    table of the repository README."""
    root = Path(root) if root else zoo_dir()
    rows = index_rows(root)
    atomic_write_json(root / INDEX_FILE, {"checkpoints": rows})
    atomic_write_text(root / "README.md", "# Pretrained checkpoints\n\nGenerated by "
                      "`relu_zoo.pretrained.write_index()`; do not edit.\n\n" + index_markdown(rows) + "\n")
    repo = root.resolve().parent
    if root.resolve().name == "models":
        _replace_between(repo / "pyproject.toml", DATA_FILES_START, DATA_FILES_END, data_files_toml(data_files(root)))
        _replace_between(repo / "README.md", README_START, README_END, readme_section(rows))
    return rows


def _replace_between(path, start, end, body):
    """Rewrites the text between the `start` and `end` marker lines of `path`, if it has them."""
    text = path.read_text() if path.is_file() else ""
    if start not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    atomic_write_text(path, f"{head}{start}\n{body}\n{end}{tail}")


README_START, README_END = "<!-- checkpoints:start -->", "<!-- checkpoints:end -->"


def readme_section(rows):
    """The checkpoint table of the repository README (between the `checkpoints:start/end` markers)."""
    return ("Trained here on the real data (`TFDS_DATA_DIR`), generated from `models/index.json` by "
            "`python -m relu_zoo.pretrained index`:\n\n" + index_markdown(rows) + "\n\n"
            "`model.keras` holds the weights and the training configuration (`load(compile=True)` restores the "
            "optimizer, loss and metrics) but not the optimizer's state, which would triple its size.")


DATA_FILES_START = "# zoo data-files: generated by `python -m relu_zoo.pretrained index`; do not edit"
DATA_FILES_END = "# zoo data-files end"


def data_files(root):
    """`{install folder: [repository files]}` that ships every checkpoint of `root` (the repo's models/)."""
    root = Path(root)
    table = {INSTALLED_ZOO: [f"models/{INDEX_FILE}", f"models/{CARD_FILE}"]}
    for name in list_pretrained(root):
        recorded = json.loads((root / name / METADATA_FILE).read_text())["sha256"]
        table[f"{INSTALLED_ZOO}/{name}"] = [f"models/{name}/{f}" for f in sorted([METADATA_FILE, *recorded])]
    return table


def data_files_toml(table):
    """The generated `[tool.setuptools.data-files]` table of pyproject.toml."""
    lines = ["[tool.setuptools.data-files]"]
    lines += [f"{json.dumps(folder)} = {json.dumps(files)}" for folder, files in table.items()]
    return "\n".join(lines)


TARGETS = {"mnist": 0.993, "imdb_reviews": 0.88, "spoken_digit": 0.97}


def main(argv=None):
    """`python -m relu_zoo.pretrained export RUN_DIR [RUN_DIR ...]`, or `index` to regenerate the index."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m relu_zoo.pretrained")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="copy finished runs saved with --save-checkpoint into the zoo")
    exp.add_argument("runs", nargs="+")
    exp.add_argument("--root", help="zoo folder (default: the repository's models/)")
    exp.add_argument("--missed-note", default=None, help="reason recorded in the card when a target is missed")
    sub.add_parser("index", help="regenerate models/index.json, models/README.md and pyproject's data-files"
                   ).add_argument("--root")
    sub.add_parser("list", help="list the checkpoints").add_argument("--root")
    args = parser.parse_args(argv)
    if args.command == "export":
        for run in args.runs:
            task = json.loads((Path(run) / "result.json").read_text())["task"]
            name = export(run, root=args.root, target_accuracy=TARGETS.get(task), target_note=args.missed_note)
            print(f"exported {name}")
    elif args.command == "index":
        write_index(args.root)
    else:
        print("\n".join(list_pretrained(args.root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

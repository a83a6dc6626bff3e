"""Building the zoo of pretrained checkpoints: `export()` of a finished run into a checkpoint folder (model,
preprocessor, metadata, card: `relu_zoo.cards`), the command a card records (`card_command`, re-run by
`relu_zoo.reproduce`), and the zoo's index (`models/index.json`, `models/README.md`).

Loading and verifying checkpoints: `relu_zoo.pretrained`.
"""

import datetime
import json
import shlex
import shutil
from pathlib import Path

from relu_zoo._io import atomic_write, atomic_write_json, atomic_write_text
from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.cards import card, missed_target, raw_input_accuracy  # noqa: F401  (public here too)
from relu_zoo.pretrained import (CARD_FILE, INDEX_FILE, METADATA_FILE, MODEL_FILE, PREPROCESSOR_FILE, end_to_end,
                                 list_pretrained, load_file, sha256, zoo_dir)
from relu_zoo.run.metrics import BITS_PER_BYTE
from relu_zoo.scoring import raw_scores
from relu_zoo.run.spec import FLAGS, activation_label, split_activation_list
from relu_zoo.run.store import final_layers


def _builtin(spec):
    """Whether a recorded activation spec names a layer relu_zoo ships (a zoo layer or a classic)."""
    try:
        return ActivationSpec.parse(spec).builtin
    except ValueError:  # e.g. an entry point no longer installed: a plug-in all the same
        return False


def export(run_dir, root=None, target_accuracy=None, target_note=None, data_notes=None):
    """Turns a finished run saved with --save-checkpoint into a zoo folder; returns its name."""
    run_dir = Path(run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    for needed in (MODEL_FILE, PREPROCESSOR_FILE):
        if not (run_dir / needed).is_file():
            raise ValueError(f"{run_dir} has no {needed}: run train.py with --save-checkpoint.")
    spec = result.get("activation_spec") or result["activation"]
    if not _builtin(spec):
        # A zoo checkpoint loads with relu_zoo alone (`pretrained.load`); a plug-in's layer needs its own code.
        raise ValueError(f"{run_dir} trained the plug-in activation {result['activation']!r}: the zoo holds "
                         "built-in activations only. Its model.keras loads with keras.saving.load_model after "
                         f"relu_zoo.get({spec!r}).")
    name = f"{result['model']}_{result['activation'].split(':')[0]}.{result['task'].replace('/', '_')}"
    root = Path(root) if root else zoo_dir()
    learned = {layer: entry["params"] for layer, entry in final_layers(result).items() if entry.get("params")}
    cfg = result["config"]
    language = result.get("metric") == BITS_PER_BYTE.name
    meta = {
        "name": name,
        "task": result["task"],
        "model": result["model"],
        "activation": result["activation"],
        "activation_config": result["activation_config"],
        "model_kwargs": cfg.get("model_kwargs", {}),
        "seed": result["seed"],
        "epochs": result["epochs"],
        "train_seconds": sum(result.get("epoch_times") or []) or None,
        "dtype_policy": result.get("dtype_policy"),
        "machine": result.get("machine"),
        "command": _export_command(result, name),
        "reproduction": reproduction(result),
        "metrics": {"test_accuracy": result["test_accuracy"], "test_loss": result["test_loss"],
                    "test_accuracy_tta": result.get("test_accuracy_tta"),
                    **({"test_bits_per_byte": result["test_bits_per_byte"]} if language else {})},
        # The run's test-time augmentation goes into the raw-input model (`pretrained.load(raw_inputs=True)`).
        "tta": _tta_mode(cfg.get("tta")),
        "target_accuracy": target_accuracy,
        "target_note": target_note,
        "data": {"train_examples": result["train_examples"], "test_split": result.get("test_split", "test"),
                 "test_examples": result.get("test_examples"), "notes": data_notes or ""},
        "params": result["params"],
        "learned_parameters": learned,
        "versions": result["versions"],
        "date": datetime.date.today().isoformat(),
    }

    def write(tmp):
        tmp.mkdir()
        save_lean(run_dir / MODEL_FILE, tmp / MODEL_FILE)
        shutil.copy2(run_dir / PREPROCESSOR_FILE, tmp / PREPROCESSOR_FILE)
        staged = end_to_end(load_file(tmp / PREPROCESSOR_FILE), load_file(tmp / MODEL_FILE), tta=meta["tta"])
        checked = raw_scores(staged, result["task"])
        meta["check"] = {"examples": checked.pop("examples"), **checked}
        # What a user meets: the stored model (float32 even when trained in mixed precision) on every test example;
        # a language model on the run's own test windows (its test split holds some 250,000).
        whole = raw_scores(staged, result["task"], max_examples=result["test_examples"] if language else None)
        meta["metrics"].update({f"raw_input_test_{key}": value for key, value in whole.items() if key != "examples"})
        if language:
            from relu_zoo.sample import sample

            meta["sample"] = {**SAMPLE, "text": sample(load_file(tmp / MODEL_FILE, compile=False), **SAMPLE)}
        atomic_write_text(tmp / CARD_FILE, card(meta))
        meta["sha256"] = {f: sha256(tmp / f) for f in (MODEL_FILE, PREPROCESSOR_FILE, CARD_FILE)}
        atomic_write_json(tmp / METADATA_FILE, meta)

    atomic_write(root / name, write)
    write_index(root)
    return name


# The text a language model's card shows, drawn at export: what its readers judge it by.
SAMPLE = {"prompt": "This movie was", "length": 300, "temperature": 0.8, "seed": 0}


def _tta_mode(tta):
    """A sweep's `tta` setting as a `flip_tta` mode (True is "flip"), or None."""
    return "flip" if tta is True else (tta or None)


def save_lean(source, dest):
    """Saves the model in `source` to `dest` without the optimizer's state.

    The training configuration stays (`load(compile=True)` gives the same optimizer, loss and metrics), but
    the optimizer starts fresh: Adam's two moments per weight would triple the file for no use in
    inference, and fine-tuning usually starts its own optimizer anyway. Weights are unchanged; a model trained in
    mixed precision is stored computing in float32 (`as_float32`).
    """
    import keras

    model = load_file(source)
    compile_config = model.get_compile_config()
    if any(layer.dtype_policy.compute_dtype in ("bfloat16", "float16") for layer in model.layers):
        model = as_float32(model)
    if compile_config:
        model.compile(**keras.saving.deserialize_keras_object(compile_config))  # an unbuilt optimizer
    atomic_write(dest, model.save, suffix=".keras")


def as_float32(model):
    """A copy of a mixed-precision model computing in float32, with the same weights.

    Mixed precision is a training speed choice of the machine that trained it (bfloat16 is native on some CPUs,
    emulated and 4x slower on AVX2-only ones, and not every export format takes it); float32 runs on every CPU and
    format, and its outputs differ from the bfloat16 ones only by their rounding (the weights are float32 either
    way).
    """
    import keras

    def to_float32(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    clone = keras.models.clone_model(model, clone_function=to_float32)
    clone.set_weights(model.get_weights())
    return clone


def _export_command(result, name):
    """The card's command for a run: the run's own, made machine-independent (`card_command`); a run started
    from a config file, or before runs kept their command, gets one of explicit flags."""
    meta = {"name": name, "activation": result["activation"], "seed": result["seed"]}
    try:
        return card_command({**meta, "command": result.get("command") or _command_for(result)})
    except ValueError:
        return card_command({**meta, "command": _command_for(result)})


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


# -- the command a card records ------------------------------------------------------------------------------

# `relu-zoo train`'s flags (relu_zoo.console.train_parser) that take a value, and those that take none.
VALUE_FLAGS = ("--preset", "--config", *FLAGS, "--jobs", "--ray-address", "--ray-cpus-per-run",
               "--ray-gpus-per-run")
SWITCHES = ("--diagnostics", "--no-diagnostics", "--no-download", "--save-checkpoint", "--ray")
# Where a run wrote and read, and how runs were spread over one machine: they change no result and name that
# machine's folders, so a card's command leaves them out.
MACHINE_FLAGS = ("--out", "--data-dir", "--verbose", "--shard", "--no-download", "--jobs", "--ray", "--ray-address",
                 "--ray-cpus-per-run", "--ray-gpus-per-run")
PROGRAMS = {"train.py": ["python", "train.py"], "relu-zoo": ["relu-zoo", "train"]}
# What `relu-zoo reproduce` compares: the run's own test accuracy, as the card's was measured (a language model's:
# its test bits per byte, within `BITS_PER_BYTE.delta`).
REPRODUCE_METRIC = "test_accuracy"


def reproduction(result):
    """A new card's `reproduction` entry: the metric `relu-zoo reproduce` compares and its tolerance."""
    if result.get("metric") == BITS_PER_BYTE.name:
        return {"metric": f"test_{BITS_PER_BYTE.name}", "tolerance": BITS_PER_BYTE.delta}
    return {"metric": REPRODUCE_METRIC, "tolerance": default_tolerance(result.get("test_examples"))}
# The default of a card's tolerance for a re-run: 0.3 accuracy points, or one test example where one weighs more
# (spoken_digit's 250 examples: 0.4 points), since two runs cannot differ by less than one example.
REPRODUCE_TOLERANCE = 0.003


def default_tolerance(test_examples):
    """A card's tolerance for `relu-zoo reproduce` (a fraction, like its metrics) on a test split of this size."""
    return max(REPRODUCE_TOLERANCE, 1 / test_examples) if test_examples else REPRODUCE_TOLERANCE


def parse_command(command):
    """A `python train.py ...` / `relu-zoo train ...` command as (program, [(flag, value or None)]), the program
    as typed in a checkout (`python train.py`); ValueError naming what is not a training command."""
    tokens = shlex.split(command)
    program = None
    if len(tokens) >= 2 and Path(tokens[0]).name.startswith("python") and Path(tokens[1]).name == "train.py":
        program, rest = PROGRAMS["train.py"], tokens[2:]
    elif len(tokens) >= 2 and Path(tokens[0]).name == "relu-zoo" and tokens[1] == "train":
        program, rest = PROGRAMS["relu-zoo"], tokens[2:]
    if program is None:
        raise ValueError(f"{command!r} is not a `python train.py ...` or `relu-zoo train ...` command")
    flags = []
    while rest:
        flag, has_value, value = rest.pop(0).partition("=")
        if flag in SWITCHES and not has_value:
            flags.append((flag, None))
        elif flag in VALUE_FLAGS and (has_value or rest):
            flags.append((flag, value if has_value else rest.pop(0)))
        else:
            raise ValueError(f"{command!r} has {flag!r}, which is not a flag of `relu-zoo train` with its value")
    return program, flags


def seeds_value(seed):
    """`--seeds` for one seed: a count for seed 0 (`1`), else a one-seed list (`7,`)."""
    return "1" if seed == 0 else f"{seed},"


def card_command(meta):
    """The command a card records for checkpoint `meta`: its training command for only this checkpoint's
    activation and seed, without the folders of the machine that ran it (`MACHINE_FLAGS`), writing to
    `runs/zoo/<name>` relative to the checkout. ValueError when it reads a config file, which a checkout has not."""
    program, flags = parse_command(meta["command"])
    kept = []
    for flag, value in flags:
        if flag == "--config":
            raise ValueError(f"{meta['command']!r} reads the config file {value!r}: a card's command must hold every "
                             "setting as a flag")
        if flag == "--activations":
            value = _one_activation(value, meta["activation"], meta["command"])
        elif flag == "--seeds":
            value = seeds_value(meta["seed"])
        if flag not in MACHINE_FLAGS:
            kept.append((flag, value))
    given = [flag for flag, _ in kept]
    at = given.index("--preset") + 1 if "--preset" in given else 0
    if "--seeds" not in given:
        kept.insert(at, ("--seeds", seeds_value(meta["seed"])))
    if "--activations" not in given:  # the preset's list: this checkpoint's alone
        kept.insert(at, ("--activations", meta["activation"]))
    if "--save-checkpoint" not in given:
        kept.append(("--save-checkpoint", None))
    kept.append(("--out", f"runs/zoo/{meta['name']}"))
    return shlex.join([*program, *(part for flag, value in kept for part in ([flag] if value is None else
                                                                               [flag, value]))])


def _one_activation(listed, label, command):
    """The item of an `--activations` list that trained the checkpoint labelled `label`."""
    items = split_activation_list(listed)
    found = [item for item in items if activation_label(item) == label]
    if not found:
        raise ValueError(f"{command!r} trains {', '.join(items)}, not the checkpoint's {label!r}")
    return found[0]


def rewrite_cards(root=None):
    """Regenerates each checkpoint's card (README.md) from its metadata, with the command made machine-independent
    (`card_command`) and a reproduction tolerance where it has none (`default_tolerance`); the weights and metrics
    stay as they are. Then the index (`write_index`). Returns the index rows."""
    root = Path(root) if root else zoo_dir()
    metas = {name: json.loads((root / name / METADATA_FILE).read_text()) for name in list_pretrained(root)}
    for meta in metas.values():  # every command first: a card that cannot be rewritten stops before any is
        meta["command"] = card_command(meta)
        meta.setdefault("reproduction", {"metric": REPRODUCE_METRIC,
                                         "tolerance": default_tolerance(meta["data"].get("test_examples"))})
    for name, meta in metas.items():
        atomic_write_text(root / name / CARD_FILE, card(meta))
        meta["sha256"][CARD_FILE] = sha256(root / name / CARD_FILE)
        atomic_write_json(root / name / METADATA_FILE, meta)
    return write_index(root)


def index_rows(root=None):
    root = Path(root) if root else zoo_dir()
    rows = []
    for name in list_pretrained(root):
        meta = json.loads((root / name / METADATA_FILE).read_text())
        files = {f: {"sha256": digest, "size_bytes": (root / name / f).stat().st_size}
                 for f, digest in sorted(meta["sha256"].items())}
        rows.append({"name": name, "task": meta["task"], "model": meta["model"], "activation": meta["activation"],
                     "epochs": meta["epochs"], "test_accuracy": meta["metrics"]["test_accuracy"],
                     "test_accuracy_tta": meta["metrics"].get("test_accuracy_tta"),
                     "raw_input_test_accuracy": meta["metrics"].get("raw_input_test_accuracy"),
                     **({"test_bits_per_byte": meta["metrics"]["test_bits_per_byte"]}
                        if "test_bits_per_byte" in meta["metrics"] else {}),
                     "target_accuracy": meta["target_accuracy"],
                     "test_split": meta["data"]["test_split"], "params": meta["params"],
                     "size_bytes": sum(f["size_bytes"] for f in files.values()), "files": files})
    return rows


def index_markdown(rows):
    # "test accuracy" and "with TTA" are the run's own at the end of training; "as loaded" is the stored
    # checkpoint's raw-input model over the whole test split (measured at export), which the target judges.
    # A language model's test accuracy is of the next byte; its bits per byte get a column once the zoo has one.
    bits = any("test_bits_per_byte" in r for r in rows)
    lines = ["| checkpoint | task | model | activation | epochs | test accuracy | with TTA | as loaded | "
             + ("bits per byte | " if bits else "") + "target | params | size |",
             "|---|---|---|---|---:|---|---|---|" + ("---|" if bits else "") + "---|---|---|"]

    def pct(value):
        return "–" if value is None else f"{100 * value:.2f}%"

    for r in rows:
        target = "–" if r["target_accuracy"] is None else f"{100 * r['target_accuracy']:.1f}%"
        missed = missed_target(r)
        bits_cell = (f"{r['test_bits_per_byte']:.4f} | " if "test_bits_per_byte" in r else "– | ") if bits else ""
        lines.append(f"| `{r['name']}` | {r['task']} | {r['model']} | {r['activation']} | {r['epochs']} | "
                     f"{pct(r['test_accuracy'])} | {pct(r.get('test_accuracy_tta'))} | "
                     f"{pct(r.get('raw_input_test_accuracy'))} | {bits_cell}{target}{' (missed)' if missed else ''} | "
                     f"{r['params']:,} | {r['size_bytes'] / 1e6:.2f} MB |")
    total = sum(r["size_bytes"] for r in rows)
    lines += ["", f"{len(rows)} checkpoints, {total / 1e6:.1f} MB in total."]
    return "\n".join(lines)


def write_index(root=None):
    """Regenerates models/index.json and models/README.md from the checkpoint folders. (The docs' checkpoint
    table and pyproject's data-files table are the repository's: `python tools/docs_tables.py`.)"""
    root = Path(root) if root else zoo_dir()
    rows = index_rows(root)
    atomic_write_json(root / INDEX_FILE, {"checkpoints": rows})
    atomic_write_text(root / "README.md", "# Pretrained checkpoints\n\nGenerated by "
                      "`relu_zoo.zoo.write_index()`; do not edit.\n\n" + index_markdown(rows) + "\n")
    return rows


# Test accuracy each task's checkpoints should reach; a card says whether it did (`relu-zoo zoo export`).
# Judged on the raw-input model (with its test-time augmentation where the run had one).
TARGETS = {"mnist": 0.993, "imdb_reviews": 0.88, "spoken_digit": 0.97,
           "imdb_reviews_512": 0.88, "spoken_digit_waveform": 0.95, "cifar10": 0.90}

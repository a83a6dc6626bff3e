"""Sweep configuration: dataclass defaults -> preset -> config file -> command line, type-checked.

Unknown keys are an error at every level. The resolved configuration is
written next to every result (`config.json`), so any number in a report can
be reproduced from its folder.
"""

import dataclasses
import json
import os
import sys
from pathlib import Path

from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.names import Registry, did_you_mean
from relu_zoo.plugins import PluginError
from relu_zoo.registry import shadowed_plugins
from relu_zoo.run.values import (DISTRIBUTE, OPTIMIZERS, PRECISIONS, SCHEDULES, ConfigError,  # noqa: F401
                                 coerce, seed_count, split_activation_list)

PRESET_DIR = Path(__file__).parents[1] / "presets"
PRESETS = Registry("preset", listing="Presets")
for _path in sorted(PRESET_DIR.glob("*.yaml")):
    PRESETS.register(_path.stem, _path)


@dataclasses.dataclass
class SweepConfig:
    """Everything that defines a sweep. Defaults give the quick mnist comparison of plain `python train.py`."""

    tasks: list = dataclasses.field(default_factory=lambda: ["mnist"])
    models: list = dataclasses.field(default_factory=lambda: ["cnn_small"])
    activations: list = dataclasses.field(default_factory=lambda: ["relu", "leaky_relu", "prelu", "rrelu", "elu"])
    seeds: list = dataclasses.field(default_factory=lambda: [0, 1, 2])
    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 2e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    weight_decay: float = 0.0
    clipnorm: float = None
    momentum: float = 0.9
    warmup: float = 0.0
    label_smoothing: float = 0.0
    precision: str = "float32"
    tta: bool | str = False
    lookahead: bool = False
    max_train_examples: int = 6000
    max_eval_examples: int = 2000
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    task_kwargs: dict = dataclasses.field(default_factory=dict)
    diagnostics: bool = True
    probe_examples: int = 256
    save_checkpoint: bool = False
    distribute: str = None
    cpu_devices: int = None
    target_ci: float = None  # accuracy points; seeds are added until every paired half-width is at most this
    max_seeds: int = None  # the cap on seeds for target_ci
    # Not part of the sweep's identity (may differ between a run and its resume):
    out: str = "runs/default"
    data_dir: str = None
    download: bool = True  # False: a dataset missing from data_dir is an error, never downloaded
    verbose: str | int = "auto"
    shard: str = None


# Keys that may change between a sweep and its resumption (or between its shards) without changing results.
NON_IDENTITY_KEYS = ("out", "data_dir", "download", "verbose", "save_checkpoint", "shard")
# Keys added after sweeps were already stored: left out of the identity at their defaults, so those resume.
LATER_KEYS = ("momentum", "warmup", "label_smoothing", "precision", "tta", "lookahead", "task_kwargs", "target_ci",
              "max_seeds")
# Accepted spellings of keys in files and on the command line.
KEY_ALIASES = {"task": "tasks", "model": "models", "activation": "activations", "seed": "seeds", "lr": "learning_rate"}


# The command line's flag -> help (`relu-zoo train`); every flag maps to the SweepConfig field of the same name
# (dashes -> underscores), so its documentation sits here beside the fields.
FLAGS = {
    "--task": "task name(s), comma-separated (see `relu-zoo list`); default mnist",
    "--model": "model name(s), comma-separated (see `relu-zoo list models`); default cnn_small",
    "--activations": "activation specs, comma-separated; parameters as name:key=value "
                     "(e.g. relu,leaky_relu:negative_slope=0.2,prelu); your own as module:attr[:key=value] "
                     "(e.g. my_acts:swish2, see docs/howto/your_activation.md). The first is the baseline",
    "--seeds": "number of seeds (3 -> 0,1,2) or an explicit list (0,5,7; one seed: 7,)",
    "--target-ci": "add seeds in rounds (every activation on the same new seeds) until every paired interval against "
                   "the baseline has a half-width of at most this many accuracy points (e.g. 0.3), or --max-seeds "
                   "is reached; --seeds (a count >= 3) is the first round, then it doubles. The intervals are "
                   "corrected for the repeated looks (docs/howto/comparisons.md)",
    "--max-seeds": "the cap on seeds for --target-ci (its last look)",
    "--epochs": "epochs per run",
    "--batch-size": "batch size",
    "--learning-rate": "peak learning rate",
    "--optimizer": f"one of {', '.join(OPTIMIZERS)}",
    "--schedule": f"learning-rate schedule: {', '.join(SCHEDULES)}",
    "--weight-decay": "decoupled weight decay (adamw; sgd: per step, times the learning rate)",
    "--momentum": "sgd (Nesterov) momentum; default 0.9",
    "--warmup": "fraction of the steps over which the learning rate rises linearly from 0 (any schedule)",
    "--label-smoothing": "label smoothing of the cross-entropy, in [0, 1)",
    "--precision": f"Keras dtype policy: {', '.join(PRECISIONS)} (auto: mixed_bfloat16 on a CPU with "
                   "AMX/AVX-512 BF16 or a GPU of compute capability >= 8, mixed_float16 on older GPUs, float32 "
                   "elsewhere; learned activation parameters stay float32)",
    "--tta": "also report test accuracy with test-time augmentation (image tasks): false, true or flip (the "
             "mirror image), flip_translate (airbench's mirror x {0, +-1 px} translates)",
    "--lookahead": "airbench's lookahead: every 5 steps the weights (and batch-norm statistics) become an "
                   "average of themselves and their last such average, weighted more towards the average "
                   "as training ends: true/false",
    "--clipnorm": "gradient clipping by norm (default: the model's own, e.g. 1.0 for relu_rnn)",
    "--max-train-examples": "cap on training examples per run ('all' for no cap)",
    "--max-eval-examples": "cap on validation and test examples ('all' for no cap)",
    "--model-kwargs": "JSON object of model options, e.g. '{\"width\": 128}'",
    "--task-kwargs": "JSON object of task options, e.g. '{\"flip\": \"alternating\", \"validation_every\": null}'",
    "--probe-examples": "examples in the diagnostics probe batch",
    "--data-dir": "TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    "--out": "output folder; re-running with the same folder resumes the sweep",
    "--verbose": "Keras fit verbosity: auto (a progress bar on a terminal, one line per epoch into a file or "
                 "pipe), 0, 1, 2",
    "--distribute": "one run across devices: mirrored (all local devices) or multi_worker (synchronous over "
                    "the processes listed in TF_CONFIG; start the same command on every worker, the chief "
                    "writes --out); default: one device",
    "--cpu-devices": "split the CPU into N logical devices (try --distribute mirrored without GPUs)",
    "--shard": "run only shard i of n of the grid, as 'i/n' (e.g. a Slurm array task or a Kubernetes indexed "
               "Job); merge the shards' folders with `relu-zoo report`",
}


def _field_types():
    return {f.name: f for f in dataclasses.fields(SweepConfig)}


def normalize_key(key):
    key = key.replace("-", "_")
    return KEY_ALIASES.get(key, key)


def apply(config, updates, source):
    """Returns a copy of `config` with `updates` applied; unknown keys raise ConfigError naming `source`."""
    fields = _field_types()
    values = dataclasses.asdict(config)
    for raw_key, value in updates.items():
        key = normalize_key(str(raw_key))
        if key not in fields:
            raise ConfigError(f"Unknown configuration key {raw_key!r} in {source}.{did_you_mean(key, fields)} "
                              f"Valid keys: {', '.join(fields)}.")
        field = fields[key]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        values[key] = coerce(key, value, default)
    return SweepConfig(**values)


def load_file(path):
    """Reads a YAML or JSON mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} does not exist. Check the path given to --config (relative "
                          f"paths start in {os.getcwd()!r}), or list the shipped ones with --preset.")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"Could not read config file {str(path)!r} ({e}). Make it readable, or pass another "
                          "--config.") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # yaml and json raise different types
        raise ConfigError(f"Could not parse config file {str(path)!r}: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {str(path)!r} must hold a mapping of keys to values.")
    return data


def list_presets():
    return PRESETS.names()


def preset_path(name):
    try:
        return PRESETS.get(name)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def resolve(preset=None, config_file=None, overrides=None, check=True):
    """defaults -> preset -> config file -> overrides (command line), then semantic validation (`check`)."""
    config = SweepConfig()
    if preset:
        config = apply(config, load_file(preset_path(preset)), f"preset {preset!r}")
    if config_file:
        config = apply(config, load_file(config_file), f"config file {str(config_file)!r}")
    if overrides:
        config = apply(config, overrides, "the command line")
    if check:
        validate(config)
    return config


def validate(config):
    """Checks names against the registries, before any data is loaded or any training starts."""
    from relu_zoo import models, tasks

    specs = []
    for task in config.tasks:
        try:
            found = tasks.get(task)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        try:
            spec = found.replace(**config.task_kwargs).spec
        except (ValueError, TypeError) as e:
            raise ConfigError(f"Task {task!r} with task_kwargs={config.task_kwargs}: {e}") from None
        specs.append(spec)
        for model in config.models:
            try:
                modalities = models.model_modalities(model)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            if spec.modality not in modalities:
                raise ConfigError(f"Model {model!r} does not fit task {task!r}: it supports "
                                  f"{', '.join(modalities)} tasks, {task!r} is {spec.modality}. Models for "
                                  f"{spec.modality}: {', '.join(models.list_models(spec.modality))}.")
    if config.tta and any(tasks.get(task).spec.modality != "image" for task in config.tasks):
        raise ConfigError("`tta` (mirror-image test-time averaging) applies to image tasks only. "
                          f"Received: tasks={config.tasks}, tta={config.tta}.")
    if config.target_ci is not None and any(tasks.get(task).modality == "language" for task in config.tasks):
        # relu_zoo.run.sequential narrows intervals of test accuracy; a language task is compared by bits per byte.
        raise ConfigError("`target_ci` is in accuracy points and applies to classification tasks; a language task "
                          "is compared by bits per byte. Drop --target-ci and give --seeds. "
                          f"Received: tasks={config.tasks}, target_ci={config.target_ci}.")
    labels, names = [], []
    for spec in config.activations:
        try:
            parsed = ActivationSpec.parse(spec)
            parsed.build()  # a plug-in is imported and checked on a probe tensor here, before any training
        except PluginError as e:
            raise ConfigError(str(e)) from None
        except ValueError as e:
            raise ConfigError(f"Activation {spec!r}: {e}") from None
        labels.append(activation_label(spec))
        names.append(parsed.name)
        for task_spec in specs:
            for model in config.models:
                try:  # an activation that needs its input's context, in a model whose activations have none
                    models.check_activation(model, task_spec, parsed, **config.model_kwargs)
                except ValueError as e:
                    raise ConfigError(f"Task {task_spec.name!r}: {e}") from None
    shadowed = shadowed_plugins()
    for name in names:
        if name in shadowed:
            print(f"warning: {shadowed[name]}", file=sys.stderr)
    if len(set(labels)) != len(labels):
        raise ConfigError(f"Activations are listed twice: {labels}. Each must be distinct.")
    check_target(config)


def check_target(config):
    """`target_ci` and `max_seeds` against the other keys (the design: relu_zoo.run.sequential)."""
    target, cap = config.target_ci, config.max_seeds
    if target is None:
        if cap is not None:
            raise ConfigError("`max_seeds` caps the seeds that `target_ci` adds: give --target-ci too (e.g. "
                              f"--target-ci 0.3), or drop --max-seeds. Received: max_seeds={cap}")
        return
    first = seed_count(config.seeds)
    if first is None:
        raise ConfigError("`target_ci` adds seeds n, n+1, ... after seeds 0 ... n-1, so `seeds` must be a count "
                          f"(e.g. --seeds 3): an explicit list leaves no seeds to add. Received: seeds={config.seeds}")
    if first < 3:
        raise ConfigError("`target_ci` needs at least 3 seeds in its first round (--seeds 3 or more): with fewer, "
                          f"the corrected t interval is too wide to decide anything. Received: seeds={first}")
    if cap is None:
        raise ConfigError("`target_ci` needs `max_seeds`, the cap on seeds, which fixes the planned looks and so "
                          f"the intervals' correction (e.g. --max-seeds 40). Received: target_ci={target}")
    if cap < first:
        raise ConfigError(f"`max_seeds` must be at least the first round's seeds (--seeds). Received: "
                          f"max_seeds={cap}, seeds={first}")
    if len(config.activations) < 2:
        raise ConfigError("`target_ci` narrows the paired intervals against the baseline (the first activation): "
                          f"give at least two activations. Received: activations={config.activations}")
    if config.shard or config.distribute == "multi_worker":
        what = f"--shard {config.shard}" if config.shard else "--distribute multi_worker"
        raise ConfigError(f"`target_ci` decides after each round, from all of its runs, whether to add seeds: it "
                          f"runs in one process and does not combine with {what}. Drop one of the two.")


def activation_label(spec):
    """The label of an activation spec in a sweep's configuration (`ActivationSpec.label`): 'leaky_relu' or
    'leaky_relu:negative_slope=0.2'; a plug-in's 'module:attr' (with its parameters) or entry-point name, found
    without importing it."""
    if not isinstance(spec, (str, dict)):
        raise ConfigError(f"An activation must be a name, 'name:key=value' or a mapping. Received: {spec!r}")
    return ActivationSpec.parse(spec).label


def identity(config):
    """The parts of a config that define a sweep's results."""
    values, defaults = dataclasses.asdict(config), dataclasses.asdict(SweepConfig())
    return {k: v for k, v in values.items()
            if k not in NON_IDENTITY_KEYS and not (k in LATER_KEYS and v == defaults[k])}

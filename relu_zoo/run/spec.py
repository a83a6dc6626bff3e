"""Sweep configuration: dataclass defaults -> preset -> config file -> command line, type-checked.

Unknown keys are an error at every level. The resolved configuration is
written next to every result (`config.json`), so any number in a report can
be reproduced from its folder.
"""

import dataclasses
import json
import os
from pathlib import Path

import relu_zoo
from relu_zoo.registry import Registry, did_you_mean, parse_spec
from relu_zoo.registry import resolve as resolve_activation

PRESET_DIR = Path(__file__).parents[1] / "presets"
PRESETS = Registry("preset", listing="Presets")
for _path in sorted(PRESET_DIR.glob("*.yaml")):
    PRESETS.register(_path.stem, _path)
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
SCHEDULES = ("constant", "cosine", "one_cycle")
DISTRIBUTE = ("mirrored", "multi_worker")  # see relu_zoo.run.distribute.Distribution


@dataclasses.dataclass
class SweepConfig:
    """Everything that defines a sweep. Defaults give the quick mnist comparison of plain `python train.py`."""

    tasks: list = dataclasses.field(default_factory=lambda: ["mnist"])
    models: list = dataclasses.field(default_factory=lambda: ["cnn"])
    activations: list = dataclasses.field(default_factory=lambda: ["relu", "leaky_relu", "prelu", "rrelu", "elu"])
    seeds: list = dataclasses.field(default_factory=lambda: [0, 1, 2])
    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 2e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    weight_decay: float = 0.0
    clipnorm: float = None
    max_train_examples: int = 6000
    max_eval_examples: int = 2000
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    diagnostics: bool = True
    probe_examples: int = 256
    save_checkpoint: bool = False
    distribute: str = None
    cpu_devices: int = None
    # Not part of the sweep's identity (may differ between a run and its resume):
    out: str = "runs/default"
    data_dir: str = None
    verbose: str | int = "auto"
    shard: str = None


# Keys that may change between a sweep and its resumption (or between its shards) without changing results.
NON_IDENTITY_KEYS = ("out", "data_dir", "verbose", "save_checkpoint", "shard")
# Accepted spellings of keys in files and on the command line.
KEY_ALIASES = {"task": "tasks", "model": "models", "activation": "activations", "seed": "seeds", "lr": "learning_rate"}


class ConfigError(ValueError):
    """A bad configuration value or key; the message names the key, the value and the fix."""


def _field_types():
    return {f.name: f for f in dataclasses.fields(SweepConfig)}


def normalize_key(key):
    key = key.replace("-", "_")
    return KEY_ALIASES.get(key, key)


def split_activation_list(text):
    """Splits 'relu,leaky_relu:negative_slope=0.2,alpha=1,prelu' into specs.

    A comma-separated item holding '=' but no ':' continues the parameters of the previous spec.
    """
    specs = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        if "=" in item and ":" not in item and specs:
            specs[-1] += "," + item
        else:
            specs.append(item)
    return specs


def _as_list(key, value):
    if isinstance(value, str):
        items = split_activation_list(value) if key == "activations" else [v.strip() for v in value.split(",")]
        return [v for v in items if v != ""]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _coerce(key, value):
    """Converts and checks one value against the dataclass field type."""
    field = _field_types()[key]
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    if key == "seeds":
        return _coerce_seeds(value)
    if isinstance(default, list):
        items = _as_list(key, value)
        if not items:
            raise ConfigError(f"`{key}` must not be empty. Received: {key}={value!r}")
        return items
    if key == "model_kwargs":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ConfigError(f"`model_kwargs` must be a JSON object, e.g. '{{\"width\": 128}}'. "
                                  f"Received: {value!r} ({e})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"`model_kwargs` must be a mapping. Received: model_kwargs={value!r}")
        return dict(value)
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"`{key}` must be true or false. Received: {key}={value!r}")
        return value
    if key == "distribute":
        return None if value in (None, "none") else _choice(key, value, DISTRIBUTE)
    if key == "cpu_devices" and value is None:
        return None
    if key in ("epochs", "batch_size", "max_train_examples", "max_eval_examples", "probe_examples", "cpu_devices"):
        if value is None and key.startswith("max_"):
            return None
        if isinstance(value, str) and key.startswith("max_") and value.lower() in ("none", "all", "0"):
            return None
        try:
            number = int(value)
            if isinstance(value, bool) or number != float(value):
                raise ValueError
        except (TypeError, ValueError):
            return _bad(key, value, "an integer")
        if number < 1:
            return _bad(key, value, "an integer >= 1" + (" (or 'all')" if key.startswith("max_") else ""))
        return number
    if key in ("learning_rate", "weight_decay", "clipnorm"):
        if value is None and key == "clipnorm":
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _bad(key, value, "a number")
        if isinstance(value, bool) or number != number or number in (float("inf"), float("-inf")):
            return _bad(key, value, "a finite number")
        if (key == "weight_decay" and number < 0) or (key != "weight_decay" and number <= 0):
            return _bad(key, value, "a number > 0" if key != "weight_decay" else "a number >= 0")
        return number
    if key == "optimizer":
        return _choice(key, value, OPTIMIZERS)
    if key == "schedule":
        return _choice(key, value, SCHEDULES)
    if key == "verbose":
        # What Keras' fit accepts: "auto" or 0/1/2 (also given as strings on the command line).
        if str(value) in ("0", "1", "2"):
            return int(value)
        return _choice(key, value, ("auto", 0, 1, 2))
    if key == "shard":
        return None if value is None else _coerce_shard(value)
    if key in ("out", "data_dir"):
        return None if value is None else str(value)
    return value


def _coerce_seeds(value):
    """A count (3 -> seeds 0, 1, 2) or an explicit list ("0,5,7" or [0, 5, 7])."""
    original = value
    try:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            value = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            if value < 1:
                raise ValueError
            return list(range(value))
        seeds = [int(s) for s in value]
    except (TypeError, ValueError, IndexError):
        raise ConfigError("`seeds` must be a count >= 1 (3 means seeds 0, 1, 2) or a list of distinct integers "
                          f"(0,5,7). Received: seeds={original!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"`seeds` must be a non-empty list of distinct integers. Received: seeds={original!r}")
    return seeds


def _coerce_shard(value):
    """'i/n' with 0 <= i < n: this process runs every n-th run of the grid, starting at i."""
    try:
        i, n = (int(p) for p in str(value).split("/"))
        if not 0 <= i < n:
            raise ValueError
    except ValueError:
        raise ConfigError(f"`shard` must be 'i/n' with 0 <= i < n, e.g. 0/3. Received: shard={value!r}") from None
    return f"{i}/{n}"


def _bad(key, value, expected):
    raise ConfigError(f"`{key}` must be {expected}. Received: {key}={value!r}")


def _choice(key, value, choices):
    if value not in choices:
        raise ConfigError(f"`{key}` must be one of {', '.join(map(str, choices))}. Received: {key}={value!r}")
    return value


def apply(config, updates, source):
    """Returns a copy of `config` with `updates` applied; unknown keys raise ConfigError naming `source`."""
    fields = _field_types()
    values = dataclasses.asdict(config)
    for raw_key, value in updates.items():
        key = normalize_key(str(raw_key))
        if key not in fields:
            raise ConfigError(f"Unknown configuration key {raw_key!r} in {source}.{did_you_mean(key, fields)} "
                              f"Valid keys: {', '.join(fields)}.")
        values[key] = _coerce(key, value)
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

    for task in config.tasks:
        try:
            spec = tasks.get(task).spec
        except ValueError as e:
            raise ConfigError(str(e)) from None
        for model in config.models:
            try:
                modalities = models.model_modalities(model)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            if spec.modality not in modalities:
                raise ConfigError(f"Model {model!r} does not fit task {task!r}: it supports "
                                  f"{', '.join(modalities)} tasks, {task!r} is {spec.modality}. Models for "
                                  f"{spec.modality}: {', '.join(models.list_models(spec.modality))}.")
    labels = []
    for spec in config.activations:
        try:
            relu_zoo.get(spec)
        except ValueError as e:
            raise ConfigError(f"Activation {spec!r}: {e}") from None
        labels.append(activation_label(spec))
    if len(set(labels)) != len(labels):
        raise ConfigError(f"Activations are listed twice: {labels}. Each must be distinct.")


def activation_label(spec):
    """A stable, readable label: 'leaky_relu' or 'leaky_relu:negative_slope=0.2'."""
    if isinstance(spec, str):
        name, params = parse_spec(spec)
    elif isinstance(spec, dict):
        params = {k: v for k, v in spec.items() if k != "name"}
        name = spec.get("name", "?")
    else:
        raise ConfigError(f"An activation must be a name, 'name:key=value' or a mapping. Received: {spec!r}")
    canonical, _ = resolve_activation(name)
    if not params:
        return canonical
    return canonical + ":" + ",".join(f"{k}={params[k]!r}" if isinstance(params[k], str) else f"{k}={params[k]}"
                                      for k in sorted(params))


def identity(config):
    """The parts of a config that define a sweep's results."""
    values = dataclasses.asdict(config)
    return {k: v for k, v in values.items() if k not in NON_IDENTITY_KEYS}

"""Values of the sweep configuration: conversion and checks, one key at a time, with errors that name the fix.

`relu_zoo.run.spec` applies these to every key of a config file, preset or command line.
"""

import json

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
SCHEDULES = ("constant", "cosine", "one_cycle", "linear", "airbench")
# Test-time augmentation of image tasks: the mirror image, or airbench's mirror x {0, +-1 px} translates.
TTA_MODES = ("flip", "flip_translate")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")  # auto: relu_zoo.run.precision.auto_precision
DISTRIBUTE = ("mirrored", "multi_worker")  # see relu_zoo.run.distribute.Distribution
# Keys in [0, 1): SGD momentum, the fraction of steps that warm the learning rate up, label smoothing.
FRACTION_KEYS = ("momentum", "warmup", "label_smoothing")
# Caps on examples per split: 'all' (or none, 0) for no cap.
EXAMPLE_CAPS = ("max_train_examples", "max_eval_examples")


class ConfigError(ValueError):
    """A bad configuration value or key; the message names the key, the value and the fix."""


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


def coerce(key, value, default):
    """Converts and checks the value of config key `key`, whose dataclass default is `default`."""
    if key == "seeds":
        return _coerce_seeds(value)
    if isinstance(default, list):
        items = _as_list(key, value)
        if not items:
            raise ConfigError(f"`{key}` must not be empty. Received: {key}={value!r}")
        return items
    if key in ("model_kwargs", "task_kwargs"):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ConfigError(f"`{key}` must be a JSON object, e.g. '{{\"width\": 128}}'. "
                                  f"Received: {value!r} ({e})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping. Received: {key}={value!r}")
        return dict(value)
    if key == "tta":
        # "flip" is stored as true, its spelling before the other mode existed, so stored sweeps resume.
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no", "none"):
            value = value.lower() in ("1", "true", "yes")
        if isinstance(value, bool):
            return value
        return True if _choice(key, value, TTA_MODES) == "flip" else value
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"`{key}` must be true or false. Received: {key}={value!r}")
        return value
    if key == "distribute":
        return None if value in (None, "none") else _choice(key, value, DISTRIBUTE)
    if key in ("cpu_devices", "max_seeds") and value is None:
        return None
    if key in ("epochs", "batch_size", *EXAMPLE_CAPS, "probe_examples", "cpu_devices", "max_seeds"):
        if value is None and key in EXAMPLE_CAPS:
            return None
        if isinstance(value, str) and key in EXAMPLE_CAPS and value.lower() in ("none", "all", "0"):
            return None
        try:
            number = int(value)
            if isinstance(value, bool) or number != float(value):
                raise ValueError
        except (TypeError, ValueError):
            return _bad(key, value, "an integer")
        if number < 1:
            return _bad(key, value, "an integer >= 1" + (" (or 'all')" if key in EXAMPLE_CAPS else ""))
        return number
    if key in ("learning_rate", "weight_decay", "clipnorm", "target_ci"):
        if value is None and key in ("clipnorm", "target_ci"):
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
    if key in FRACTION_KEYS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not 0 <= number < 1:
            return _bad(key, value, "a number in [0, 1)")
        return number
    if key == "precision":
        return _choice(key, value, PRECISIONS)
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
    """A count (3 -> seeds 0, 1, 2) or an explicit list ("0,5,7" or [0, 5, 7]; one seed: "7,")."""
    original = value
    try:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            value = int(parts[0]) if "," not in value else [int(p) for p in parts]
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            if value < 1:
                raise ValueError
            return list(range(value))
        seeds = [int(s) for s in value]
    except (TypeError, ValueError, IndexError):
        raise ConfigError("`seeds` must be a count >= 1 (3 means seeds 0, 1, 2) or a list of distinct integers "
                          f"(0,5,7; one seed: 7,). Received: seeds={original!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"`seeds` must be a non-empty list of distinct integers. Received: seeds={original!r}")
    return seeds


def seed_count(seeds):
    """n when `seeds` are 0, 1, ..., n-1, else None (a fixed choice of seeds).

    `seeds: 3` and `seeds: [0, 1, 2]` resolve to the same list (the spelling is not kept), and either way the
    seeds that continue it are 3, 4, ...: so such a list counts as a count. Any other list (0,5,7) names its seeds
    and has no next seed to add."""
    seeds = list(seeds)
    return len(seeds) if seeds == list(range(len(seeds))) else None


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

"""Activation registry: name -> layer class, aliases, and `get()` which builds a NEW layer per call.

Models take a *spec* (name, "name:key=value,...", config dict, class or layer)
and call `get` once per use site, so two PReLU layers never share weights.
"""

import ast
import difflib
import inspect

import keras

from relu_zoo import layers

_ACTIVATIONS = {
    "relu": layers.ReLU,
    "relu6": layers.ReLU6,
    "leaky_relu": layers.LeakyReLU,
    "prelu": layers.PReLU,
    "rrelu": layers.RReLU,
    "srelu": layers.SReLU,
    "pelu": layers.PELU,
    "apl": layers.APL,
    "swish_beta": layers.Swish,
    "elu": layers.ELU,
    "celu": layers.CELU,
    "selu": layers.SELU,
    "gelu": layers.GELU,
    "silu": layers.SiLU,
    "mish": layers.Mish,
    "softplus": layers.Softplus,
    "crelu": layers.CReLU,
}

# alias -> (name, default overrides)
_ALIASES = {
    "leaky": ("leaky_relu", {}),
    "lrelu": ("leaky_relu", {}),
    "leakyrelu": ("leaky_relu", {}),
    "parametric_relu": ("prelu", {}),
    "randomized_relu": ("rrelu", {}),
    "rrelu_xu": ("rrelu", {"lower": 3.0, "upper": 8.0, "parameterization": "inverse"}),
    "swish": ("silu", {}),
    "gelu_tanh": ("gelu", {"approximate": True}),
    "s_relu": ("srelu", {}),
}


def list_activations():
    """Names of all registered activations (aliases not included), sorted."""
    return sorted(_ACTIVATIONS)


def list_aliases():
    """Alias -> canonical name."""
    return {alias: target for alias, (target, _) in sorted(_ALIASES.items())}


def register_activation(name, layer_class):
    """Adds `layer_class` (a keras Layer subclass) under `name`."""
    if not (inspect.isclass(layer_class) and issubclass(layer_class, keras.layers.Layer)):
        raise ValueError(f"`layer_class` must be a keras.layers.Layer subclass. Received: {layer_class!r}")
    if name in _ACTIVATIONS or name in _ALIASES:
        raise ValueError(f"Activation name {name!r} is already registered.")
    _ACTIVATIONS[name] = layer_class
    return layer_class


def resolve(name):
    """Canonical name and default overrides for a name or alias; ValueError with a suggestion otherwise."""
    key = name.strip().lower().replace("-", "_")
    if key in _ACTIVATIONS:
        return key, {}
    if key in _ALIASES:
        target, defaults = _ALIASES[key]
        return target, dict(defaults)
    valid = list_activations() + sorted(_ALIASES)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown activation {name!r}.{hint} Valid names: {', '.join(list_activations())}; "
                     f"aliases: {', '.join(sorted(_ALIASES))}.")


def _parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # bare words, e.g. parameterization=inverse


def parse_spec(spec):
    """Splits "name:key=value,key=value" into (name, {key: value}); values are Python literals."""
    name, _, params = spec.partition(":")
    overrides = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Bad activation parameter {item!r} in {spec!r}: expected key=value, "
                             "e.g. 'leaky_relu:negative_slope=0.2'.")
        overrides[key.strip()] = _parse_value(value.strip())
    return name, overrides


def _instantiate(cls, config, identifier):
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        # Keras reports unknown keyword arguments itself ("Unrecognized keyword arguments ..."); add what
        # the layer does accept. Validation errors of known arguments pass through unchanged.
        if isinstance(e, ValueError) and "Unrecognized keyword arguments" not in str(e):
            raise
        params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        raise ValueError(f"Invalid parameters for activation {identifier!r}: {e}. "
                         f"{cls.__name__} accepts: {', '.join(params) or '(no parameters)'}, plus Keras layer "
                         "arguments such as name and dtype.") from None


def get(identifier, **overrides):
    """Returns a NEW activation layer for `identifier` on every call.

    Args:
        identifier: One of
            - a registered name or alias: `"prelu"`, `"leaky"`, `"swish"`;
            - a name with parameters: `"leaky_relu:negative_slope=0.2"`;
            - a dict `{"name": "leaky_relu", "negative_slope": 0.2}`, or a
              Keras serialization `{"class_name": ..., "config": ...}`;
            - a layer class (`relu_zoo.layers.PReLU`);
            - a layer instance: a fresh copy of its configuration (new,
              untrained weights; the layer name is not copied).
        **overrides: Constructor arguments that take precedence.

    Raises:
        ValueError: unknown name (the message lists valid names and the
            closest match) or invalid parameters.
    """
    if isinstance(identifier, str):
        name, params = parse_spec(identifier)
        name, defaults = resolve(name)
        return _instantiate(_ACTIVATIONS[name], {**defaults, **params, **overrides}, identifier)
    if isinstance(identifier, dict):
        if "class_name" in identifier:
            layer = keras.saving.deserialize_keras_object(identifier)
            return get(layer, **overrides)
        if "name" not in identifier:
            raise ValueError("An activation config dict needs a 'name' key (a registered activation), "
                             f"or Keras' 'class_name'/'config' form. Received: {identifier!r}")
        params = {k: v for k, v in identifier.items() if k != "name"}
        name, defaults = resolve(identifier["name"])
        return _instantiate(_ACTIVATIONS[name], {**defaults, **params, **overrides}, identifier)
    if inspect.isclass(identifier) and issubclass(identifier, keras.layers.Layer):
        return _instantiate(identifier, overrides, identifier.__name__)
    if isinstance(identifier, keras.layers.Layer):
        config = {k: v for k, v in identifier.get_config().items() if k != "name"}
        return type(identifier).from_config({**config, **overrides})
    raise ValueError(
        "Activation identifier must be a name, a 'name:key=value' string, a config dict, a Layer "
        f"class or a Layer instance. Received: {identifier!r} of type {type(identifier).__name__}"
    )


def name_of(identifier):
    """Canonical registry name of a spec (for reports), e.g. 'leaky' -> 'leaky_relu'."""
    if isinstance(identifier, str):
        return resolve(parse_spec(identifier)[0])[0]
    if isinstance(identifier, dict) and "name" in identifier:
        return resolve(identifier["name"])[0]
    cls = identifier if inspect.isclass(identifier) else type(identifier)
    for name, registered in _ACTIVATIONS.items():
        if registered is cls:
            return name
    return cls.__name__

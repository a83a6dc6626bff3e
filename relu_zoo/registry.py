"""The activation registry: `get()`, which builds a NEW layer per call, and the listings of what can be named.

Models take a *spec* (name, "name:key=value,...", plug-in, config dict, class or layer) and call `get` once per
use site, so two PReLU layers never share weights. A spec is parsed in one place,
`relu_zoo.activation_spec.ActivationSpec`; the generic `Registry` class is `relu_zoo.names.Registry`.
"""

import inspect

import keras

from relu_zoo import _deprecation, plugins
from relu_zoo.activation_spec import ACTIVATIONS, ActivationSpec, resolve, split  # noqa: F401  (resolve: public here)
from relu_zoo.classics import CLASSICS
from relu_zoo.layers.base import INITIALIZERS, Record
from relu_zoo.names import did_you_mean  # noqa: F401  (public here too: the registries' error hint)


def list_activations():
    """Names of all registered activations (aliases and the classics, `list_baselines`, not included), sorted."""
    return ACTIVATIONS.names(where=lambda record: record.name not in CLASSICS)


def list_baselines():
    """The classic saturating activations every comparison can name besides the zoo's (`relu_zoo.classics`):
    name -> the Keras function each computes."""
    return {name: f"keras.activations.{name}" for name in sorted(CLASSICS)}


def list_aliases():
    """Alias -> canonical name."""
    return ACTIVATIONS.aliases()


def register_activation(name, layer_class, family="smooth"):
    """Adds `layer_class` (a keras Layer subclass) under `name`.

    `family` chooses the kernel initializer the zoo's models use before it: "rectifier" (He normal),
    "self_normalizing" (LeCun normal), "smooth" or "gated" (Glorot uniform, Keras' default).
    """
    if not (inspect.isclass(layer_class) and issubclass(layer_class, keras.layers.Layer)):
        raise ValueError(f"`layer_class` must be a keras.layers.Layer subclass. Received: {layer_class!r}")
    if family not in INITIALIZERS:
        raise ValueError(f"`family` must be one of {', '.join(INITIALIZERS)}. Received: family={family!r}")
    ACTIVATIONS.register(name, Record(name, layer_class, None, family, derivative_text="not stated"))
    return layer_class


def family(identifier):
    """The initializer family of an activation spec (see `register_activation`); None for a plug-in or an
    unregistered layer class or instance."""
    return ActivationSpec.parse(identifier).family


def parse_spec(spec):
    """Splits "name:key=value,key=value" into (name, {key: value}), the name as given; values are Python literals.
    A plug-in spec "module:attr:key=value" gives ("module:attr", {...}) (see `relu_zoo.plugins`)."""
    return split(spec)


def plugin(name, params=None, spec=None):
    """The resolved `relu_zoo.plugins.Plugin` for a parsed spec's name: a "module:attr" target, or a name an
    installed distribution declares (group `relu_zoo.activations`) that no registered activation takes;
    None for registered and unknown names. A PluginError (a ValueError) naming the fix when it cannot be used."""
    if not isinstance(name, str) or name in ACTIVATIONS or (":" not in name and plugins.entry_point(name) is None):
        return None
    return ActivationSpec.named(name, dict(params or {}), spec or name).plugin()


def list_plugins():
    """Plug-in activations declared by installed distributions: name -> "module:attr (distribution version)",
    read from their metadata (nothing is imported). Names a registered activation takes are left out: the
    registered one wins (see `shadowed_plugins`)."""
    return {name: f"{found[0].target} ({found[0].dist})" for name, found in sorted(plugins.entry_points().items())
            if name not in ACTIVATIONS}


def shadowed_plugins():
    """Entry points whose name a registered activation takes, which therefore never resolve to them:
    name -> a message naming the target spec to use instead."""
    return {name: "; ".join(f"plug-in activation {name!r} of {ep.dist} ({ep.target}) is shadowed by the built-in "
                            f"{name!r}; use the spec {ep.target!r} to sweep it" for ep in found)
            for name, found in sorted(plugins.entry_points().items()) if name in ACTIVATIONS}


def get(identifier, **overrides):
    """Returns a NEW activation layer for `identifier` on every call.

    Args:
        identifier: One of
            - a registered name or alias: `"prelu"`, `"leaky"`, `"swish"`;
            - a name with parameters: `"leaky_relu:negative_slope=0.2"`;
            - a classic baseline: `"tanh"`, `"sigmoid"` (Keras' functions in a layer, `relu_zoo.classics`);
            - a plug-in: `"my_pkg.acts:swish2"`, `"my_pkg.acts:Swish2:beta=2"`, or a name an installed
              distribution declares in entry-point group `relu_zoo.activations` (`relu_zoo.plugins`);
            - a dict `{"name": "leaky_relu", "negative_slope": 0.2}`, or a
              Keras serialization `{"class_name": ..., "config": ...}`;
            - a layer class (`relu_zoo.layers.PReLU`);
            - a layer instance: a fresh copy of its configuration (new,
              untrained weights; the layer name is not copied);
            - a parsed `relu_zoo.activation_spec.ActivationSpec`.
        **overrides: Constructor arguments that take precedence.

    Raises:
        ValueError: unknown name (the message lists valid names and the
            closest match) or invalid parameters.
    """
    return ActivationSpec.parse(identifier).build(**overrides)


def name_of(identifier):
    """Canonical registry name of a spec (for reports), e.g. 'leaky' -> 'leaky_relu'."""
    return ActivationSpec.parse(identifier).name


__getattr__ = _deprecation.moved(__name__, {"Registry": "relu_zoo.names.Registry"})

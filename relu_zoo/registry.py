"""Registries: one small `Registry` class (names, aliases, did-you-mean errors, listing), and the activation
registry built on it, with `get()`, which builds a NEW layer per call.

Models take a *spec* (name, "name:key=value,...", config dict, class or layer)
and call `get` once per use site, so two PReLU layers never share weights.
The same `Registry` holds the models (`relu_zoo.models`), tasks
(`relu_zoo.tasks`) and sweep presets (`relu_zoo.run.spec`).
"""

import ast
import difflib
import inspect

import keras

from relu_zoo import layers  # noqa: F401  (importing the layers fills RECORDS)
from relu_zoo import plugins
from relu_zoo.layers.base import INITIALIZERS, RECORDS


def did_you_mean(name, choices):
    """" Did you mean 'x'?" for the closest of `choices` to `name`, or "" when none is close."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry:
    """Names -> entries, with aliases (a name plus default overrides) and did-you-mean errors.

    Args:
        kind: What an entry is, for messages: "activation" gives "Unknown activation 'x'".
        listing: How the valid names are introduced in that message ("Valid names", "Presets").
        normalize: Applied to a looked-up name before matching (e.g. lower-casing).
    """

    def __init__(self, kind, listing="Valid names", normalize=None):
        self.kind, self.listing = kind, listing
        self._normalize = normalize or (lambda name: name)
        self._entries, self._aliases = {}, {}

    def register(self, name, entry, overwrite=False):
        """Adds `entry` under `name`; returns the entry. A taken name is a ValueError unless `overwrite`."""
        if not overwrite and (name in self._entries or name in self._aliases):
            raise ValueError(f"{self.kind.capitalize()} {name!r} is already registered.")
        self._entries[name] = entry
        return entry

    def remove(self, name):
        """Removes `name` and the aliases that point to it (e.g. an entry a test registered)."""
        self._entries.pop(name, None)
        self._aliases = {a: (t, d) for a, (t, d) in self._aliases.items() if t != name}

    def alias(self, alias, target, **defaults):
        """Makes `alias` resolve to `target` with `defaults` as its parameters."""
        if target not in self._entries:
            raise self.unknown(target)
        self._aliases[alias] = (target, dict(defaults))

    def names(self, where=None):
        """Sorted registered names (aliases not included); `where(entry)` filters."""
        return sorted(n for n, e in self._entries.items() if where is None or where(e))

    def aliases(self):
        """Alias -> target name, sorted by alias."""
        return {alias: target for alias, (target, _) in sorted(self._aliases.items())}

    def items(self):
        return self._entries.items()

    def __contains__(self, name):
        try:
            key = self._normalize(name)
        except (AttributeError, TypeError):
            return False
        return key in self._entries or key in self._aliases

    def resolve(self, name):
        """(canonical name, default overrides) for a name or alias; a did-you-mean ValueError otherwise."""
        try:
            key = self._normalize(name)
        except (AttributeError, TypeError):
            raise self.unknown(name) from None
        if key in self._entries:
            return key, {}
        if key in self._aliases:
            target, defaults = self._aliases[key]
            return target, dict(defaults)
        raise self.unknown(name, key)

    def get(self, name):
        """The entry registered as `name` (or the entry an alias points to)."""
        return self._entries[self.resolve(name)[0]]

    def unknown(self, name, key=None):
        """The ValueError for an unknown name: the closest match and every valid name (and alias)."""
        key = name if key is None else key
        hint = did_you_mean(key, [*self._entries, *self._aliases])
        aliases = f"; aliases: {', '.join(sorted(self._aliases))}" if self._aliases else ""
        return ValueError(f"Unknown {self.kind} {name!r}.{hint} {self.listing}: {', '.join(self.names())}"
                          f"{aliases}.")


ACTIVATIONS = Registry("activation", normalize=lambda name: name.strip().lower().replace("-", "_"))
_FAMILIES = {}  # name -> initializer family (`relu_zoo.layers.base.INITIALIZERS`)
for _record in RECORDS.values():
    ACTIVATIONS.register(_record.name, _record.layer)
    _FAMILIES[_record.name] = _record.family
for _record in RECORDS.values():
    for _alias, _defaults in _record.aliases.items():
        ACTIVATIONS.alias(_alias, _record.name, **_defaults)


def list_activations():
    """Names of all registered activations (aliases not included), sorted."""
    return ACTIVATIONS.names()


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
    entry = ACTIVATIONS.register(name, layer_class)
    _FAMILIES[name] = family
    return entry


def family(identifier):
    """The initializer family of an activation spec (see `register_activation`); None for an unregistered
    layer class or instance."""
    return _FAMILIES.get(name_of(identifier))


def resolve(name):
    """Canonical name and default overrides for a name or alias; ValueError with a suggestion otherwise."""
    try:
        return ACTIVATIONS.resolve(name)
    except ValueError as e:
        if isinstance(name, str) and "." in name:  # most likely a plug-in spelled like an import path
            raise ValueError(f"{e} A plug-in activation is named 'module:attr', e.g. 'my_acts:swish2'.") from None
        raise


def _parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # bare words, e.g. parameterization=inverse


def parse_spec(spec):
    """Splits "name:key=value,key=value" into (name, {key: value}); values are Python literals. A plug-in spec
    "module:attr:key=value" gives ("module:attr", {...}) (see `relu_zoo.plugins`)."""
    name, _, params = spec.partition(":")
    target = plugins.split_target(spec)
    if target is not None and name not in ACTIVATIONS:
        name, params = target
    overrides = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Bad activation parameter {item!r} in {spec!r}: expected key=value, "
                             "e.g. 'leaky_relu:negative_slope=0.2'.")
        overrides[key.strip()] = _parse_value(value.strip())
    return name, overrides


def plugin(name, params=None, spec=None):
    """The resolved `relu_zoo.plugins.Plugin` for a parsed spec's name: a "module:attr" target, or a name an
    installed distribution declares (group `relu_zoo.activations`) that no registered activation takes;
    None for registered and unknown names. A PluginError (a ValueError) naming the fix when it cannot be used."""
    if not isinstance(name, str) or name in ACTIVATIONS:
        return None
    params, spec = params or {}, spec or name
    if ":" in name:
        return plugins.resolve(spec, name, params)
    ep = plugins.entry_point(name)
    return None if ep is None else plugins.resolve_entry_point(spec, ep, params)


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
            - a plug-in: `"my_pkg.acts:swish2"`, `"my_pkg.acts:Swish2:beta=2"`, or a name an installed
              distribution declares in entry-point group `relu_zoo.activations` (`relu_zoo.plugins`);
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
        found = plugin(name, {**params, **overrides}, identifier)
        if found is not None:
            return found.layer(identifier, **params, **overrides)
        name, defaults = resolve(name)
        return _instantiate(ACTIVATIONS.get(name), {**defaults, **params, **overrides}, identifier)
    if isinstance(identifier, dict):
        if "class_name" in identifier:
            layer = keras.saving.deserialize_keras_object(identifier)
            return get(layer, **overrides)
        if "name" not in identifier:
            raise ValueError("An activation config dict needs a 'name' key (a registered activation), "
                             f"or Keras' 'class_name'/'config' form. Received: {identifier!r}")
        params = {k: v for k, v in identifier.items() if k != "name"}
        found = plugin(identifier["name"], {**params, **overrides}, identifier["name"])
        if found is not None:
            return found.layer(identifier["name"], **params, **overrides)
        name, defaults = resolve(identifier["name"])
        return _instantiate(ACTIVATIONS.get(name), {**defaults, **params, **overrides}, identifier)
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
    if isinstance(identifier, str) or (isinstance(identifier, dict) and "name" in identifier):
        name = parse_spec(identifier)[0] if isinstance(identifier, str) else identifier["name"]
        if name not in ACTIVATIONS and (":" in name or plugins.entry_point(name) is not None):
            return name if ":" in name else plugins.normalize(name)  # a plug-in's label, without importing it
        return resolve(name)[0]
    cls = identifier if inspect.isclass(identifier) else type(identifier)
    for name, registered in ACTIVATIONS.items():
        if registered is cls:
            return name
    return cls.__name__

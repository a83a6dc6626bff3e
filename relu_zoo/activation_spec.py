"""The activation spec: an activation as a comparison names it, parsed once.

    spec = ActivationSpec.parse("leaky_relu:negative_slope=0.2")
    spec.name, spec.params, spec.source, spec.family, spec.label
    spec.build()                                  # a NEW layer on every call

`parse` takes every form relu_zoo accepts for an activation:

    "prelu", "leaky", "LReLU"                  a registered name or alias (source "zoo")
    "leaky_relu:negative_slope=0.2"            with parameters, Python literals (bare words are strings)
    "tanh", "sigmoid"                          Keras' classics (source "keras", `relu_zoo.classics`)
    "my_pkg.acts:swish2[:beta=2]"              a plug-in, `module:attr` (source "plugin", `relu_zoo.plugins`)
    "swish2"                                   a name an installed distribution declares (source "entry_point")
    {"name": "elu", "alpha": 0.5}              a config dict; Keras' {"class_name", "config"} is a layer
    relu_zoo.PReLU, relu_zoo.PReLU(...)        a layer class or instance (a registered class is source "zoo")

Parsing imports nothing: a plug-in is imported, classified and probed when it is first built. The label (what run
ids and reports print) is the canonical name, then the given parameters sorted by key: an alias's own defaults are
not in it, so "leaky" and "leaky_relu" label alike.
"""

import ast
import dataclasses
import inspect

import keras

from relu_zoo import layers  # noqa: F401  (importing the layers fills RECORDS)
from relu_zoo import plugins
from relu_zoo.classics import CLASSICS
from relu_zoo.layers.base import RECORDS
from relu_zoo.names import Registry

# Name -> `relu_zoo.layers.base.Record`: the zoo's layers, the classics and what `register_activation` adds. The
# record is the one place an activation's layer and initializer family are written.
ACTIVATIONS = Registry("activation", normalize=lambda name: name.strip().lower().replace("-", "_"))
for _record in [*RECORDS.values(), *CLASSICS.values()]:
    ACTIVATIONS.register(_record.name, _record)
for _record in RECORDS.values():
    for _alias, _defaults in _record.aliases.items():
        ACTIVATIONS.alias(_alias, _record.name, **_defaults)

# Where a spec's layer comes from. The built-in ones are what a zoo checkpoint may hold (it loads with relu_zoo alone).
SOURCES = ("zoo", "keras", "plugin", "entry_point", "layer")
BUILTIN = ("zoo", "keras")


def split(text):
    """Splits "name:key=value,key=value" into (name, {key: value}) as given (no alias resolved); values are
    Python literals. A plug-in spec "module:attr:key=value" gives ("module:attr", {...})."""
    name, _, params = text.partition(":")
    target = plugins.split_target(text)
    if target is not None and name not in ACTIVATIONS:
        name, params = target
    found = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Bad activation parameter {item!r} in {text!r}: expected key=value, "
                             "e.g. 'leaky_relu:negative_slope=0.2'.")
        found[key.strip()] = _literal(value.strip())
    return name, found


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # bare words, e.g. parameterization=inverse


def resolve(name):
    """Canonical name and default overrides of a registered name or alias; ValueError with a suggestion otherwise."""
    try:
        return ACTIVATIONS.resolve(name)
    except ValueError as e:
        if isinstance(name, str) and "." in name:  # most likely a plug-in spelled like an import path
            raise ValueError(f"{e} A plug-in activation is named 'module:attr', e.g. 'my_acts:swish2'.") from None
        raise


@dataclasses.dataclass(frozen=True)
class ActivationSpec:
    """One activation, parsed (`ActivationSpec.parse`): what it is called and where its layer comes from.

    Attributes:
        name: The canonical name: the registry's ("leaky" -> "leaky_relu"), a plug-in's "module:attr", an entry
            point's normalized name, or the class name of an unregistered layer.
        params: The constructor arguments given, e.g. {"negative_slope": 0.2} (an alias's defaults not included).
        source: One of `SOURCES`.
        given: What it was parsed from, for messages.
        defaults: An alias's default arguments, applied before `params`.
        layer_class: The layer class of a "zoo", "keras" or "layer" spec.
        instance: The layer a spec given as a layer instance copies (its configuration, not its weights or name).
        entry_point: The `relu_zoo.plugins.EntryPoint` of an "entry_point" spec.
    """

    name: str
    params: dict
    source: str
    given: object = None
    defaults: dict = dataclasses.field(default_factory=dict)
    layer_class: type = None
    instance: object = None
    entry_point: object = None

    @classmethod
    def parse(cls, identifier):
        """The spec of `identifier` (any form in this module's docstring; a spec is returned as it is). A
        ValueError for an unknown name (the message lists valid names and the closest match), a bad parameter or
        an identifier of another type."""
        if isinstance(identifier, ActivationSpec):
            return identifier
        if isinstance(identifier, str):
            name, params = split(identifier)
            return cls.named(name, params, identifier)
        if isinstance(identifier, dict):
            if "class_name" in identifier:
                return cls._of_layer(keras.saving.deserialize_keras_object(identifier), identifier)
            if "name" not in identifier:
                raise ValueError("An activation config dict needs a 'name' key (a registered activation), "
                                 f"or Keras' 'class_name'/'config' form. Received: {identifier!r}")
            return cls.named(identifier["name"], {k: v for k, v in identifier.items() if k != "name"}, identifier)
        if inspect.isclass(identifier) and issubclass(identifier, keras.layers.Layer):
            return cls._of_class(identifier, identifier)
        if isinstance(identifier, keras.layers.Layer):
            return cls._of_layer(identifier, identifier)
        raise ValueError(
            "Activation identifier must be a name, a 'name:key=value' string, a config dict, a Layer "
            f"class or a Layer instance. Received: {identifier!r} of type {type(identifier).__name__}"
        )

    @classmethod
    def named(cls, name, params=None, given=None):
        """The spec of a name (registered, alias, classic, 'module:attr' or entry point) with `params`."""
        params, given = dict(params or {}), name if given is None else given
        if isinstance(name, str) and name not in ACTIVATIONS:
            if ":" in name:
                return cls(name, params, "plugin", given)
            ep = plugins.entry_point(name)
            if ep is not None:
                return cls(plugins.normalize(name), params, "entry_point", given, entry_point=ep)
        canonical, defaults = resolve(name)
        record = ACTIVATIONS.get(canonical)
        return cls(canonical, params, "keras" if canonical in CLASSICS else "zoo", given, defaults, record.layer)

    @classmethod
    def _of_class(cls, layer_class, given, instance=None):
        for name, record in ACTIVATIONS.items():
            if record.layer is layer_class:
                return cls(name, {}, "keras" if name in CLASSICS else "zoo", given, layer_class=layer_class,
                           instance=instance)
        return cls(layer_class.__name__, {}, "layer", given, layer_class=layer_class, instance=instance)

    @classmethod
    def _of_layer(cls, layer, given):
        return cls._of_class(type(layer), given, layer)

    @property
    def builtin(self):
        """Whether the layer comes with relu_zoo (a zoo layer or a classic), so a model holding it loads without
        other code."""
        return self.source in BUILTIN

    @property
    def family(self):
        """The initializer family of the activation's record (`relu_zoo.layers.base.INITIALIZERS`); None for a
        plug-in or an unregistered layer."""
        return ACTIVATIONS.get(self.name).family if self.source in BUILTIN else None

    @property
    def ranks(self):
        """The input ranks the activation's layer takes (its record's `ranks`, for one that draws on each element's
        context); None where it takes any rank, or for a plug-in or an unregistered layer, whose ranks no record
        states."""
        return ACTIVATIONS.get(self.name).ranks if self.source in BUILTIN else None

    @property
    def label(self):
        """A stable, readable label: 'leaky_relu' or 'leaky_relu:negative_slope=0.2'; a plug-in's 'module:attr'
        (with its parameters) or entry-point name. Run ids and reports are made of it."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                                          for k, v in sorted(self.params.items()))

    @property
    def _text(self):
        """The user's spelling for a plug-in's messages: the string given, or a dict's name."""
        return self.given["name"] if isinstance(self.given, dict) else self.given

    def plugin(self, **overrides):
        """The resolved `relu_zoo.plugins.Plugin` of a "plugin" or "entry_point" spec (imported, classified and
        probed once with its parameters), None for any other source; a PluginError naming the fix."""
        params = {**self.params, **overrides}
        if self.source == "plugin":
            return plugins.resolve(self._text, self.name, params)
        if self.source == "entry_point":
            return plugins.resolve_entry_point(self._text, self.entry_point, params)
        return None

    def build(self, **overrides):
        """A NEW layer on every call; `overrides` are constructor arguments that take precedence."""
        if self.source in ("plugin", "entry_point"):
            return self.plugin(**overrides).layer(self._text, **{**self.params, **overrides})
        if self.instance is not None:
            # A copy of the configuration: new, untrained weights, and not the layer's name.
            config = {k: v for k, v in self.instance.get_config().items() if k != "name"}
            return self.layer_class.from_config({**config, **overrides})
        given = self.given.__name__ if inspect.isclass(self.given) else self.given
        return _instantiate(self.layer_class, {**self.defaults, **self.params, **overrides}, given)


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

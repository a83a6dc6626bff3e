"""Activations from outside relu_zoo: `module:attr` specs and the `relu_zoo.activations` entry points.

A plug-in is a plain function (tensor -> tensor, wrapped in `keras.layers.Activation`), a Keras layer class
(a new instance per use) or a factory (a callable taking no positional argument that returns a new layer).

    my_pkg.acts:swish2                  attr of an importable module (installed, on PYTHONPATH, or in the
                                        current folder, as with `python -m`)
    my_pkg.acts:Swish2:beta=2,gamma=1   constructor arguments of a class or factory, as for built-ins
    swish2                              a name declared by an installed distribution:
                                        [project.entry-points."relu_zoo.activations"] swish2 = "my_pkg.acts:swish2"

A spec is a plug-in target when the text before its first ':' is a dotted module path that is not a registered
activation, and the text after it is an identifier (with no '='): `leaky_relu:negative_slope=0.2` stays a
built-in with parameters. Every plug-in is checked once on a probe tensor (shape kept, finite values, the layer
serializes) before a sweep trains, and registered with Keras' serialization under its module's name, so a model
holding it saves and loads (`safe_mode=True`) in a process that has resolved the spec.

Entry points are read from the installed distributions' metadata only: a broken one breaks nothing until used.
"""

import dataclasses
import difflib
import importlib
import importlib.metadata
import inspect
import os
import re
import sys

import keras
import numpy as np

GROUP = "relu_zoo.activations"
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*"
_TARGET = re.compile(rf"\s*(?P<module>{_DOTTED}):(?P<attr>{_DOTTED})\s*(?::(?P<params>.*))?\Z", re.S)
PROBE_SHAPE = (2, 4, 4, 3)


class PluginError(ValueError):
    """A plug-in activation that cannot be used; the message names the spec and the fix."""


def split_target(spec):
    """("module:attr", params text) when `spec` has the plug-in form, else None (a name, maybe with
    'key=value' parameters). Whether the module part is a registered activation is the registry's to decide."""
    match = _TARGET.match(spec) if isinstance(spec, str) else None
    if match is None:
        return None
    return f"{match['module']}:{match['attr']}", match["params"] or ""


def normalize(name):
    """Entry-point names match the way registered names do: case, '-' and '_' alike."""
    return name.strip().lower().replace("-", "_")


@dataclasses.dataclass(frozen=True)
class EntryPoint:
    name: str    # normalized, as looked up
    target: str  # "module:attr"
    dist: str    # "my-pkg 0.1", for listings and messages


_DISCOVERED = {}  # tuple(sys.path) -> {name: [EntryPoint, ...]}


def entry_points():
    """name -> the entry points of group `relu_zoo.activations` declaring it (normally one), read from the
    installed metadata; nothing is imported. Cached per `sys.path`."""
    key = tuple(sys.path)
    if key not in _DISCOVERED:
        found = {}
        for ep in importlib.metadata.entry_points(group=GROUP):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unnamed distribution"
            found.setdefault(normalize(ep.name), []).append(EntryPoint(normalize(ep.name), ep.value.strip(), dist))
        _DISCOVERED.clear()
        _DISCOVERED[key] = found
    return _DISCOVERED[key]


def entry_point(name):
    """The one entry point declaring `name`, None when none does; a PluginError when two distributions do."""
    found = entry_points().get(normalize(name)) if isinstance(name, str) else None
    if not found:
        return None
    if len(found) > 1:
        raise PluginError(f"Activation plug-in {name!r} is declared by {len(found)} distributions "
                          f"({'; '.join(f'{e.dist}: {e.target}' for e in found)}). Use the target you mean "
                          f"as the spec, e.g. {found[0].target!r}, or uninstall one of them.")
    return found[0]


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A resolved plug-in: `layer(**params)` builds a new layer."""

    name: str    # its label in reports: the "module:attr" spec, or the entry point's name
    target: str  # "module:attr"
    obj: object
    kind: str    # "function", "class" or "factory"
    dist: str = None

    def layer(self, spec, **params):
        if self.kind == "function":
            if params:
                raise PluginError(f"Activation {spec!r}: {self.target} is a function, which takes no parameters "
                                  f"(received {', '.join(params)}). Make it a layer class or a factory returning a "
                                  "layer to give it constructor arguments.")
            return keras.layers.Activation(self.obj)
        try:
            layer = self.obj(**params)
        except (TypeError, ValueError) as e:
            # Keras reports unknown keyword arguments as a ValueError ("Unrecognized keyword arguments ...").
            detail = _detail(e)
            fix = (f" Pass the parameters it accepts: {_signature(self.obj)}." if isinstance(e, TypeError)
                   or "Unrecognized keyword" in detail else "")
            raise PluginError(f"Activation {spec!r}: {self.target}({_arguments(params)}) failed ({detail}).{fix}"
                              ) from None
        if not isinstance(layer, keras.layers.Layer):
            raise PluginError(f"Activation {spec!r}: the factory {self.target} returned {type(layer).__name__}, "
                              "not a keras.layers.Layer. Return a new layer, or make it a function tensor -> "
                              "tensor (a function must take the tensor as its first positional argument).")
        return layer


def _detail(error):
    """An exception's message on one line; of an error Keras re-raised from a layer's call, the original one
    (which Keras sets in bold between lines about the call)."""
    text = str(error)
    bold = re.search(r"\x1b\[1m(.*?)\x1b\[0m", text, re.S)
    text = re.sub(r"\x1b\[[0-9;]*m", "", bold.group(1) if bold else text)
    return " ".join(text.split())[:300] or type(error).__name__


def _arguments(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(unknown signature)"


def output_shape(layer, input_shape):
    """`layer.compute_output_shape(input_shape)`; for a layer that does not implement it (a plug-in's need not:
    Keras infers shapes by tracing `call`), the shape of a symbolic call, which adds no node to any graph."""
    try:
        return tuple(layer.compute_output_shape(tuple(input_shape)))
    except NotImplementedError:
        if not layer.built:
            layer.build(tuple(input_shape))
        return tuple(layer.compute_output_spec(keras.KerasTensor(tuple(input_shape))).shape)


_LAYER_CLASSES = set()  # layer classes that plug-ins made: what the diagnostics probe besides relu_zoo's own


def layer_classes():
    return tuple(_LAYER_CLASSES)


def _import(spec, module_name):
    # The current folder is searched last, as `python -m` searches it first: a file next to the command works
    # with `relu-zoo train`, whose sys.path does not hold it, and cannot shadow an installed module.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(module_name)
    except Exception as e:  # an ImportError, or any error the module's own code raises while importing
        detail = _detail(e)
        fix = ("Install the package that provides it, or put its folder on PYTHONPATH"
               if isinstance(e, ImportError) else "Fix the module so that it imports")
        raise PluginError(f"Activation {spec!r}: cannot import module {module_name!r} ({type(e).__name__}: "
                          f"{detail}). {fix}.") from None


def _attribute(spec, module, attr):
    obj = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            owner = module.__name__ + "".join("." + p for p in attr.split(".")[:i])
            public = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise PluginError(f"Activation {spec!r}: {owner!r} has no attribute {part!r}.{hint} Name a function, "
                              "a layer class or a factory defined there.")
        obj = getattr(obj, part)
    return obj


def _kind(spec, target, obj):
    if inspect.isclass(obj):
        if not issubclass(obj, keras.layers.Layer):
            raise PluginError(f"Activation {spec!r}: {target} is a class but not a keras.layers.Layer subclass. "
                              "Subclass keras.layers.Layer, or name a function tensor -> tensor.")
        return "class"
    if not callable(obj):
        raise PluginError(f"Activation {spec!r}: {target} is not callable (it is of type {type(obj).__name__}). Name a "
                          "function tensor -> tensor, a keras.layers.Layer subclass or a factory returning a layer.")
    if getattr(obj, "__name__", None) == "<lambda>":
        raise PluginError(f"Activation {spec!r}: {target} is a lambda, which Keras cannot save by name. Define it "
                          "with `def`.")
    try:
        inspect.signature(obj).bind()
        return "factory"  # callable without arguments: it makes layers
    except TypeError:
        return "function"  # needs the tensor
    except ValueError:  # no signature to read (a builtin): a function of the tensor
        return "function"


def _register(obj, module_name, name):
    """Registers `obj` with Keras' serialization as '<module>><name>' unless its author registered it, so a
    model holding it serializes by that name and loads in safe mode where the plug-in was resolved."""
    # Keras' own objects serialize by their names already; registering them would rename them for everyone.
    owner = getattr(obj, "__module__", None) or ""
    if owner.split(".")[0] == "keras":
        return
    registered = keras.saving.get_registered_name(obj)
    # Not registered, or its name since taken by a redefinition of the same attribute (a notebook cell run again).
    if registered == getattr(obj, "__name__", None) or keras.saving.get_registered_object(registered) is not obj:
        keras.saving.register_keras_serializable(package=module_name, name=name)(obj)


def _probe(spec, plugin, params):
    """Builds the plug-in's layer twice and calls it on a probe tensor: a new layer per call, shape kept,
    finite values, a Keras config that deserializes. A PluginError naming the failure otherwise."""
    first = plugin.layer(spec, **params)
    if plugin.layer(spec, **params) is first:
        raise PluginError(f"Activation {spec!r}: {plugin.target} returned the same layer twice. Models need a new "
                          "layer per use (a shared layer shares its weights); create it inside the factory.")
    if plugin.kind != "function":
        _register(type(first), type(first).__module__, type(first).__qualname__)
        _LAYER_CLASSES.add(type(first))
    x = np.linspace(-3.0, 3.0, int(np.prod(PROBE_SHAPE)), dtype="float32").reshape(PROBE_SHAPE)
    try:
        y = keras.ops.convert_to_numpy(first(x))
    except Exception as e:  # whatever the plug-in's own code raises
        detail = _detail(e)
        raise PluginError(f"Activation {spec!r} fails on a float32 probe tensor of shape {PROBE_SHAPE} "
                          f"({type(e).__name__}: {detail}). An activation takes a float tensor and returns one "
                          "of the same shape.") from None
    if tuple(y.shape) != PROBE_SHAPE:
        raise PluginError(f"Activation {spec!r} is not shape-preserving: a probe tensor of shape {PROBE_SHAPE} "
                          f"became {tuple(y.shape)}. The zoo's models need an elementwise activation.")
    if not np.all(np.isfinite(y)):
        raise PluginError(f"Activation {spec!r} returns non-finite values (nan or inf) on probe inputs in [-3, 3]. "
                          "Fix its formula.")
    try:
        keras.layers.deserialize(keras.layers.serialize(first))
    except Exception as e:  # serialization errors come in many types
        detail = _detail(e)
        raise PluginError(f"Activation {spec!r}: its layer cannot be saved and loaded by Keras ({type(e).__name__}: "
                          f"{detail}). Give the layer a get_config() returning its constructor's arguments.") from None


_RESOLVED = {}  # (target, params) -> Plugin, probed once


def resolve(spec, target, params, name=None, dist=None):
    """The `Plugin` of "module:attr" `target`, imported, classified, registered and probed once with
    `params`; `spec` is the user's spelling, for messages. A PluginError naming the fix otherwise."""
    key = (target, repr(sorted(params.items())))
    module_name, _, attr = target.partition(":")
    obj = _attribute(spec, _import(spec, module_name), attr)
    # Looked up every time (the import is cached): a notebook that redefines `swish2` gets the new one.
    if key not in _RESOLVED or _RESOLVED[key].obj is not obj:
        kind = _kind(spec, target, obj)
        if kind == "function":
            _register(obj, module_name, attr)
        plugin = Plugin(name or target, target, obj, kind, dist)
        _probe(spec, plugin, params)
        _RESOLVED[key] = plugin
    plugin = _RESOLVED[key]
    return dataclasses.replace(plugin, name=name or target, dist=dist)


def resolve_entry_point(spec, ep, params):
    """The `Plugin` an entry point declares, named by the entry point."""
    if split_target(ep.target) is None or split_target(ep.target)[1]:
        raise PluginError(f"Activation {spec!r}: the entry point {ep.name} = {ep.target!r} of {ep.dist} is not "
                          "'module:attr'. Fix the distribution's entry point (group relu_zoo.activations).")
    try:
        return resolve(spec, split_target(ep.target)[0], params, name=ep.name, dist=ep.dist)
    except PluginError as e:
        prefix = f"Activation {spec!r}"
        rest = str(e)[len(prefix):] if str(e).startswith(prefix) else f": {e}"
        raise PluginError(f"{prefix} (entry point {ep.name} = {ep.target} of {ep.dist}){rest}") from None


def spec_of(obj):
    """The "module:qualname" spec naming a Python function, layer class or factory, checked to name `obj`
    itself. Objects defined in a notebook or script are named `__main__:name`: resolvable in that process."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise PluginError(f"Activation {obj!r} has no importable name ({module}:{qualname}). Define it at the top "
                          "level of a module (or of the notebook), or pass its 'module:attr' spec.")
    spec = f"{module}:{qualname}"
    owner = sys.modules.get(module)
    found = owner
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not obj:
        raise PluginError(f"Activation {obj!r}: {spec!r} does not name it (it was redefined or renamed). Pass the "
                          "object that module defines, or its 'module:attr' spec.")
    return spec

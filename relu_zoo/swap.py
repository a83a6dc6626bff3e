"""Swap the activations of any Sequential or functional Keras model, keeping every other weight.

    import keras, relu_zoo
    model = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10)
    relu_zoo.count_activations(model)                    # {'relu': 49, 'softmax': 1}
    swapped = relu_zoo.swap_activations(model, "prelu")  # a new model; `model` is untouched
    relu_zoo.count_activations(swapped)                  # {'prelu': 49, 'softmax': 1}

An *activation site* is one of

- `kind="layer"`: an activation layer: `keras.layers.Activation`, Keras' `ReLU` / `LeakyReLU` / `PReLU` /
  `ELU` / `Softmax`, or a relu_zoo layer. A Keras or relu_zoo `ReLU` with `max_value=6` (and no other
  change) is "relu6", a Keras `ReLU` with a `negative_slope` is "leaky_relu".
- `kind="argument"`: the `activation=` argument of a `Dense`, `EinsumDense` or convolution layer. Swapping
  splits it: the layer with `activation="linear"` (same weights), then the new activation layer, named
  `<layer>_<activation>`. (Recurrent layers apply their `activation` inside the recurrence; there is nothing
  to split, so they are not sites.)
- `kind="op"`: an activation function applied to a tensor in a functional model, e.g. `keras.ops.relu(x)`.

Sites are found in the model's graph, including nested Sequential and functional models, whose paths
are `outer/inner/layer`. A layer written as Python code (a subclassed `keras.Model` or a custom layer
that creates its activation in `__init__`) is opaque: it is copied with its weights, untouched.

The copy is made with `keras.models.clone_model` for functional models (a `clone_function` that builds
each replacement and a `call_function` that inserts the split-off activations) and rebuilt layer by layer
for Sequential ones (`clone_model` cannot insert layers into a Sequential); every layer that is kept gets
the weights of its original with `set_weights`. `relu_zoo.finetune` fine-tunes a swapped zoo checkpoint.
"""

import collections
import re

import keras

from relu_zoo import _compat, registry

# The layers whose `activation=` is applied last, to the layer's output, so it can be split off.
# Subclasses count too (isinstance).
_SPLITTABLE = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)

Site = collections.namedtuple("Site", ["path", "kind", "name", "class_name"])
Site.__doc__ = """One activation site: `path` ("outer/inner/layer"), `kind` ("layer", "argument" or "op"),
`name` (canonical activation name, e.g. "relu", "relu6", "prelu"), `class_name` (the layer or op class)."""


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _canonical(name):
    """Registry name for relu_zoo names and aliases ("leaky" -> "leaky_relu", "swish" -> "silu"), else the
    lowercased name (Keras-only activations such as "tanh", "softmax")."""
    key = name.strip().lower().replace("-", "_")
    try:
        return registry.resolve(key)[0]
    except ValueError:
        return key


def _function_name(fn):
    """Canonical name of an activation function (`keras.activations.relu` -> "relu"), or None."""
    try:
        serialized = keras.activations.serialize(fn)
    except (ValueError, TypeError):
        serialized = None
    if isinstance(serialized, str):
        return _canonical(serialized)
    name = getattr(fn, "__name__", None)
    return _canonical(name) if name and name != "<lambda>" else None


def _relu_name(max_value, negative_slope=0.0, threshold=0.0):
    if negative_slope:
        return "leaky_relu"
    if max_value is not None and float(max_value) == 6.0 and not threshold:
        return "relu6"
    return "relu"


def _layer_activation(layer):
    """Canonical name of the activation an activation layer computes, or None for any other layer."""
    if isinstance(layer, keras.layers.Activation):
        return _function_name(layer.activation)
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return _relu_name(config["max_value"], config["negative_slope"], config["threshold"])
    keras_layers = {keras.layers.LeakyReLU: "leaky_relu", keras.layers.PReLU: "prelu", keras.layers.ELU: "elu",
                    keras.layers.Softmax: "softmax"}
    for cls, name in keras_layers.items():
        if isinstance(layer, cls):
            return name
    name = registry.name_of(layer)
    if name not in registry.list_activations():
        return None
    if name == "relu":
        return _relu_name(layer.max_value, threshold=layer.threshold)
    return name


def _op_activation(op):
    """Canonical name of a Keras activation op in a functional graph (`keras.ops.relu(x)`), or None."""
    if not _compat.is_keras_nn_op(op):
        return None
    name = _snake(type(op).__name__)
    try:
        keras.activations.get(name)
    except ValueError:
        return None
    return _canonical(name)


def _site_of(operation):
    """(kind, name) of the activation site an operation of a graph is, or None."""
    if isinstance(operation, keras.layers.InputLayer) or _is_graph_model(operation):
        return None
    if isinstance(operation, keras.layers.Layer):
        name = _layer_activation(operation)
        if name is not None:
            return "layer", name
        if isinstance(operation, _SPLITTABLE):
            name = _function_name(operation.activation)
            # `activation=None` is "linear": no activation, not a site.
            if name not in (None, "linear"):
                return "argument", name
        return None
    name = _op_activation(operation)
    return ("op", name) if name is not None else None


def _is_graph_model(layer):
    """Sequential or functional: a model whose layer graph is data, not Python code."""
    if isinstance(layer, keras.Sequential):
        return True
    if not isinstance(layer, keras.Model):
        return False
    try:
        return layer.inputs is not None and layer.outputs is not None and hasattr(layer, "operations")
    except AttributeError:
        return False


def _check_graph_model(model, function):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`{function}` needs a keras.Model. Received: model={model!r} of type "
                         f"{type(model).__name__}")
    if not _is_graph_model(model):
        raise ValueError(
            f"`{function}` cannot work on model {model.name!r} of class {type(model).__name__}: it is a "
            "subclassed keras.Model, its "
            "`call()` is Python code, so there is no layer graph to find or clone the activations in. Either "
            "give the model's constructor an activation argument and build it with `relu_zoo.get(spec)` "
            "once per use, or write it as a functional or Sequential model (or swap the functional / "
            "Sequential sub-models it is made of, before composing them).")


def _graph_operations(model):
    return model.layers if isinstance(model, keras.Sequential) else model.operations


def _walk(model, prefix=""):
    """Every activation site of `model`, nested models included, in graph order."""
    for op in _graph_operations(model):
        path = prefix + op.name
        if _is_graph_model(op):
            yield from _walk(op, path + "/")
            continue
        site = _site_of(op)
        if site is not None:
            yield Site(path, site[0], site[1], type(op).__name__)


def _matcher(match):
    if isinstance(match, str):
        match = (match,)
    match = tuple(match)
    if not match or not all(isinstance(m, str) for m in match):
        raise ValueError(f"`match` must be an activation name or a non-empty list of names. Received: "
                         f"match={match!r}")
    names = set()
    for m in match:
        name = _canonical(m)
        known = name in registry.list_activations()
        if not known:
            try:
                keras.activations.get(name)
                known = True
            except ValueError:
                known = False
        if not known:
            raise ValueError(f"Unknown activation {m!r} in `match`. Use relu_zoo names "
                             f"({', '.join(registry.list_activations())}) or Keras activation names "
                             f"(e.g. 'tanh', 'softmax'). Received: match={match!r}")
        names.add(name)
    return names


def _where(where):
    if where is None:
        return lambda path: True
    if isinstance(where, str):
        pattern = re.compile(where)
        return lambda path: pattern.search(path) is not None
    if callable(where):
        return where
    raise ValueError(f"`where` must be None, a callable `path -> bool` or a regular expression string. "
                     f"Received: where={where!r}")


def activation_sites(model):
    """Every activation site of a Sequential or functional model, as a list of `Site`s in graph order.

    A shared layer is one site (it is listed once however often it is called).

    Raises:
        ValueError: `model` is a subclassed model (no graph to inspect).
    """
    _check_graph_model(model, "activation_sites")
    return list(_walk(model))


def count_activations(model, match=None, where=None):
    """How many activation sites of each kind a model has: `{name: count}`, most frequent first.

    With `match` (and `where`) it counts what `swap_activations(model, to, match=..., where=...)` would
    replace. `activation_sites(model)` lists the sites with their paths.

    Args:
        model: A Sequential or functional Keras model (nested models included).
        match: None for every site, or activation names as in `swap_activations`.
        where: As in `swap_activations`.

    Example:

    >>> x = keras.Input((4,))
    >>> y = keras.layers.Dense(3, activation="relu")(x)
    >>> count_activations(keras.Model(x, keras.layers.Activation("relu")(y)))
    {'relu': 2}
    """
    _check_graph_model(model, "count_activations")
    names = None if match is None else _matcher(match)
    keep = _where(where)
    counts = collections.Counter(site.name for site in _walk(model)
                                 if (names is None or site.name in names) and keep(site.path))
    return dict(counts.most_common())


class _Swapper:
    """One swap of one (possibly nested) model: builds replacements and remembers what to copy."""

    def __init__(self, to, names, keep, to_name):
        self.to = to
        self.names = names
        self.keep = keep
        self.to_name = to_name
        self.copies = []  # (original layer, clone) whose weights are copied once the clone is built
        self.split = {}  # id(clone with a linear activation) -> the activation layer to call after it
        self.replaced_ops = set()  # ids of layers that replace a (non-layer) activation op

    def new_activation(self, site_layer, name):
        overrides = {"name": name}
        if isinstance(site_layer, keras.layers.Layer):
            # The replacement computes in the precision of what it replaces and follows its freezing.
            overrides.update(dtype=site_layer.dtype_policy, trainable=site_layer.trainable)
        return registry.get(self.to, **overrides)

    def clone(self, operation, path, used_names):
        if _is_graph_model(operation):
            return _swap(operation, self.to, self.names, self.keep, self.to_name, path + "/")
        site = _site_of(operation)
        matched = site is not None and site[1] in self.names and self.keep(path)
        if not isinstance(operation, keras.layers.Layer):
            if matched:
                new = self.new_activation(operation, operation.name)
                self.replaced_ops.add(id(new))
                return new
            return operation  # a stateless op: nothing to copy
        if matched and site[0] == "layer":
            return self.new_activation(operation, operation.name)
        config = operation.get_config()
        if matched:
            config["activation"] = "linear"
        try:
            new = type(operation).from_config(config)
        except Exception as e:
            raise ValueError(f"Cannot copy layer {path!r} ({type(operation).__name__}): its `from_config("
                             f"get_config())` fails, so it cannot be cloned: {e}") from e
        self.copies.append((operation, new))
        if matched:
            self.split[id(new)] = self.new_activation(
                operation, _unique(f"{operation.name}_{self.to_name}", used_names))
        return new

    def call(self, layer, *args, **kwargs):
        if id(layer) in self.replaced_ops:
            if len(args) != 1 or kwargs:
                raise ValueError(f"Cannot replace the activation op {layer.name!r}: it was called with extra "
                                 "arguments, a layer takes one tensor.")
            return layer(args[0])
        outputs = layer(*args, **kwargs)
        activation = self.split.get(id(layer))
        # A shared layer is one site: all of its calls share one activation layer, as they shared one
        # activation function.
        return outputs if activation is None else activation(outputs)

    def copy_weights(self):
        for original, new in self.copies:
            if original.weights:
                new.set_weights(original.get_weights())


def _unique(name, used):
    candidate, i = name, 1
    while candidate in used:
        candidate, i = f"{name}_{i}", i + 1
    used.add(candidate)
    return candidate


def _swap(model, to, names, keep, to_name, prefix):
    swapper = _Swapper(to, names, keep, to_name)
    used = {op.name for op in _graph_operations(model)}
    if isinstance(model, keras.Sequential):
        layers = []
        for layer in model.layers:
            new = swapper.clone(layer, prefix + layer.name, used)
            layers.append(new)
            if id(new) in swapper.split:
                layers.append(swapper.split[id(new)])
        if model.built:
            x = model.inputs[0]
            layers.insert(0, keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x.name))
        new_model = keras.Sequential(layers, name=model.name, trainable=model.trainable)
        if model.compiled:
            new_model.compile_from_config(model.get_compile_config())
    else:
        new_model = keras.models.clone_model(
            model,
            clone_function=lambda op: swapper.clone(op, prefix + op.name, used),
            call_function=swapper.call,
        )
        if not model.trainable:
            new_model.trainable = False
    swapper.copy_weights()
    return new_model


def swap_activations(model, to, *, match=("relu",), where=None):
    """A copy of `model` with its matching activations replaced by new `to` layers, all other weights kept.

    Args:
        model: A Sequential or functional Keras model (`keras.applications`, keras-hub functional
            backbones, your own); nested Sequential / functional models are swapped too. The model is not
            changed.
        to: Any activation spec `relu_zoo.get` accepts: "prelu", "leaky_relu:negative_slope=0.2", a dict, a
            layer class or layer. Every replaced site gets its own new layer (no shared PReLU slopes), with
            the replaced layer's dtype policy and `trainable` flag. A replaced activation layer keeps its
            name; an activation split off a `Dense`/`Conv` layer is named `<layer>_<to>`.
        match: Activation names to replace (aliases accepted): see the module docstring for what counts as
            a site. Default `("relu",)`: plain ReLUs only, not "relu6" or "leaky_relu".
        where: Optional restriction to some sites: a callable `path -> bool` or a regular expression
            searched in the path. Paths are layer names, `outer/inner/layer` inside nested models
            (`activation_sites(model)` lists them).

    Returns:
        A new model of the same kind (Sequential stays Sequential), compiled like `model` if it was.

    Raises:
        ValueError: `model` is a subclassed model, `to` or `match` is invalid.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")])
    >>> swapped = swap_activations(model, "prelu")
    >>> [type(layer).__name__ for layer in swapped.layers]
    ['Dense', 'PReLU']
    """
    _check_graph_model(model, "swap_activations")
    # An invalid spec fails before anything is cloned.
    probe = registry.get(to)
    if tuple(probe.compute_output_shape((None, 4, 8))) != (None, 4, 8):
        raise ValueError(f"`to` must keep the shape of its input to replace an activation in place; "
                         f"{type(probe).__name__} maps (None, 4, 8) to {probe.compute_output_shape((None, 4, 8))}. "
                         f"Received: to={to!r}")
    to_name = registry.name_of(type(probe))
    return _swap(model, to, _matcher(match), _where(where), to_name, "")




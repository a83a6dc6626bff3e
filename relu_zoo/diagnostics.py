"""Activation diagnostics as a Keras callback, usable in anyone's `fit`.

    probe = next(iter(val_ds))[0][:256]
    diag = relu_zoo.diagnostics.ActivationDiagnostics(probe, probe_labels)
    model.fit(..., callbacks=[diag])
    diag.history  # one record per epoch (epoch -1 = before training)

Per activation layer, on a fixed probe batch, in inference mode, with a unit being one channel (the last
axis) of the layer's output, pooled over the probe examples and any spatial/time positions:

- `never_active_fraction`: fraction of units whose output is never > 0 on any probe input. For ReLU this is
  the unit that passes no gradient; for leaky_relu, PReLU, RReLU, ELU, SELU, … such a unit still passes
  gradient through its negative part, so it is not dead.
- `dead_fraction`: fraction of units through which no gradient flows for any probe input — the "dying ReLU"
  of Maas et al. 2013 / Lu et al. 2019: the local derivative d out / d in of the activation, evaluated on
  the input the layer received, is exactly 0 (in float32, as autodiff computes it) at every probe input.
  For relu that is input <= 0 everywhere (the derivative chosen at 0 is 0); for leaky_relu or PReLU with a
  nonzero slope it cannot happen; for ELU and the smooth ones only where the derivative underflows.
  Elementwise layers: d out_j / d in_j. Layers whose output unit depends on several inputs of the same
  position (CReLU, whose 2C outputs read C inputs; the gated units GLU, ReGLU, GEGLU, SwiGLU, bilinear, whose
  C outputs read 2C inputs; softmax): per output unit j, every d out_j / d in_k is 0. A layer whose input
  and output cannot be captured (not called exactly once in a functional graph) gets neither metric.
- `sparsity`: fraction of outputs that are exactly 0.
- `variance`: variance of the layer's outputs over all probe examples and units (He et al. 2015 §2.2 keep it
  from shrinking or growing with depth).
- `grad_norm`: L2 norm of d(loss)/d(layer output) on the probe batch, mean
  over examples — how much gradient reaches the layer (vanishing gradients
  show up as norms shrinking towards the input).
- `index`: the layer's position in call order (input side first).
- `params`: for learnable activations, mean/min/max of each parameter (e.g.
  the PReLU slopes, to compare with He et al. 2015 §4.2 where early layers
  learn larger slopes).

Records written before the two unit metrics were separated hold only `dead_fraction`, which then meant
never active: `unit_fractions(entry)` reads either kind.

Activation layers inside recurrent cells have no per-step output to probe;
only their parameters are recorded. On TensorFlow the statistics are one `tf.function` with `tf.GradientTape`;
on JAX and PyTorch they are computed eagerly with the backend's own autodiff (`jax.grad`,
`torch.autograd`), the same numbers except `grad_norm`, which needs the gradient at a layer's output inside
the model and is recorded as `None` there.
"""

import functools

import numpy as np
import keras

from relu_zoo import _logs
from relu_zoo import layers as zoo_layers
from relu_zoo import plugins

_ACTIVATION_TYPES = tuple(getattr(zoo_layers, name) for name in zoo_layers.__all__ if name != "MinValue") + (
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Activation,
)


def sublayers(layer):
    """The layers directly inside `layer`, in the order they were assigned: a model's `layers`, else the
    layers held in its public attributes (an RNN's `cell`, a Bidirectional's `forward_layer`, a cell's own
    activation), also inside lists, tuples and dicts."""
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    found = []

    def visit(value):
        if isinstance(value, keras.layers.Layer):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    # On the torch backend a layer is a torch.nn.Module, which keeps the layers assigned to it out of `vars()`.
    children = dict(layer.named_children()) if hasattr(layer, "named_children") else {}
    for name, value in {**vars(layer), **children}.items():
        if not name.startswith("_"):
            visit(value)
    return found


def all_layers(model):
    """Every layer nested in `model` (not `model` itself), depth first in assignment order, each once."""
    seen, ordered = {id(model)}, []

    def walk(layer):
        for sub in sublayers(layer):
            if id(sub) not in seen:
                seen.add(id(sub))
                ordered.append(sub)
                walk(sub)

    walk(model)
    return ordered


def activation_layers(model):
    """All activation layers in `model`, nested ones (sub-models, RNN cells) included, in call order; plug-in
    activations' layers (relu_zoo.plugins) too."""
    types = _ACTIVATION_TYPES + plugins.layer_classes()
    return [layer for layer in all_layers(model) if isinstance(layer, types)]


# Keras `Activation` functions that mix the channels of a position (everything else it wraps is elementwise).
_MIXING_FUNCTIONS = frozenset({"softmax", "log_softmax"})


def is_elementwise(layer, input_shape):
    """Whether output unit j of `layer` reads input unit j only (shape kept, no channel mixing)."""
    if isinstance(layer, keras.layers.Activation):
        if getattr(layer.activation, "__name__", "") in _MIXING_FUNCTIONS:
            return False
    return plugins.output_shape(layer, input_shape) == tuple(input_shape)


def _float_tensor(inputs):
    """`inputs` as a tensor autodiff can differentiate with respect to (integer inputs cast to float32)."""
    if keras.backend.backend() != "tensorflow":
        x = keras.ops.convert_to_tensor(keras.ops.convert_to_numpy(inputs))
        return x if "float" in keras.backend.standardize_dtype(x.dtype) else keras.ops.cast(x, "float32")
    import tensorflow as tf

    x = tf.convert_to_tensor(inputs)
    return x if x.dtype.is_floating else tf.cast(x, "float32")


def gradient_of_sum(fn, x):
    """d sum(fn(x)) / d x as NumPy, eagerly, by the backend's own autodiff (`tf.GradientTape`, `jax.grad`,
    `torch.autograd`); `x` a float array or tensor."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: keras.ops.sum(fn(x)))(keras.ops.convert_to_tensor(x)))
    if backend == "torch":
        import torch

        x = keras.ops.convert_to_tensor(x).detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(keras.ops.sum(fn(x)), x, allow_unused=True)
        return np.zeros(tuple(x.shape), "float32") if grad is None else keras.ops.convert_to_numpy(grad)
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    grad = tape.gradient(y, x)
    return np.zeros(tuple(x.shape), "float32") if grad is None else grad.numpy()


def _gradient_of_sum(layer, x, unit=None):
    """d sum(out) / d x of `layer` in inference mode (of output unit `unit` only, when given), as NumPy."""
    def out(x):
        y = layer(x, training=False)
        return y if unit is None else y[..., unit]

    return gradient_of_sum(out, x)


def _elementwise_derivative_zero(layer, x):
    """Per unit of an elementwise `layer`: whether d out_j / d in_j is 0 at every entry of `x`, as a boolean
    tensor; one backward pass (the gradient of sum(out)), eagerly or inside a `tf.function`."""
    if keras.backend.backend() != "tensorflow":
        grad = _gradient_of_sum(layer, x)
        return np.all(grad.reshape(-1, grad.shape[-1]) == 0, axis=0)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=False)
    grad = tape.gradient(out, x)
    return tf.reduce_all(tf.equal(tf.reshape(grad, (-1, grad.shape[-1])), 0), axis=0)


def unit_derivative_zero(layer, inputs):
    """Per output unit (last axis) of `layer`: True where d out / d in is exactly 0 at every one of `inputs`.

    `inputs` is what the layer received (any rank; channels last). The layer is called in inference mode.
    Elementwise layers take one backward pass: the gradient of sum(out) is d out_j / d in_j. Otherwise one
    pass per output unit j: the gradient of sum(out[..., j]) is d out_j / d in_k at each example and
    position, since an activation acts on each position's channel vector on its own, so no two terms of
    the sum share an input entry and nothing cancels.
    """
    import tensorflow as tf

    x = _float_tensor(inputs)
    if is_elementwise(layer, x.shape):
        return np.asarray(_elementwise_derivative_zero(layer, x))
    if keras.backend.backend() != "tensorflow":
        units = keras.ops.shape(layer(x, training=False))[-1]
        return np.asarray([bool(np.all(_gradient_of_sum(layer, x, j) == 0)) for j in range(units)])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        out = layer(x, training=False)
        # The slices are taken under the tape, or their gradients would be None.
        units = [out[..., j] for j in range(out.shape[-1])]
    zero = []
    for unit in units:
        grad = tape.gradient(unit, x)
        zero.append(grad is None or bool(tf.reduce_all(tf.equal(grad, 0))))
    del tape
    return np.asarray(zero)


def unit_fractions(entry):
    """`(never_active_fraction, dead_fraction)` of one layer's record; `None` for what it does not hold.

    Records made before the split hold only `dead_fraction`, which meant never active: for them this gives
    that value as never active and the dead fraction as unknown (`None`)."""
    if "never_active_fraction" in entry:
        return entry["never_active_fraction"], entry.get("dead_fraction")
    return entry.get("dead_fraction"), None


def parameter_stats(layer):
    stats = {}
    for weight in layer.trainable_weights:
        value = keras.ops.convert_to_numpy(weight).astype("float64")
        key = weight.path.rsplit("/", 1)[-1]
        stats[key] = {"mean": float(value.mean()), "min": float(value.min()), "max": float(value.max())}
    return stats


def _probe_statistics(probe_model, probed, loss_fn):
    """A `tf.function` of (probe inputs, labels) -> per probed layer, its record's statistics as scalars.

    One graph per run: the probe's activations (a few hundred examples x every position x every unit) are
    reduced where they are computed instead of being copied to NumPy in float64 every epoch, which cost more
    than the epoch itself for spectrogram inputs. Means and the variance are taken in float64, as before.
    """
    if keras.backend.backend() != "tensorflow":
        return functools.partial(_eager_statistics, probe_model, probed)
    import tensorflow as tf

    def mean64(x):
        return tf.reduce_mean(tf.cast(x, "float64"))

    @tf.function
    def statistics(inputs, labels):
        with tf.GradientTape() as tape:
            outputs = probe_model(inputs, training=False)
            n = len(probed)
            hidden, logits, layer_inputs = outputs[:n], outputs[n], outputs[n + 1:]
            if labels is not None:
                loss = loss_fn(labels, logits)
            else:
                loss = tf.reduce_mean(tf.reduce_sum(logits, axis=-1))
        grads = tape.gradient(loss, hidden) if hidden else []
        found = []
        for layer, out, grad, layer_input in zip(probed, hidden, grads, layer_inputs):
            out = tf.cast(out, "float32")
            per_unit_max = tf.reduce_max(tf.reshape(out, (-1, out.shape[-1])), axis=0)
            stats = {
                "never_active_fraction": mean64(per_unit_max <= 0),
                "sparsity": mean64(tf.equal(out, 0)),
                "variance": tf.math.reduce_variance(tf.cast(out, "float64")),
            }
            if grad is not None:
                batch = out.shape[0]
                # Loss is a batch mean: scale back to per-example gradients before the norm.
                g = tf.reshape(tf.cast(grad, "float64"), (batch, -1)) * batch
                stats["grad_norm"] = tf.reduce_mean(tf.norm(g, axis=1))
            x = _float_tensor(layer_input)
            if is_elementwise(layer, x.shape):  # unit_derivative_zero's one-pass case, in the graph
                stats["dead_fraction"] = mean64(_elementwise_derivative_zero(layer, x))
            else:
                stats["layer_input"] = layer_input
            found.append(stats)
        return found

    return statistics


def _eager_statistics(probe_model, probed, inputs, labels):
    """`_probe_statistics`' numbers on JAX and PyTorch: one eager forward pass, reduced in NumPy (float64), and
    the elementwise derivatives by the backend's autodiff; no `grad_norm` (see the module docstring)."""
    outputs = probe_model(keras.ops.convert_to_tensor(keras.ops.convert_to_numpy(inputs)), training=False)
    n = len(probed)
    found = []
    for layer, out, layer_input in zip(probed, outputs[:n], outputs[n + 1:]):
        values = keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")).astype("float64")
        per_unit_max = values.reshape(-1, values.shape[-1]).max(axis=0)
        stats = {"never_active_fraction": np.mean(per_unit_max <= 0), "sparsity": np.mean(values == 0),
                 "variance": np.var(values)}
        x = _float_tensor(keras.ops.convert_to_numpy(layer_input))
        if is_elementwise(layer, tuple(x.shape)):
            stats["dead_fraction"] = np.mean(_elementwise_derivative_zero(layer, x))
        else:
            stats["layer_input"] = x
        found.append(stats)
    return found


class ActivationDiagnostics(keras.callbacks.Callback):
    """Records never-active and dead units, sparsity, gradient norms and learned parameters per activation layer
    and epoch.

    Args:
        probe_inputs: A fixed batch of model inputs (a few hundred examples).
        probe_labels: Integer labels for the gradient norms; without them the
            gradient of the mean logit-sum is used.
        loss: Loss for the gradients; default sparse categorical
            cross-entropy on logits (what the model zoo trains with).
        every: Record every `every` epochs (the last one is always recorded).
    """

    def __init__(self, probe_inputs, probe_labels=None, loss=None, every=1):
        super().__init__()
        if every < 1:
            raise ValueError(f"Argument `every` must be >= 1. Received: every={every}")
        self.probe_inputs = probe_inputs
        self.probe_labels = probe_labels
        self.loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.every = every
        self.history = []
        self._probe_model = None
        self._probed = []

    def _build_probe(self):
        acts = activation_layers(self.model)
        self._all = acts
        self._probed = []
        for layer in acts:
            try:
                _ = layer.output, layer.input  # only layers called once in a functional graph have them
                self._probed.append(layer)
            except (AttributeError, ValueError, RuntimeError):
                continue
        outputs = ([layer.output for layer in self._probed] + [self.model.outputs[0]]
                   + [layer.input for layer in self._probed])
        inputs = self.model.inputs
        self._probe_model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)
        self._statistics = _probe_statistics(self._probe_model, self._probed, self.loss)

    def measure(self):
        """One record of the current state (also usable outside `fit`)."""
        if self._probe_model is None:
            self._build_probe()
        with _logs.new_models_traced():  # one probe per model: a user's loop of new models is no retracing
            statistics = self._statistics(self.probe_inputs, self.probe_labels)
        record = {}
        for layer, stats in zip(self._probed, statistics):
            if "layer_input" in stats:  # a unit that reads several inputs: one backward pass per unit, eagerly
                dead = float(np.mean(unit_derivative_zero(layer, stats.pop("layer_input"))))
            else:
                dead = float(stats["dead_fraction"])
            record[layer.name] = {
                "never_active_fraction": float(stats["never_active_fraction"]),
                "dead_fraction": dead,
                "sparsity": float(stats["sparsity"]),
                "variance": float(stats["variance"]),
                "grad_norm": float(stats["grad_norm"]) if "grad_norm" in stats else None,
            }
        for index, layer in enumerate(self._all):
            stats = parameter_stats(layer)
            if stats:
                record.setdefault(layer.name, {})["params"] = stats
            if layer.name in record:
                # Stored JSON sorts keys ("re_lu_10" before "re_lu_2"): the call order travels with each entry.
                record[layer.name]["index"] = index
        return record

    def on_train_begin(self, logs=None):
        self._probe_model = None
        if not any(r["epoch"] == -1 for r in self.history):
            self.history.append({"epoch": -1, "layers": self.measure()})

    def on_epoch_end(self, epoch, logs=None):
        last = self.params and epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every == 0 or last:
            self.history = [r for r in self.history if r["epoch"] != epoch]
            self.history.append({"epoch": epoch, "layers": self.measure()})

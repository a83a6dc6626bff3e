"""Activation diagnostics as a Keras callback, usable in anyone's `fit`.

    probe = next(iter(val_ds))[0][:256]
    diag = relu_zoo.diagnostics.ActivationDiagnostics(probe, probe_labels)
    model.fit(..., callbacks=[diag])
    diag.history  # one record per epoch (epoch -1 = before training)

Per activation layer, on a fixed probe batch, in inference mode:

- `dead_fraction`: fraction of units (channels: the last axis) whose output is
  never > 0 on any probe example — the "dying ReLU" of Lu et al. 2019 /
  Maas et al. 2013. For activations with negative outputs (ELU, leaky) a
  unit only counts as dead when it is negative everywhere.
- `sparsity`: fraction of outputs that are exactly 0.
- `grad_norm`: L2 norm of d(loss)/d(layer output) on the probe batch, mean
  over examples — how much gradient reaches the layer (vanishing gradients
  show up as norms shrinking towards the input).
- `params`: for learnable activations, mean/min/max of each parameter (e.g.
  the PReLU slopes, to compare with He et al. 2015 §4.2 where early layers
  learn larger slopes).

Activation layers inside recurrent cells have no per-step output to probe;
only their parameters are recorded. Gradients use `tf.GradientTape`, so the
callback needs the TensorFlow backend.
"""

import numpy as np
import keras

from relu_zoo import layers as zoo_layers

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

    for name, value in vars(layer).items():
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
    """All activation layers in `model`, nested ones (sub-models, RNN cells) included, in call order."""
    return [layer for layer in all_layers(model) if isinstance(layer, _ACTIVATION_TYPES)]


def parameter_stats(layer):
    stats = {}
    for weight in layer.trainable_weights:
        value = keras.ops.convert_to_numpy(weight).astype("float64")
        key = weight.path.rsplit("/", 1)[-1]
        stats[key] = {"mean": float(value.mean()), "min": float(value.min()), "max": float(value.max())}
    return stats


class ActivationDiagnostics(keras.callbacks.Callback):
    """Records dead units, sparsity, gradient norms and learned parameters per activation layer and epoch.

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
                _ = layer.output  # only layers called once in a functional graph have one
                self._probed.append(layer)
            except (AttributeError, ValueError, RuntimeError):
                continue
        outputs = [layer.output for layer in self._probed] + [self.model.outputs[0]]
        inputs = self.model.inputs
        self._probe_model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)

    def measure(self):
        """One record of the current state (also usable outside `fit`)."""
        import tensorflow as tf

        if self._probe_model is None:
            self._build_probe()
        with tf.GradientTape() as tape:
            outputs = self._probe_model(self.probe_inputs, training=False)
            hidden, logits = outputs[:-1], outputs[-1]
            if self.probe_labels is not None:
                loss = self.loss(self.probe_labels, logits)
            else:
                loss = tf.reduce_mean(tf.reduce_sum(logits, axis=-1))
        grads = tape.gradient(loss, hidden) if hidden else []
        record = {}
        for layer, out, grad in zip(self._probed, hidden, grads):
            out = np.asarray(out, dtype="float32")
            per_unit_max = out.reshape(-1, out.shape[-1]).max(axis=0)
            entry = {
                "dead_fraction": float(np.mean(per_unit_max <= 0)),
                "sparsity": float(np.mean(out == 0)),
                "grad_norm": None,
            }
            if grad is not None:
                g = np.asarray(grad, dtype="float64").reshape(out.shape[0], -1)
                # Loss is a batch mean: scale back to per-example gradients before the norm.
                entry["grad_norm"] = float(np.mean(np.linalg.norm(g * out.shape[0], axis=1)))
            record[layer.name] = entry
        for layer in self._all:
            stats = parameter_stats(layer)
            if stats:
                record.setdefault(layer.name, {})["params"] = stats
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

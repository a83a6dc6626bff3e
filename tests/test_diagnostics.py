"""The two unit metrics of relu_zoo.diagnostics: never active (output never > 0) and dead (zero gradient)."""

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo.diagnostics import ActivationDiagnostics, unit_derivative_zero, unit_fractions


def _probe_one_layer(activation, bias, units=4, kernel="zeros"):
    """A model Dense(units, bias) -> activation -> logits, measured on random inputs; the activation's record."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    pre = keras.layers.Dense(units, kernel_initializer=kernel,
                             bias_initializer=keras.initializers.Constant(bias))(inputs)
    layer = relu_zoo.get(activation)
    outputs = keras.layers.Dense(3)(layer(pre))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(32, 5)).astype("float32")
    diagnostics = ActivationDiagnostics(x, np.zeros(32, "int64"))
    diagnostics.set_model(model)
    return diagnostics.measure()[layer.name]


@pytest.mark.parametrize("activation", ["relu", "relu6"])
def test_relu_unit_with_negative_inputs_only_is_never_active_and_dead(activation):
    entry = _probe_one_layer(activation, bias=-3.0)
    assert entry["never_active_fraction"] == 1.0
    assert entry["dead_fraction"] == 1.0


@pytest.mark.parametrize("activation", ["leaky_relu", "prelu", "rrelu", "elu", "selu", "celu"])
def test_unit_with_negative_slope_is_never_active_but_not_dead(activation):
    entry = _probe_one_layer(activation, bias=-3.0)
    assert entry["never_active_fraction"] == 1.0
    assert entry["dead_fraction"] == 0.0


def test_positive_inputs_are_neither():
    for activation in ("relu", "leaky_relu", "elu"):
        entry = _probe_one_layer(activation, bias=2.0)
        assert entry["never_active_fraction"] == 0.0 and entry["dead_fraction"] == 0.0


def test_relu_at_exactly_zero_is_dead_and_never_active():
    # The derivative chosen at 0 is 0 (relu_zoo.layers.ReLU docstring): a unit held at 0 passes nothing.
    entry = _probe_one_layer("relu", bias=0.0)
    assert entry["never_active_fraction"] == 1.0 and entry["dead_fraction"] == 1.0


def test_per_unit_fractions_count_units_not_layers():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    bias = np.array([-1.0, -1.0, -1.0, 1.0])
    pre = keras.layers.Dense(4, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias))(inputs)
    relu, leaky = relu_zoo.ReLU(), relu_zoo.LeakyReLU()
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Concatenate()([relu(pre), leaky(pre)])))
    diagnostics = ActivationDiagnostics(np.ones((8, 5), "float32"))
    diagnostics.set_model(model)
    record = diagnostics.measure()
    assert record[relu.name]["never_active_fraction"] == 0.75 and record[relu.name]["dead_fraction"] == 0.75
    assert record[leaky.name]["never_active_fraction"] == 0.75 and record[leaky.name]["dead_fraction"] == 0.0
    assert (record[relu.name]["index"], record[leaky.name]["index"]) == (0, 1)  # call order, for sorted JSON


def test_one_live_input_keeps_a_relu_unit_alive():
    x = np.array([[-1.0, -2.0], [-1.0, 3.0], [-4.0, -5.0]], "float32")
    assert unit_derivative_zero(relu_zoo.ReLU(), x).tolist() == [True, False]


def test_crelu_is_measured_per_output_unit():
    # CReLU(x) = [relu(x), relu(-x)]: for negative inputs the first half is dead, the mirrored half alive.
    x = -np.abs(np.random.default_rng(0).normal(size=(16, 3))).astype("float32") - 0.1
    assert unit_derivative_zero(relu_zoo.CReLU(), x).tolist() == [True] * 3 + [False] * 3


def test_gated_units_are_measured_per_output_unit():
    rng = np.random.default_rng(0)
    value = rng.normal(size=(16, 2)).astype("float32")
    gate = np.stack([-np.abs(rng.normal(size=16)) - 0.1, np.abs(rng.normal(size=16)) + 0.1], axis=1)
    x = np.concatenate([value, gate.astype("float32")], axis=1)
    # ReGLU = a * relu(b): the unit whose gate input is always negative passes no gradient to a or b.
    assert unit_derivative_zero(relu_zoo.get("reglu"), x).tolist() == [True, False]
    # GLU's sigmoid gate never closes exactly: neither unit is dead.
    assert unit_derivative_zero(relu_zoo.get("glu"), x).tolist() == [False, False]


def test_softmax_mixes_channels_so_is_not_taken_as_elementwise():
    # d softmax_j / d x_j alone can be tiny but the off-diagonal terms are not 0: no unit is dead.
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    assert unit_derivative_zero(keras.layers.Activation("softmax"), x).tolist() == [False] * 4


def test_old_records_read_as_never_active_with_dead_unknown():
    assert unit_fractions({"dead_fraction": 0.5, "sparsity": 0.5}) == (0.5, None)
    assert unit_fractions({"never_active_fraction": 0.5, "dead_fraction": 0.0}) == (0.5, 0.0)
    assert unit_fractions({"params": {}}) == (None, None)


def _eager_reference(model, layers, x, y):
    """Each probed layer's statistics computed eagerly with NumPy from their definitions (module docstring)."""
    import tensorflow as tf

    probe = keras.Model(model.inputs[0], [layer.output for layer in layers] + [model.outputs[0]]
                        + [layer.input for layer in layers])
    n = len(layers)
    if keras.backend.backend() == "tensorflow":
        with tf.GradientTape() as tape:
            outputs = probe(x, training=False)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, outputs[n])
        grads = tape.gradient(loss, outputs[:n])
    else:  # grad_norm is recorded on TensorFlow only (relu_zoo.diagnostics)
        outputs = [keras.ops.convert_to_numpy(o) for o in probe(x, training=False)]
        grads = [None] * n
    reference = {}
    for layer, out, grad, layer_input in zip(layers, outputs[:n], grads, outputs[n + 1:]):
        out = np.asarray(out, dtype="float32")
        g = None if grad is None else np.asarray(grad, dtype="float64").reshape(out.shape[0], -1) * out.shape[0]
        reference[layer.name] = {
            "never_active_fraction": float(np.mean(out.reshape(-1, out.shape[-1]).max(axis=0) <= 0)),
            "dead_fraction": float(np.mean(unit_derivative_zero(layer, layer_input))),
            "sparsity": float(np.mean(out == 0)),
            "variance": float(np.var(out.astype("float64"))),
            "grad_norm": None if g is None else float(np.mean(np.linalg.norm(g, axis=1))),
        }
    return reference


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_measurement_equals_the_definitions(policy):
    # Every metric of measure() equals a direct NumPy computation of its definition (module docstring), for
    # elementwise layers and per-output-unit ones (CReLU, ReGLU), after the weights change, in mixed precision
    # too. A faster measure() must still meet this (a tf.function version rounded bfloat16
    # differently from eager kernels and would have needed a looser tolerance).
    keras.utils.set_random_seed(0)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        inputs = keras.Input((6,))
        layers = [relu_zoo.get(name) for name in ("relu", "prelu", "elu", "crelu", "reglu")]
        x = inputs
        for layer in layers:
            x = layer(keras.layers.Dense(8, bias_initializer=keras.initializers.RandomNormal(stddev=2.0))(x))
        model = keras.Model(inputs, keras.layers.Dense(3)(x))
    finally:
        keras.config.set_dtype_policy(previous)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 3, size=64)
    diagnostics = ActivationDiagnostics(x, y)
    diagnostics.set_model(model)
    # bfloat16 keeps 8 significant bits. Where the CPU computes it natively (AVX-512 BF16, AMX) the probe's traced
    # graph and the eager reference can round in different places (a graph's kernels may fuse ops that eager mode
    # runs one at a time), so their layer outputs differ by bfloat16 rounding: measured there, the metrics agreed
    # to 0.4 % and element fractions to one of the 512 elements. Where bfloat16 is emulated (AVX2) they round
    # alike and met the float32 tolerance.
    rel, abs_ = (1e-5, 1e-9) if policy == "float32" else (1e-2, 2 / 512)
    for _ in range(2):
        record = diagnostics.measure()
        for name, expected in _eager_reference(model, layers, x, y).items():
            for key, value in expected.items():
                if value is None:
                    assert record[name][key] is None, (name, key)
                    continue
                assert record[name][key] == pytest.approx(value, rel=rel, abs=abs_), (name, key)
        for weight in model.trainable_weights:
            weight.assign(weight * -1.5)


def test_a_loop_of_new_models_measures_without_retracing_warnings():
    # Each model gets its own probe function, traced once; TensorFlow counts traces per code object and would
    # call a loop of new models (a sweep, or a user's own) "retracing" after five of them.
    import logging

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    collect = Collect()
    logging.getLogger("tensorflow").addHandler(collect)
    try:
        for bias in np.linspace(-1.0, 1.0, 7):
            _probe_one_layer("relu", bias)
    finally:
        logging.getLogger("tensorflow").removeHandler(collect)
    assert not [m for m in collect.messages if "retracing" in m]

"""Gated linear units (GLU, ReGLU, GEGLU, SwiGLU, bilinear): what they add to the shared layer checks of
tests/layers/test_layer_core.py — the split convention, the odd-size error, other axes, masks, mixed precision."""

import keras
import numpy as np
import pytest
from keras import ops

import relu_zoo
from relu_zoo import activations
from relu_zoo.layers.base import RECORDS

GATES = {
    "glu": lambda b: 1 / (1 + np.exp(-b)),
    "reglu": lambda b: np.maximum(b, 0),
    "geglu": None,  # checked against relu_zoo's own gelu, which tests/layers/test_layer_core.py checks
    "swiglu": lambda b: b / (1 + np.exp(-b)),
    "bilinear": lambda b: b,
}
NAMES = sorted(GATES)


def test_every_gated_activation_has_a_gate_reference():
    assert NAMES == sorted(r.name for r in RECORDS.values() if r.family == "gated")


@pytest.mark.parametrize("name", NAMES)
def test_first_half_is_the_value_second_half_the_gate(name):
    # torch.nn.functional.glu's convention: glu([a, b]) = a * sigmoid(b), not b * sigmoid(a).
    a = np.array([[2.0, -3.0]], "float32")
    b = np.array([[0.7, 1.5]], "float32")
    got = ops.convert_to_numpy(relu_zoo.get(name)(np.concatenate([a, b], axis=-1)))
    gate = GATES[name] or (lambda v: ops.convert_to_numpy(activations.gelu(v)))
    np.testing.assert_allclose(got, a * gate(b), rtol=1e-6)
    if name != "bilinear":  # a * b is symmetric
        assert not np.allclose(got, b * gate(a))


@pytest.mark.parametrize("name", NAMES)
def test_odd_size_is_an_error_naming_the_axis_and_size(name):
    with pytest.raises(ValueError, match=r"axis -1 .* odd size 5"):
        relu_zoo.get(name)(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"axis 1 .* odd size 3"):
        relu_zoo.get(name, axis=1).build((None, 3, 4))
    with pytest.raises(ValueError, match=r"axis -1 .* odd size 7"):
        keras.Sequential([keras.Input((7,)), relu_zoo.get(name)])
    with pytest.raises(ValueError, match=r"odd size 9"):
        activations.FUNCTIONS[name](np.ones((1, 9), "float32"))
    with pytest.raises(ValueError, match="axis 2 does not exist"):
        relu_zoo.get(name, axis=2).build((None, 4))


@pytest.mark.parametrize("name", NAMES)
def test_other_axis_matches_the_last_axis_transposed(name):
    x = np.random.default_rng(0).normal(size=(3, 4, 6)).astype("float32")  # axis 1 has 4 = 2 + 2
    on_axis_1 = ops.convert_to_numpy(relu_zoo.get(name, axis=1)(x))
    on_last = ops.convert_to_numpy(relu_zoo.get(name)(np.swapaxes(x, 1, 2)))
    np.testing.assert_allclose(on_axis_1, np.swapaxes(on_last, 1, 2), rtol=1e-6)
    assert relu_zoo.get(name, axis=1).compute_output_shape((None, 4, 6)) == (None, 2, 6)


@pytest.mark.parametrize("name", NAMES)
def test_padding_masks_pass_through_on_the_feature_axis(name):
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 8, mask_zero=True)(inputs)
    y = relu_zoo.get(name)(x)
    assert y.shape == (None, None, 4)
    pooled = keras.layers.GlobalAveragePooling1D()(y)  # uses the mask only if it survived the gate
    model = keras.Model(inputs, pooled)
    ids = np.array([[3, 4, 0, 0, 0]])
    np.testing.assert_allclose(ops.convert_to_numpy(model(ids)), ops.convert_to_numpy(model(ids[:, :2])), rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_mixed_float16_matches_float32_and_stays_finite(name):
    x = np.random.default_rng(1).normal(0, 4, size=(64, 8)).astype("float32")
    x[0, :4], x[0, 4:] = 300.0, 300.0  # 300 * silu(300) = 9e4 overflows float16: inf, not NaN
    exact = ops.convert_to_numpy(relu_zoo.get(name)(x))
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = relu_zoo.get(name)
        y = layer(x)
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            z = tf.reduce_sum(tf.cast(layer(xt[1:]), "float32"))
        g = tape.gradient(z, xt)
    finally:
        keras.config.set_dtype_policy("float32")
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    y = ops.convert_to_numpy(ops.cast(y, "float32"))
    np.testing.assert_allclose(y[1:], exact[1:], rtol=2e-3, atol=2e-3)
    assert not np.isnan(y).any()
    assert np.isfinite(np.asarray(g)).all()


def test_geglu_approximate_uses_the_tanh_form():
    x = np.random.default_rng(3).normal(size=(5, 4)).astype("float32")
    a, b = np.split(x, 2, axis=-1)
    got = ops.convert_to_numpy(relu_zoo.GEGLU(approximate=True)(x))
    np.testing.assert_allclose(got, a * ops.convert_to_numpy(activations.gelu(b, approximate=True)), rtol=1e-6)
    config = relu_zoo.GEGLU(approximate=True, axis=1).get_config()
    assert (config["approximate"], config["axis"]) == (True, 1)


def test_report_plot_draws_gated_units(tmp_path):
    # The sweep report plots f and f' of every activation on a (N, 1) grid: a gated unit is drawn as its gate.
    from relu_zoo.run import plots

    plots.functions_and_derivatives(["relu", *NAMES, "crelu"], tmp_path / "functions.png")
    assert (tmp_path / "functions.png").stat().st_size > 0

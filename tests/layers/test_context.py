"""The activations that draw on each element's context (FReLU, DY-ReLU, meta-ACON): what the layer-wide checks of
test_layer_core.py and test_fuzz.py do not single out. Their functions' rules at ties, ±inf and NaN; the batch norm
of FReLU in training and inference; channels_first; a traced step that does not know its batch size."""

import math

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import activations
from relu_zoo.layers.base import RECORDS

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="gradients are taken with tf.GradientTape")

CONTEXT = sorted(name for name, record in RECORDS.items() if record.ranks is not None)


def _value_and_gradients(fn, x, *params):
    x, params = tf.constant(x, "float32"), [tf.constant(p, "float32") for p in params]
    with tf.GradientTape() as tape:
        tape.watch([x, *params])
        y = fn(x, *params)
    return [np.asarray(t) for t in (y, *tape.gradient(y, [x, *params], output_gradients=tf.ones_like(y)))]


def test_frelu_ties_go_to_the_funnel_and_nan_reaches_both():
    x = np.array([-1.0, 0.0, 0.5, 2.0, math.inf, -math.inf, math.nan, 1.0])
    funnel = np.array([0.0, 0.0, 0.5, 1.0, 3.0, 3.0, 1.0, math.nan])
    y, dx, dfunnel = _value_and_gradients(activations.frelu, x, funnel)
    np.testing.assert_array_equal(y, [0.0, 0.0, 0.5, 2.0, math.inf, 3.0, math.nan, math.nan])
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, math.nan, math.nan])
    np.testing.assert_array_equal(dfunnel, [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, math.nan, math.nan])
    # A funnel of 0 is relu, derivative 0 at 0 included.
    x = np.linspace(-2, 2, 9)
    y, dx, _ = _value_and_gradients(activations.frelu, x, np.zeros(9))
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(dx, (x > 0).astype("float32"))


def test_dy_relu_takes_the_limit_and_the_later_line_at_a_tie():
    # Lines (1, 0) and (0, 0.5) per element (slope, intercept): relu floored at 0.5 away from 0.5.
    a, b = np.array([[1.0], [0.0]]), np.array([[0.0], [0.5]])
    x = np.array([-math.inf, -1.0, 0.5, 2.0, math.inf, math.nan])
    y, dx, da, db = _value_and_gradients(activations.dy_relu, x, a * np.ones(6), b * np.ones(6))
    np.testing.assert_array_equal(y, [0.5, 0.5, 0.5, 2.0, math.inf, math.nan])  # slope 0 at -inf: its intercept
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0, 1.0, 1.0, math.nan])  # the tie at 0.5: the later line
    # d/da of the line that wins is x (-inf where the flat line wins at -inf), 0 for the other: no 0 * inf.
    np.testing.assert_array_equal(da, [[0.0, 0.0, 0.0, 2.0, math.inf, math.nan],
                                       [-math.inf, -1.0, 0.5, 0.0, 0.0, math.nan]])
    np.testing.assert_array_equal(db, [[0.0, 0.0, 0.0, 1.0, 1.0, math.nan], [1.0, 1.0, 1.0, 0.0, 0.0, math.nan]])
    # relu: lines (1, 0) and (0, 0), derivative 0 at 0.
    y, dx, _, _ = _value_and_gradients(activations.dy_relu, np.array([-1.0, 0.0, 1.0]), [[1.0], [0.0]],
                                       [[0.0], [0.0]])
    np.testing.assert_array_equal(y, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(dx, [0.0, 0.0, 1.0])


def test_meta_acon_is_acon_c_with_a_beta_per_sample():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2)) * 3
    p1, p2, beta = np.array([1.0, -0.5]), np.array([0.25, 0.5]), rng.uniform(0, 1, size=(3, 1, 2))
    got = _value_and_gradients(activations.meta_acon, x, p1, p2, beta)
    expected = _value_and_gradients(activations.acon_c, x, p1, p2, beta)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", CONTEXT)
def test_a_traced_step_without_the_batch_size(name):
    """The coefficients of DY-ReLU and meta-ACON are one per sample: their gradients are summed over the positions
    without a static batch size, which a traced step with a last, smaller batch does not have. 16 channels give
    DY-ReLU's hyper function 4 relu units: with the 1 unit of fewer channels, a unit dead at initialization (a
    matter of the draw) leaves its weights without a gradient."""
    keras.utils.set_random_seed(0)
    layer = relu_zoo.get(name)
    inputs = keras.Input((None, 16))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(layer(keras.layers.Conv1D(16, 3)(inputs))))
    model.compile("adam", "mse")
    before = [np.array(w) for w in layer.trainable_weights]
    rng = np.random.default_rng(0)
    history = model.fit(rng.normal(size=(10, 7, 16)), rng.normal(size=(10, 16)), batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(not np.array_equal(b, np.array(w)) for b, w in zip(before, layer.trainable_weights)
               if "funnel/bias" not in w.path)  # FReLU's bias: batch norm in training takes it away


def test_frelu_batch_norm_trains_on_the_batch_and_infers_with_its_moving_averages():
    layer = relu_zoo.FReLU(momentum=0.5)
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(8, 5, 5, 4)).astype("float32")
    layer.build(x.shape)
    inference, training = np.asarray(layer(x)), np.asarray(layer(x, training=True))
    # In training the funnel is normalized with the batch's statistics (gamma 1, beta 0 as initialized).
    h = np.asarray(layer.funnel(x)).astype("float64")
    t = (h - h.mean(axis=(0, 1, 2))) / np.sqrt(h.var(axis=(0, 1, 2)) + 1e-5)
    np.testing.assert_allclose(training, np.maximum(x, t), rtol=1e-4, atol=1e-4)
    assert not np.allclose(inference, training)
    # The moving averages moved halfway to the batch's (momentum 0.5), and inference uses them.
    np.testing.assert_allclose(np.asarray(layer.funnel_norm.moving_mean), 0.5 * h.mean(axis=(0, 1, 2)), rtol=1e-4,
                               atol=1e-6)
    assert not np.allclose(np.asarray(layer(x)), inference)


@pytest.mark.parametrize("name", CONTEXT)
def test_channels_first_is_channels_last_transposed(name):
    keras.utils.set_random_seed(3)
    last = relu_zoo.get(name)
    first = relu_zoo.get(name, data_format="channels_first")
    x = np.random.default_rng(2).normal(size=(2, 4, 5, 6)).astype("float32")
    last.build(x.shape)
    first.build(np.moveaxis(x, -1, 1).shape)
    for a, b in zip(first.weights, last.weights):  # same paths in the same order; kernels of the same layout
        a.assign(np.asarray(b).reshape(a.shape))
    np.testing.assert_allclose(np.asarray(first(np.moveaxis(x, -1, 1))), np.moveaxis(np.asarray(last(x)), -1, 1),
                               rtol=1e-5, atol=1e-6)

"""relu_zoo as a drop-in for Keras' own layers and activations.

Written from keras.layers.ReLU / LeakyReLU / PReLU / ELU's documented contracts: constructor arguments,
validation, `get_config()`, weights. Numbers at edge inputs against PyTorch: tests/layers/test_torch_reference.py.
"""

import inspect

import keras
import numpy as np
import pytest
from keras import ops

import relu_zoo
from relu_zoo import activations

requires_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                         reason="gradients are taken with tf.GradientTape")

X = np.array([[-10.0, -5.0, -0.5, 0.0, 0.25, 0.5, 5.0, 10.0]], "float32")


def _np(t):
    return ops.convert_to_numpy(t)


@pytest.mark.parametrize("kwargs", [
    {},
    {"negative_slope": 0.5},
    {"max_value": 10.0, "negative_slope": 0.5},
    {"max_value": 6.0},
    {"threshold": 0.5},
    {"threshold": 0.5, "negative_slope": 0.1, "max_value": 5.0},
    {"max_value": 0.0},
])
def test_relu_takes_keras_arguments_and_configs(kwargs):
    reference = keras.layers.ReLU(**kwargs)
    ours = relu_zoo.ReLU(**kwargs)
    np.testing.assert_allclose(_np(ours(X)), _np(reference(X)), rtol=1e-6)
    loaded = relu_zoo.ReLU.from_config(reference.get_config())
    np.testing.assert_allclose(_np(loaded(X)), _np(reference(X)), rtol=1e-6)
    assert relu_zoo.ReLU.from_keras(reference).get_config()["negative_slope"] == reference.negative_slope


def test_relu_validates_like_keras():
    for bad in [{"threshold": -1.0}, {"negative_slope": -0.1}, {"max_value": -1.0}, {"negative_slope": None}]:
        with pytest.raises(ValueError):
            keras.layers.ReLU(**bad)
        key, value = next(iter(bad.items()))
        with pytest.raises(ValueError, match=f"Received: {key}={value}"):
            relu_zoo.ReLU(**bad)
    # Keras' docstring: max_value >= 0, so 0 is allowed (the layer is then 0 above the threshold).
    np.testing.assert_array_equal(_np(relu_zoo.ReLU(max_value=0)(X)), np.zeros_like(X))


def test_relu_example_from_keras_docs():
    layer = relu_zoo.ReLU(max_value=10, negative_slope=0.5, threshold=0)
    np.testing.assert_array_equal(_np(layer(np.array([-10, -5, 0.0, 5, 10]))), [-5.0, -2.5, 0.0, 5.0, 10.0])


def test_leaky_relu_keras_config_alpha_and_from_keras():
    reference = keras.layers.LeakyReLU()  # Keras' default slope 0.3 differs from relu_zoo's 0.01 on purpose
    assert relu_zoo.LeakyReLU().negative_slope == 0.01
    twin = relu_zoo.LeakyReLU.from_keras(reference)
    assert twin.negative_slope == 0.3 and twin.keras_default == "negative_slope (0.3)"
    np.testing.assert_array_equal(_np(twin(X)), _np(reference(X)))
    np.testing.assert_array_equal(_np(relu_zoo.LeakyReLU.from_config(reference.get_config())(X)), _np(reference(X)))
    with pytest.warns(UserWarning, match="alpha"):
        assert relu_zoo.LeakyReLU(alpha=0.2).negative_slope == 0.2
    with pytest.raises(ValueError, match="from_keras expects a keras.layers.LeakyReLU"):
        relu_zoo.LeakyReLU.from_keras(keras.layers.ReLU())


def test_elu_from_keras():
    reference = keras.layers.ELU(alpha=0.5)
    twin = relu_zoo.ELU.from_keras(reference)
    assert twin.alpha == 0.5
    np.testing.assert_allclose(_np(twin(X)), _np(reference(X)), rtol=1e-6)


def test_prelu_loads_default_keras_prelu_layout_and_weights(tmp_path):
    reference = keras.layers.PReLU()  # one slope per element (rank >= 3 inputs too), initial 0
    inputs = keras.Input((4, 5, 3))
    keras_model = keras.Model(inputs, reference(inputs))
    reference.alpha.assign(np.random.default_rng(0).uniform(0, 1, size=(4, 5, 3)).astype("float32"))
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 3)).astype("float32")

    per_element = relu_zoo.PReLU(shared_axes=[])
    per_element.build((None, 4, 5, 3))
    assert per_element.alpha.shape == (4, 5, 3)
    per_element.set_weights(reference.get_weights())
    np.testing.assert_allclose(_np(per_element(x)), _np(keras_model(x)), rtol=1e-6)

    twin = relu_zoo.PReLU.from_keras(reference)
    np.testing.assert_allclose(_np(twin(x)), _np(keras_model(x)), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(twin.alpha), np.asarray(reference.alpha))

    # A Keras PReLU config (no `channelwise` key) keeps Keras' meaning: per element, initial 0.
    from_config = relu_zoo.PReLU.from_config(keras.layers.PReLU().get_config())
    from_config.build((None, 4, 5, 3))
    np.testing.assert_array_equal(np.asarray(from_config.alpha), np.zeros((4, 5, 3)))
    # relu_zoo's own configs are unchanged: one slope per channel, 0.25.
    ours = relu_zoo.PReLU.from_config(relu_zoo.PReLU().get_config())
    ours.build((None, 4, 5, 3))
    np.testing.assert_array_equal(np.asarray(ours.alpha), np.full(3, 0.25))
    assert relu_zoo.PReLU.keras_default is not None

    model = keras.Sequential([keras.Input((4, 5, 3)), twin])
    model.save(tmp_path / "prelu.keras")
    loaded = keras.saving.load_model(tmp_path / "prelu.keras", safe_mode=True)
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))


def test_prelu_shared_axes_keras_forms():
    keras_shared = keras.layers.PReLU(shared_axes=[1, 2])
    keras_shared.build((None, 4, 5, 3))
    twin = relu_zoo.PReLU.from_keras(keras_shared)
    assert twin.alpha.shape == (1, 1, 3)
    with pytest.raises(ValueError, match="shared_axes"):
        relu_zoo.PReLU(shared_axes=[]).build((None, None, 3))  # per element needs known sizes, as in Keras


# Every activation function that takes arguments, with non-default ones; the parameter-free ones are added below.
_WITH_ARGUMENTS = [
    (activations.relu, {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}),
    (activations.leaky_relu, {"negative_slope": 0.2}),
    (activations.prelu, {"alpha": 0.3}),
    (activations.rrelu, {"lower": 3.0, "upper": 8.0, "inverse": True}),
    (activations.srelu, {"t_left": -1.0, "a_left": 0.1, "t_right": 2.0, "a_right": 0.5}),
    (activations.pelu, {"alpha": 2.0, "beta": 0.5}),
    (activations.swish, {"beta": 1.5}),
    (activations.elu, {"alpha": 0.5}),
    (activations.celu, {"alpha": 2.0}),
    (activations.gelu, {"approximate": True}),
    (activations.softplus, {"beta": 2.0, "threshold": 5.0}),
    (activations.crelu, {"axis": -1}),
    (activations.glu, {"axis": -1}),
    (activations.reglu, {"axis": -1}),
    (activations.geglu, {"approximate": True}),
    (activations.swiglu, {"axis": -1}),
    (activations.bilinear, {"axis": -1}),
    (activations.star_relu, {"scale": 2.0, "bias": -0.5}),
    (activations.xielu, {"alpha_p": 0.8, "alpha_n": 0.8, "beta": 0.5, "eps": -1e-6}),
    (activations.acon_c, {"p1": 1.0, "p2": 0.25, "beta": 1.5}),
    (activations.frelu, {"funnel": 0.5}),
    (activations.meta_acon, {"p1": 1.0, "p2": 0.25, "beta": 1.5}),
    (activations.pau, {}),  # its coefficients are sequences, which a Partial cannot save: the defaults
]
PARTIALS = _WITH_ARGUMENTS + [(fn, {}) for fn in activations.FUNCTIONS.values()
                              if len(inspect.signature(fn).parameters) == 1]


def test_partials_cover_every_function():
    # apl and dy_relu take their parameters stacked along a leading axis (hinges, pieces): no plain numbers.
    assert {fn.__name__ for fn, _ in PARTIALS} == set(activations.FUNCTIONS) - {"apl", "dy_relu"}


@pytest.mark.parametrize("fn,arguments", PARTIALS, ids=[fn.__name__ for fn, _ in PARTIALS])
def test_parameterised_functions_as_dense_activation_save_and_load(tmp_path, fn, arguments):
    activation = activations.Partial(fn, **arguments)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=activation)])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.layers[-1].activation == activation
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32") * 3
    np.testing.assert_array_equal(model.predict_on_batch(x), loaded.predict_on_batch(x))
    dense = model.layers[-1]
    expected = _np(fn(ops.convert_to_tensor(x @ np.asarray(dense.kernel) + np.asarray(dense.bias)), **arguments))
    np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-6)  # matmul rounding


@pytest.mark.parametrize("fn", [activations.rrelu, activations.swish, activations.softplus, activations.relu])
def test_functions_with_default_arguments_save_and_load(tmp_path, fn):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=fn)])
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras", safe_mode=True).layers[-1].activation is fn


def test_partial_rejects_what_it_cannot_save():
    with pytest.raises(ValueError, match="has no argument slope"):
        activations.Partial(activations.leaky_relu, slope=0.2)
    with pytest.raises(ValueError, match="function=<built-in function abs>"):
        activations.Partial(abs)
    with pytest.raises(ValueError, match="Received: alpha=array"):
        activations.Partial(activations.prelu, alpha=np.ones(3))
    with pytest.raises(ValueError, match="function='os.system'"):
        activations.Partial.from_config({"function": "os.system", "arguments": {}})


@requires_tensorflow
def test_gelu_tanh_mixed_float16_gradients_are_finite():
    import tensorflow as tf

    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = relu_zoo.GELU(approximate=True)
        x = tf.constant([-65504.0, -1e4, -300.0, -256.0, -40.0, 40.0, 256.0, 300.0, 1e4, 65504.0])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        g = tape.gradient(y, x)
    finally:
        keras.config.set_dtype_policy("float32")
    np.testing.assert_array_equal(np.asarray(g), np.where(np.asarray(x) > 0, 1.0, 0.0))
    np.testing.assert_array_equal(np.asarray(y, "float32"), np.where(np.asarray(x) > 0, np.asarray(x), 0.0))


def _has_float64():
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


@pytest.mark.skipif(not _has_float64(), reason="JAX computes float64 as float32 unless jax_enable_x64 is set")
def test_float64_slopes_are_exact():
    x = np.array([-3.0, -1.0, -1e-300], "float64")
    for layer, slope in [(relu_zoo.LeakyReLU(dtype="float64"), 0.01),
                         (relu_zoo.LeakyReLU(negative_slope=0.3, dtype="float64"), 0.3),
                         (relu_zoo.RReLU(dtype="float64"), (1 / 8 + 1 / 3) / 2),
                         (relu_zoo.ReLU(negative_slope=0.1, dtype="float64"), 0.1)]:
        np.testing.assert_array_equal(_np(layer(x)), slope * x)


RELU_VARIANTS = [
    ("relu", {}), ("relu", {"max_value": 1.0}), ("relu", {"max_value": 6.0}), ("relu", {"threshold": 0.5}),
    ("relu", {"negative_slope": 0.2}), ("relu6", {}), ("leaky_relu", {}), ("prelu", {}), ("rrelu", {}),
    ("srelu", {}), ("apl", {}), ("crelu", {}), ("elu", {}), ("celu", {}), ("selu", {}), ("pelu", {}),
    ("gelu", {}), ("silu", {}), ("mish", {}), ("softplus", {}), ("swish_beta", {}),
]


def _input_gradient(layer, x, **kwargs):
    """`layer(x, **kwargs)` and `d sum(layer(x)) / d x` on the current backend, as NumPy arrays."""
    backend = keras.backend.backend()
    if not layer.built:
        layer.build(x.shape)
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, **kwargs)
        return _np(y), np.asarray(tape.gradient(y, x))
    if backend == "jax":
        import jax

        def total(x):  # stateless: RReLU's seed state may not change inside a jax transformation
            y, _ = layer.stateless_call([v.value for v in layer.trainable_variables],
                                        [v.value for v in layer.non_trainable_variables], x, **kwargs)
            return y.sum(), y

        g, y = jax.grad(total, has_aux=True)(jax.numpy.asarray(x))
        return np.asarray(y), np.asarray(g)
    import torch

    x = torch.tensor(x, requires_grad=True)
    y = layer(x, **kwargs)
    (g,) = torch.autograd.grad(y.sum(), [x])
    return y.detach().numpy(), g.numpy()


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name,kwargs", RELU_VARIANTS)
def test_nan_input_gives_nan_gradient_everywhere(name, kwargs, training):
    layer = relu_zoo.get(name, **kwargs)
    x = np.array([[np.nan, -1.0, 0.5, 2.0]], "float32")
    y, g = _input_gradient(layer, x, **({"training": training} if name == "rrelu" else {}))
    assert np.isnan(g[0, 0]), (name, kwargs, g)
    assert np.all(np.isfinite(g[0, 1:])), (name, kwargs, g)
    assert np.isnan(y[0, 0])


def test_softplus_beta_threshold_like_torch_docs():
    layer = relu_zoo.Softplus(beta=2.0, threshold=10.0)
    x = np.array([-3.0, 0.0, 1.0, 4.9, 5.1, 100.0])
    expected = np.where(2 * x > 10, x, np.log1p(np.exp(2 * x)) / 2)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-6)
    assert relu_zoo.Softplus.from_config(layer.get_config()).beta == 2.0
    assert (relu_zoo.Softplus().beta, relu_zoo.Softplus().threshold) == (1.0, 20.0)
    with pytest.raises(ValueError, match="Received: beta=0"):
        relu_zoo.Softplus(beta=0)


def test_layers_named_like_keras_layers_declare_their_keras_twin():
    # The docs table's Keras column is generated from keras_class / keras_default (tools/docs_tables.py).
    layers = [getattr(relu_zoo.layers, n) for n in relu_zoo.layers.__all__]
    twins = {cls.__name__ for cls in layers if getattr(cls, "keras_class", None)}
    assert twins == {n for n in relu_zoo.layers.__all__ if hasattr(keras.layers, n)}
    assert all(getattr(relu_zoo.layers, n).keras_class == n for n in twins)

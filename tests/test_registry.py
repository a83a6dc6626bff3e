"""relu_zoo.get / list_activations: names, aliases, specs, dicts, classes, instances, errors; Keras integration."""

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import activations
from relu_zoo.layers.base import RECORDS


def test_get_returns_a_new_layer_every_call():
    a, b = relu_zoo.get("prelu"), relu_zoo.get("prelu")
    assert a is not b
    a.build((None, 4))
    b.build((None, 4))
    assert a.alpha is not b.alpha
    model = keras.Sequential([keras.Input((4,)), a, keras.layers.Dense(4), b])
    assert len({id(v) for v in model.weights}) == len(model.weights)


@pytest.mark.parametrize("alias,cls,attrs", [
    ("leaky", relu_zoo.LeakyReLU, {"negative_slope": 0.01}),
    ("LReLU", relu_zoo.LeakyReLU, {}),
    ("swish", relu_zoo.SiLU, {}),
    ("gelu_tanh", relu_zoo.GELU, {"approximate": True}),
    ("rrelu_xu", relu_zoo.RReLU, {"lower": 3.0, "upper": 8.0, "parameterization": "inverse"}),
    ("parametric-relu", relu_zoo.PReLU, {}),
])
def test_aliases(alias, cls, attrs):
    layer = relu_zoo.get(alias)
    assert type(layer) is cls
    for key, value in attrs.items():
        assert getattr(layer, key) == value


def test_specs_dicts_classes_and_instances():
    assert relu_zoo.get("leaky_relu:negative_slope=0.2").negative_slope == 0.2
    assert relu_zoo.get("rrelu:lower=3,upper=8,parameterization=inverse").inference_slope == pytest.approx(2 / 11)
    assert relu_zoo.get({"name": "elu", "alpha": 0.5}).alpha == 0.5
    serialized = keras.layers.serialize(relu_zoo.CELU(alpha=3.0))
    assert relu_zoo.get(serialized).alpha == 3.0
    assert type(relu_zoo.get(relu_zoo.Mish)) is relu_zoo.Mish
    original = relu_zoo.PReLU(name="mine", channelwise=False)
    original.build((None, 2))
    original.alpha.assign(0.9)
    copy = relu_zoo.get(original)
    assert copy is not original and copy.channelwise is False and copy.name != "mine"
    copy.build((None, 2))
    assert float(np.array(copy.alpha)) == 0.25, "a copy gets fresh weights, not the learned ones"
    assert relu_zoo.get("leaky_relu", negative_slope=0.3).negative_slope == 0.3


def test_unknown_names_and_bad_parameters():
    with pytest.raises(ValueError,
                       match=r"Unknown activation 'prleu'\. Did you mean 'prelu'\? Valid names: (\w+, )*apl, "):
        relu_zoo.get("prleu")
    with pytest.raises(ValueError, match="accepts: negative_slope"):
        relu_zoo.get("leaky_relu:slope=0.2")
    with pytest.raises(ValueError, match="expected key=value"):
        relu_zoo.get("leaky_relu:0.2")
    with pytest.raises(ValueError, match="needs a 'name' key"):
        relu_zoo.get({"negative_slope": 0.1})
    with pytest.raises(ValueError, match="Received: 3 of type int"):
        relu_zoo.get(3)


def test_list_activations_and_register():
    names = relu_zoo.list_activations()
    assert names == sorted(names) and {"relu", "prelu", "rrelu", "srelu", "pelu", "apl", "swish_beta"} <= set(names)
    assert relu_zoo.list_aliases()["swish"] == "silu"
    with pytest.raises(ValueError, match="already registered"):
        relu_zoo.register_activation("relu", relu_zoo.ReLU)


# The functions a Dense layer can take as they are: those whose record states one derivative at 0.
PARAMETER_FREE = sorted(r.name for r in RECORDS.values() if r.derivative_at_zero is not None)


@pytest.mark.parametrize("name", PARAMETER_FREE)
def test_functions_as_dense_activation_save_and_load(tmp_path, name):
    fn = getattr(activations, name)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=fn)])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(model.predict_on_batch(x), loaded.predict_on_batch(x))
    assert loaded.layers[-1].activation is fn


def test_layer_as_dense_activation():
    # A relu_zoo layer is callable, so Keras accepts it as `activation=`; it computes the same values.
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    dense = keras.layers.Dense(4, activation=relu_zoo.get("mish"))
    y = dense(x)
    # convert_to_numpy: on torch the outputs require grad, which np.asarray refuses.
    kernel, bias = keras.ops.convert_to_numpy(dense.kernel), keras.ops.convert_to_numpy(dense.bias)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y),
                               keras.ops.convert_to_numpy(relu_zoo.Mish()(x @ kernel + bias)), rtol=1e-5)

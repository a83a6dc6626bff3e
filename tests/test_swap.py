"""swap_activations / count_activations on models nobody here wrote (keras.applications) and on small
Sequential, functional, nested and subclassed models."""

import json

import numpy as np
import pytest

import keras

import relu_zoo
from relu_zoo import swap

RESNET_INPUT = (64, 64, 3)
MOBILENET_INPUT = (96, 96, 3)


@pytest.fixture(scope="module")
def resnet():
    return keras.applications.ResNet50(weights=None, input_shape=RESNET_INPUT, classes=10)


@pytest.fixture(scope="module")
def mobilenet():
    return keras.applications.MobileNetV2(weights=None, input_shape=MOBILENET_INPUT, alpha=0.35, classes=10)


def images(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype("float32")


def weights_by_path(model):
    return {v.path: np.asarray(v) for v in model.weights}


def assert_other_weights_equal(original, swapped, new_paths):
    """Every weight of `original` is in `swapped` under the same path with the same value; the swapped
    model's only other weights are `new_paths`."""
    before, after = weights_by_path(original), weights_by_path(swapped)
    assert set(after) - set(before) == set(new_paths)
    missing = set(before) - set(after)
    assert not missing, f"weights lost in the swap: {sorted(missing)[:5]}"
    for path, value in before.items():
        np.testing.assert_array_equal(after[path], value, err_msg=path)


def relu_activation_layers(model):
    """Names of the `Activation("relu")` layers, read from the layer configs (not through relu_zoo.swap)."""
    return [layer.name for layer in model.layers
            if isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"] == "relu"]


def relu6_layers(model):
    return [layer.name for layer in model.layers
            if isinstance(layer, keras.layers.ReLU) and layer.get_config()["max_value"] == 6.0]


# ---------------------------------------------------------------------------------------------------------
# keras.applications


def test_resnet50_count(resnet):
    # ResNet50: one stem ReLU and three per bottleneck block, 3 + 4 + 6 + 3 = 16 blocks.
    assert len(relu_activation_layers(resnet)) == 1 + 3 * 16 == 49
    assert relu_zoo.count_activations(resnet) == {"relu": 49, "softmax": 1}
    assert relu_zoo.count_activations(resnet, match="relu6") == {}
    conv5 = [name for name in relu_activation_layers(resnet) if name.startswith("conv5_")]
    assert relu_zoo.count_activations(resnet, match="relu", where="^conv5_") == {"relu": len(conv5)} == {"relu": 9}


def test_resnet50_every_relu_becomes_its_own_prelu(resnet):
    relus = relu_activation_layers(resnet)
    swapped = relu_zoo.swap_activations(resnet, "prelu")

    assert relu_zoo.count_activations(swapped) == {"prelu": 49, "softmax": 1}
    prelus = [layer for layer in swapped.layers if isinstance(layer, relu_zoo.PReLU)]
    assert sorted(layer.name for layer in prelus) == sorted(relus)  # replaced in place, names kept
    assert len({id(layer.alpha) for layer in prelus}) == 49  # no shared slopes
    assert_other_weights_equal(resnet, swapped, [f"{name}/alpha" for name in relus])
    # The original is untouched and shares no layer with the copy.
    assert relu_activation_layers(resnet) == relus
    assert not {id(layer) for layer in resnet.layers} & {id(layer) for layer in swapped.layers}


@pytest.mark.slow  # two ResNet50 forward passes; MobileNetV2's identity swap checks the same in the fast subset
def test_resnet50_identity_swap_keeps_outputs(resnet):
    x = images(RESNET_INPUT)
    swapped = relu_zoo.swap_activations(resnet, "leaky_relu:negative_slope=0.0")
    assert relu_zoo.count_activations(swapped) == {"leaky_relu": 49, "softmax": 1}
    np.testing.assert_allclose(swapped(x), resnet(x), rtol=1e-5, atol=1e-6)


def test_resnet50_where_restricts_the_swap(resnet):
    swapped = relu_zoo.swap_activations(resnet, "prelu", where=lambda path: path.startswith("conv5_"))
    assert relu_zoo.count_activations(swapped) == {"relu": 40, "prelu": 9, "softmax": 1}
    assert all(site.path.startswith("conv5_") for site in swap.activation_sites(swapped) if site.name == "prelu")


def test_mobilenetv2_relu6(mobilenet):
    # MobileNetV2: stem, the first block's depthwise ReLU6, expand + depthwise in 16 blocks, the head.
    assert len(relu6_layers(mobilenet)) == 1 + 1 + 2 * 16 + 1 == 35
    assert relu_zoo.count_activations(mobilenet) == {"relu6": 35, "softmax": 1}
    # ReLU(max_value=6) is "relu6", not "relu": the default match replaces nothing.
    assert relu_zoo.count_activations(mobilenet, match="relu") == {}
    untouched = relu_zoo.swap_activations(mobilenet, "prelu")
    assert relu_zoo.count_activations(untouched) == {"relu6": 35, "softmax": 1}

    swapped = relu_zoo.swap_activations(mobilenet, "prelu", match="relu6")
    assert relu_zoo.count_activations(swapped) == {"prelu": 35, "softmax": 1}
    assert_other_weights_equal(mobilenet, swapped, [f"{name}/alpha" for name in relu6_layers(mobilenet)])


@pytest.mark.parametrize("to", ["relu6", pytest.param("relu:max_value=6.0", marks=pytest.mark.slow)])
def test_mobilenetv2_identity_swap_keeps_outputs(mobilenet, to):
    x = images(MOBILENET_INPUT)
    swapped = relu_zoo.swap_activations(mobilenet, to, match="relu6")
    assert not any(isinstance(layer, keras.layers.ReLU) for layer in swapped.layers)
    np.testing.assert_allclose(swapped(x), mobilenet(x), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_swapped_mobilenetv2_trains_and_round_trips_safe_mode(mobilenet, tmp_path):
    swapped = relu_zoo.swap_activations(mobilenet, "prelu", match="relu6")
    # Eager: one step needs no traced (or XLA-compiled) train function.
    swapped.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", run_eagerly=True)
    x, y = images(MOBILENET_INPUT, n=4), np.array([0, 1, 2, 3])
    slopes = {layer.name: np.asarray(layer.alpha).copy() for layer in swapped.layers
              if isinstance(layer, relu_zoo.PReLU)}
    history = swapped.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [name for name, before in slopes.items()
               if not np.array_equal(np.asarray(swapped.get_layer(name).alpha), before)]
    assert len(changed) == len(slopes) == 35  # every new slope is trained

    path = tmp_path / "swapped.keras"
    swapped.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert relu_zoo.count_activations(loaded) == {"prelu": 35, "softmax": 1}
    np.testing.assert_allclose(loaded(x), swapped(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# activation= arguments, nesting, ops


def test_inline_activation_is_split_sequential():
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(5, activation="relu", name="fc"),
        keras.layers.Dense(3, name="logits"),
    ], name="small")
    assert relu_zoo.count_activations(model) == {"relu": 2}
    assert [s.kind for s in swap.activation_sites(model)] == ["argument", "argument"]

    swapped = relu_zoo.swap_activations(model, "prelu")
    assert isinstance(swapped, keras.Sequential) and swapped.name == "small"
    assert [layer.name for layer in swapped.layers] == ["conv", "conv_prelu", "flatten", "fc", "fc_prelu", "logits"]
    assert swapped.get_layer("conv").get_config()["activation"] == "linear"
    assert swapped.get_layer("fc").get_config()["activation"] == "linear"
    assert model.get_layer("fc").get_config()["activation"] == "relu"  # the original keeps its activations
    # A Sequential built at construction scopes its weights with its name.
    assert_other_weights_equal(model, swapped, ["small/conv_prelu/alpha", "small/fc_prelu/alpha"])

    x = np.random.default_rng(1).normal(size=(8, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(relu_zoo.swap_activations(model, "relu")(x), model(x), rtol=1e-6, atol=1e-6)


def test_inline_activation_is_split_functional():
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, hidden)
    swapped = relu_zoo.swap_activations(model, "prelu")
    x = np.random.default_rng(2).normal(size=(16, 5)).astype("float32")
    z = x @ np.asarray(model.get_layer("hidden").kernel) + np.asarray(model.get_layer("hidden").bias)
    # PReLU's slopes start at 0.25 (He et al. 2015): positive outputs as before, negative ones 0.25 z.
    np.testing.assert_allclose(swapped(x), np.where(z > 0, z, 0.25 * z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x), np.maximum(z, 0), rtol=1e-5, atol=1e-6)


def nested_model():
    block_a = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu", name="dense")],
                               name="block_a")
    x = keras.Input((4,))
    h = keras.layers.Dense(4, name="dense")(x)
    block_b = keras.Model(x, keras.layers.Activation("relu", name="act")(h), name="block_b")
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, activation="relu", name="shared")
    h = shared(block_b(block_a(inputs)))
    h = shared(keras.ops.relu(h))
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(h), name="outer")


def test_nested_models_are_swapped_inside():
    model = nested_model()
    sites = swap.activation_sites(model)
    assert [(s.path, s.kind) for s in sites] == [("block_a/dense", "argument"), ("block_b/act", "layer"),
                                                 ("shared", "argument"), ("relu", "op")]
    assert relu_zoo.count_activations(model) == {"relu": 4}

    swapped = relu_zoo.swap_activations(model, "prelu")
    assert relu_zoo.count_activations(swapped) == {"prelu": 4}
    assert isinstance(swapped.get_layer("block_a"), keras.Sequential)
    assert swapped.get_layer("block_a") is not model.get_layer("block_a")
    # The shared Dense is one site: both of its calls go through one PReLU.
    assert sum(isinstance(layer, relu_zoo.PReLU) and layer.name.startswith("shared") for layer in swapped.layers) == 1
    # Keras scopes weight paths by the Sequential's name only (a functional model's layers are built outside it).
    assert_other_weights_equal(model, swapped, ["block_a/dense_prelu/alpha", "act/alpha",
                                                "shared_prelu/alpha", "relu/alpha"])
    x = np.random.default_rng(3).normal(size=(8, 4)).astype("float32")
    np.testing.assert_allclose(relu_zoo.swap_activations(model, "relu")(x), model(x), rtol=1e-5, atol=1e-6)

    only_b = relu_zoo.swap_activations(model, "prelu", where=lambda path: path.startswith("block_b/"))
    assert [(s.path, s.name) for s in swap.activation_sites(only_b)] == [
        ("block_a/dense", "relu"), ("block_b/act", "prelu"), ("shared", "relu"), ("relu", "relu")]


def test_activation_layers_are_named_by_what_they_compute():
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.ReLU(),
        keras.layers.ReLU(max_value=6.0),
        keras.layers.ReLU(negative_slope=0.1),
        keras.layers.LeakyReLU(),
        keras.layers.PReLU(),
        keras.layers.ELU(),
        keras.layers.Activation("relu6"),
        keras.layers.Activation(keras.activations.leaky_relu),
        relu_zoo.ReLU(),
        relu_zoo.ReLU(max_value=6),
        relu_zoo.RReLU(),
        keras.layers.Dense(3, activation="tanh"),
        keras.layers.Reshape((3, 1)),
        keras.layers.SimpleRNN(2, activation="relu"),  # inside the recurrence: not a site
    ])
    assert relu_zoo.count_activations(model) == {"relu6": 3, "leaky_relu": 3, "relu": 2, "prelu": 1, "elu": 1,
                                                 "rrelu": 1, "tanh": 1}
    assert relu_zoo.count_activations(model, match=("leaky", "rrelu")) == {"leaky_relu": 3, "rrelu": 1}
    swapped = relu_zoo.swap_activations(model, "elu", match=("relu", "relu6", "leaky_relu", "prelu", "rrelu"))
    assert relu_zoo.count_activations(swapped) == {"elu": 11, "tanh": 1}
    assert swapped.layers[-1].get_config()["activation"] == "relu"


def test_replacement_follows_dtype_policy_and_trainable():
    x = keras.Input((4,))
    h = keras.layers.Dense(4, name="fc")(x)
    frozen = keras.layers.Activation("relu", name="frozen", dtype="mixed_float16", trainable=False)(h)
    model = keras.Model(x, frozen)
    layer = relu_zoo.swap_activations(model, "prelu").get_layer("frozen")
    assert isinstance(layer, relu_zoo.PReLU)
    assert layer.dtype_policy.name == "mixed_float16" and not layer.trainable


# ---------------------------------------------------------------------------------------------------------
# errors


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3, activation="relu")

    def call(self, inputs):
        return self.dense(inputs)


def test_subclassed_model_is_refused_with_a_way_out():
    model = Subclassed()
    model(np.zeros((1, 2), "float32"))
    for function in (relu_zoo.swap_activations, lambda m, _: relu_zoo.count_activations(m)):
        with pytest.raises(ValueError, match=r"Subclassed.*subclassed keras\.Model.*functional or Sequential"):
            function(model, "prelu")


def test_bad_arguments():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu")])
    with pytest.raises(ValueError, match="Did you mean 'prelu'"):
        relu_zoo.swap_activations(model, "prleu")
    with pytest.raises(ValueError, match="Unknown activation 'rleu' in `match`"):
        relu_zoo.swap_activations(model, "prelu", match="rleu")
    with pytest.raises(ValueError, match="must keep the shape of its input"):
        relu_zoo.swap_activations(model, "crelu")  # doubles the channels
    with pytest.raises(ValueError, match="`where` must be"):
        relu_zoo.swap_activations(model, "prelu", where=3)
    with pytest.raises(ValueError, match="needs a keras.Model"):
        relu_zoo.count_activations(keras.layers.Dense(2))


# ---------------------------------------------------------------------------------------------------------
# fine-tuning a zoo checkpoint


@pytest.mark.slow
def test_finetune_a_swapped_checkpoint(real_tfds_dir, tmp_path):
    from relu_zoo import console, pretrained

    real_tfds_dir("mnist/3.0.1")
    checkpoint = pretrained.load("cnn_relu.mnist", compile=False)
    relus = sum(isinstance(layer, relu_zoo.ReLU) for layer in checkpoint.layers)
    assert console.main(["finetune", "cnn_relu.mnist", "--to", "prelu", "--max-train-examples", "512",
                         "--no-control", "--verbose", "0", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "cnn_relu.mnist-prelu.json").read_text())
    assert result["sites"] == {"relu": relus} and relus > 0
    assert result["settings"]["train_examples"] == 512 and result["settings"]["test_examples"] == 10_000
    assert result["checkpoint_metrics"]["test_accuracy"] == pytest.approx(
        pretrained.metadata("cnn_relu.mnist")["metrics"]["test_accuracy"], abs=2e-3)
    for key in ("swapped_before", "swapped_after"):
        assert 0.5 < result[key]["test_accuracy"] <= 1.0
    assert "control_after" not in result
    assert (tmp_path / "cnn_relu.mnist-prelu.md").read_text().startswith("`cnn_relu.mnist`")


@pytest.mark.slow
def test_readme_example_runs_as_written(capsys):
    """The "Use with your own model" example of the README prints what its comments say."""
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Use with your own model", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = [line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert expected, "the example prints nothing to check"
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == expected

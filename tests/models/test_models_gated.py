"""The `transformer` and `wavecnn` models, raw-waveform speech features, and how every model sizes the
layer before a gated activation (GLU variants halve the channels; see models.common.pre_activation_units)."""

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import models, tasks
from relu_zoo.diagnostics import activation_layers
from relu_zoo.layers.base import RECORDS
from relu_zoo.models.transformer import ffn_inner_units

GATED = tuple(sorted(record.name for record in RECORDS.values() if record.family == "gated"))
TEXT = tasks.TaskSpec(name="small_text", modality="text", input_shape=(16,), input_dtype="int64", num_classes=2,
                      class_names=("neg", "pos"), vocab_size=50)
WAVE = tasks.TaskSpec(name="small_wave", modality="speech", input_shape=(400, 1), input_dtype="float32",
                      num_classes=3, class_names=("a", "b", "c"))
SMALL_TRANSFORMER = {"dim": 16, "heads": 2, "ffn_dim": 24, "depth": 2}
SMALL_WAVECNN = {"filters": (8, 8, 16), "first_kernel": 20, "first_stride": 2}


def ffn_in_widths(model):
    return [model.get_layer(f"block{i}_ffn_in").units for i in range(2)]


def compile_model(model, lr=1e-3):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


@pytest.mark.parametrize("activation,inner", [("relu", 24), ("prelu", 24), ("crelu", 16),
                                              *[(a, 32) for a in GATED]])
def test_transformer_ffn_keeps_the_plain_parameter_count(activation, inner):
    # Shazeer 2020: GLU variants get a hidden width of 2/3 d_ff (here 16 after the gate, 32 before it).
    model = models.create_model("transformer", task=TEXT, activation=activation, **SMALL_TRANSFORMER)
    assert ffn_in_widths(model) == [inner, inner]
    plain = models.create_model("transformer", task=TEXT, activation="relu", **SMALL_TRANSFORMER)
    act_params = sum(a.count_params() for a in activation_layers(model))
    # Equal weight matrices; only the biases of the first FFN Dense (inner - 24 per block) and learnable
    # activations' own parameters differ.
    assert model.count_params() - act_params - plain.count_params() == 2 * (inner - 24)
    assert ffn_inner_units("swiglu", 3072) == 4096  # hidden 2048 after the gate, as in the paper


@pytest.mark.parametrize("task", tasks.list_tasks("text"))
def test_transformer_builds_for_every_text_task_with_swiglu(task):
    model = models.create_model("transformer", task=task, activation="swiglu")
    spec = tasks.get(task).spec
    assert model.input_shape == (None,) + spec.input_shape
    assert model.output_shape == (None, spec.num_classes)
    assert model.get_layer("token_embedding").input_dim == spec.vocab_size
    assert len([a for a in activation_layers(model) if isinstance(a, relu_zoo.SwiGLU)]) == 2


def test_transformer_ignores_padding():
    keras.utils.set_random_seed(0)
    model = models.create_model("transformer", task=TEXT, activation="geglu", **SMALL_TRANSFORMER)
    rng = np.random.default_rng(0)
    ids = np.zeros((3, 16), "int64")
    ids[0, :5] = rng.integers(1, 50, 5)
    ids[1, :9] = rng.integers(1, 50, 9)
    ids[2] = rng.integers(1, 50, 16)
    shifted_padding = ids.copy()
    shifted_padding[:2, 12:] = 0  # still padding where it was padding: same logits
    out = keras.ops.convert_to_numpy(model(ids))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(shifted_padding))[:2], out[:2], rtol=1e-5)
    # What padding is replaced by must not matter...
    noisy = ids.copy()
    noisy[0, 5:] = 0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(noisy))[0], out[0], rtol=1e-5)
    # ...but a real token does.
    changed = ids.copy()
    changed[0, 5] = 7
    assert not np.allclose(keras.ops.convert_to_numpy(model(changed))[0], out[0])


def test_transformer_validates_its_options():
    with pytest.raises(ValueError, match="divisible by `heads`"):
        models.create_model("transformer", task=TEXT, dim=10, heads=4)
    with pytest.raises(ValueError, match="depth"):
        models.create_model("transformer", task=TEXT, depth=0)
    with pytest.raises(ValueError, match="does not support image"):
        models.create_model("transformer", task="mnist")


# Slow: the fast subset trains both models in test_models.py's grid and round-trips the relu_rnn there.
@pytest.mark.slow
@pytest.mark.parametrize("model_name,spec,kwargs", [("transformer", TEXT, SMALL_TRANSFORMER),
                                                    ("wavecnn", WAVE, SMALL_WAVECNN)])
@pytest.mark.parametrize("activation", ["swiglu", "prelu"])
def test_new_models_train_and_round_trip_safe_mode(tmp_path, model_name, spec, kwargs, activation):
    keras.utils.set_random_seed(0)
    model = models.create_model(model_name, task=spec, activation=activation, **kwargs)
    rng = np.random.default_rng(1)
    n = 16
    x = (rng.integers(1, 50, (n,) + spec.input_shape) if spec.modality == "text"
         else rng.normal(size=(n,) + spec.input_shape).astype("float32"))
    y = rng.integers(0, spec.num_classes, n)
    before = [w.copy() for w in model.get_weights()]
    history = compile_model(model, lr=1e-2).fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(b, w) for b, w in zip(before, model.get_weights()))
    path = tmp_path / f"{model_name}_{activation}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_wavecnn_on_waveforms_and_spectrograms():
    model = models.create_model("wavecnn", task=WAVE, **SMALL_WAVECNN)
    first = next(l for l in model.layers if isinstance(l, keras.layers.Conv1D))
    assert (first.kernel_size, first.strides) == ((20,), (2,))
    model = models.create_model("wavecnn", task="spoken_digit")  # log-mel frames as a 1-D sequence
    assert model.input_shape == (None, 98, 40, 1)
    first = next(l for l in model.layers if isinstance(l, keras.layers.Conv1D))
    assert (first.kernel_size, first.strides, first.filters) == ((3,), (1,), 64)
    waveform = tasks.get("spoken_digit").replace(features="waveform").spec
    model = models.create_model("wavecnn", task=waveform, activation="swiglu")
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv1D)]
    assert [c.filters for c in convs] == [128, 128, 256, 512]  # twice (64, 64, 128, 256) before the gates
    assert model.get_layer("logits").kernel.shape == (256, 10)
    with pytest.raises(ValueError, match="wavecnn"):
        models.create_model("cnn", task=waveform)


def test_waveform_features_of_speech_tasks():
    for name in tasks.list_tasks("speech"):
        base = tasks.get(name)
        task = base.replace(features="waveform")
        assert task.spec.input_shape == (base.num_samples, 1)
        layer = task.build_preprocessor(None)
        pcm = np.array([[16384, -32768, 8192]], base.raw_dtype)
        out = np.asarray(layer(pcm))
        assert out.shape == (1, base.num_samples, 1)
        np.testing.assert_array_equal(out[0, :4, 0], [0.5, -1.0, 0.25, 0.0])
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    with pytest.raises(ValueError, match="features"):
        tasks.get("spoken_digit").replace(features="raw")


@pytest.mark.parametrize("activation", GATED)
@pytest.mark.parametrize("model_name,modality", [("mlp", "image"), ("cnn", "image"), ("cnn", "text"),
                                                 ("rnn", "text"), ("relu_rnn", "speech"), ("wavecnn", "speech")])
def test_layer_before_a_gated_activation_is_twice_as_wide(model_name, modality, activation):
    spec = {"image": tasks.get("mnist").spec, "text": tasks.get("imdb_reviews").spec, "speech": WAVE}[modality]
    gated = models.create_model(model_name, task=spec, activation=activation)
    plain = models.create_model(model_name, task=spec, activation="relu")

    def widths(model):  # (input channels, output channels) of each activation layer, in order
        out = []
        for layer in activation_layers(model):
            if hasattr(layer, "cell"):
                continue
            shape = layer.input.shape if hasattr(layer, "input") else None
            out.append((shape[-1], layer.compute_output_shape(shape)[-1]))
        return out

    if model_name == "relu_rnn":
        g = next(l for l in gated.layers if isinstance(l, keras.layers.RNN)).cell
        assert (g.pre_units, g.units) == (2 * g.units, g.units)
        return
    assert [o for _, o in widths(gated)] == [o for _, o in widths(plain)]  # later layers see the same width
    assert [i for i, _ in widths(gated)] == [2 * i for i, _ in widths(plain)]
    assert gated.get_layer("logits").kernel.shape == plain.get_layer("logits").kernel.shape


def test_pre_activation_units():
    assert models.common.pre_activation_units("relu", 64) == 64
    assert models.common.pre_activation_units("crelu", 64) == 64  # CReLU widens what follows instead
    assert models.common.pre_activation_units("swiglu", 64) == 128
    assert models.common.pre_activation_units("geglu:approximate=True", 10) == 20

"""Export to deployment formats: each format run by its own runtime against the Keras model."""

import os

import numpy as np
import pytest

from relu_zoo import activations, deploy, pretrained

PARITY_EXAMPLES = 256  # >= 200 real test inputs per checkpoint and format


def _prepared(task):
    root = os.environ.get("TFDS_DATA_DIR")
    return bool(root) and os.path.isdir(os.path.join(root, task.split("/")[0]))


def _inputs(name):
    task = pretrained.metadata(name)["task"]
    if not _prepared(task):
        if os.environ.get("CI"):
            pytest.fail(f"TFDS_DATA_DIR has no {task}: CI must check exports on real data")
        pytest.skip(f"{task} not prepared in TFDS_DATA_DIR")
    return pretrained.model_inputs(name, PARITY_EXAMPLES)


def tflite_ops(path):
    """The builtin op names in a `.tflite` file, in graph order."""
    return [op["op_name"] for op in deploy.runtime(path, "tflite").interpreter._get_ops_details()]


@pytest.mark.parametrize("alpha_shape", [(), (3,), (1, 1, 3), (5, 4, 3)])
def test_export_formulation_is_bit_identical(alpha_shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32") * 10
    x[0, 0, 0] = [0.0, -0.0, np.inf]
    x[0, 0, 1] = [-np.inf, 1e-38, -1e-38]
    alpha = rng.uniform(0.01, 0.5, size=alpha_shape).astype("float32")
    expected = np.asarray(activations.prelu(x, alpha))
    with activations.export_formulation():
        got = np.asarray(activations.prelu(x, alpha))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.asarray(activations.prelu(x, alpha)), expected)  # context left


def test_unknown_format_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown export format 'tflit'.*Did you mean 'tflite'.*onnx"):
        deploy.check_format("tflit")


@pytest.mark.slow
@pytest.mark.parametrize("name, builtin", [("cnn_prelu.mnist", "PRELU"), ("cnn_leaky_relu.mnist", "LEAKY_RELU"),
                                           ("cnn_rrelu.spoken_digit", "LEAKY_RELU")])
def test_tflite_uses_the_builtin_activation_op(name, builtin, tmp_path):
    path = deploy.export_model(pretrained.load(name, compile=False), "tflite", tmp_path / "m")
    ops = tflite_ops(path)
    assert path.suffix == ".tflite" and builtin in ops, ops
    assert not {"SELECT", "SELECT_V2", "GREATER", "FlexSelectV2"} & set(ops), ops


# cnn_relu.spoken_digit is cnn_prelu.mnist's architecture with a plain ReLU: the full suite exports it too.
CASES = [(name, fmt) if name == "cnn_prelu.mnist" else pytest.param(name, fmt, marks=pytest.mark.exhaustive)
         for name in ("cnn_prelu.mnist", "cnn_relu.spoken_digit") for fmt in deploy.FORMATS]
# OpenVINO converts the unrolled 256-step GRU in about 8 minutes: left to the exhaustive run, out of CI.
CASES += [("rnn_prelu.imdb_reviews", fmt) if fmt != "openvino" else
          pytest.param("rnn_prelu.imdb_reviews", fmt, marks=pytest.mark.exhaustive) for fmt in deploy.FORMATS]


@pytest.mark.slow
@pytest.mark.parametrize("name, fmt", CASES)
def test_export_agrees_with_keras_on_real_test_inputs(name, fmt, tmp_path):
    x = _inputs(name)
    model = pretrained.load(name, compile=False)
    path = deploy.export_model(model, fmt, tmp_path / name)
    assert deploy.file_size(path) > 0.5 * model.count_params() * 4  # the float32 weights are in it
    result = deploy.parity(model, deploy.runtime(path, fmt), x)
    assert result["examples"] >= 200
    assert result["top1_agreement"] >= 0.995, result
    assert result["max_abs_diff"] < 1e-3, result


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_unrolled_copy_matches_the_loop_on_masked_sequences(padding):
    import keras

    from relu_zoo.models.common import MaskedGlobalMaxPooling1D

    inputs = keras.Input((12,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(x)
    x = keras.layers.Concatenate()([MaskedGlobalMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)])
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, size=(16, 12)).astype("int32")
    for i, length in enumerate(rng.integers(1, 13, size=16)):  # 1..12 real tokens, the rest padding
        if padding == "post":
            tokens[i, length:] = 0
        else:
            tokens[i, :12 - length] = 0

    copy = deploy.unrolled(model)
    layers = deploy._recurrent_layers(copy)
    assert len(layers) == 2 and all(layer.unroll for layer in layers)
    assert not any(layer.unroll for layer in deploy._recurrent_layers(model))  # the original is not changed
    np.testing.assert_allclose(np.asarray(copy.predict_on_batch(tokens)), np.asarray(model.predict_on_batch(tokens)),
                               rtol=1e-5, atol=1e-5)

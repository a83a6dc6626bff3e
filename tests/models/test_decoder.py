"""The `decoder` language model: parameter-matched FFN activations (Shazeer 2020), causality, the GPT-2
initialization, training and saving."""

import keras
import numpy as np
import pytest

from relu_zoo import models, tasks
from relu_zoo.diagnostics import activation_layers
from relu_zoo.studies import glu_variants, squared_relu

LANGUAGE = tasks.TaskSpec(name="small_language", modality="language", input_shape=(12,), input_dtype="int32",
                          num_classes=32, class_names=[str(i) for i in range(32)], vocab_size=32)
SMALL = {"dim": 16, "heads": 2, "depth": 2}
# Every FFN activation the language-model studies compare, and the ones that change the width.
STUDIED = sorted(set(glu_variants.ACTIVATIONS) | set(squared_relu.activations()) | {"crelu", "prelu"})


def _params_without_activations(model):
    return model.count_params() - sum(a.count_params() for a in activation_layers(model))


@pytest.mark.parametrize("activation", STUDIED)
def test_every_ffn_activation_gets_the_parameters_of_the_plain_ffn(activation):
    # The preset's size: gated units get a hidden width of 2/3 * 512 after the gate, as Shazeer 2020 did.
    spec = tasks.get("imdb_bytes").spec
    plain = models.create_model("decoder", task=spec, activation="relu")
    model = models.create_model("decoder", task=spec, activation=activation)
    assert abs(_params_without_activations(model) / plain.count_params() - 1) < 0.005  # rounding of p
    inner = model.get_layer("block0_ffn_in").units
    if activation in glu_variants.GATED:
        assert inner == 682  # 341 after the gate
    assert plain.count_params() == 875_520  # ~0.88M, nanoGPT's CPU shakespeare_char size


def test_logits_at_a_position_depend_only_on_the_bytes_up_to_it():
    keras.utils.set_random_seed(0)
    model = models.create_model("decoder", task=LANGUAGE, activation="swiglu", **SMALL)
    assert model.output_shape == (None, 12, 32)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 32, (2, 12)).astype("int32")
    changed = ids.copy()
    changed[:, 7:] = (changed[:, 7:] + 1) % 32
    out, out_changed = np.asarray(model(ids)), np.asarray(model(changed))
    np.testing.assert_allclose(out_changed[:, :7], out[:, :7], rtol=1e-5, atol=1e-5)
    assert not np.allclose(out_changed[:, 7:], out[:, 7:])


def test_residual_projections_start_smaller_by_sqrt_of_twice_the_depth():
    keras.utils.set_random_seed(0)
    model = models.create_model("decoder", task=tasks.get("imdb_bytes").spec, activation="relu", depth=8)
    ffn_in = np.asarray(model.get_layer("block0_ffn_in").kernel)
    ffn_out = np.asarray(model.get_layer("block0_ffn_out").kernel)
    attention_out = next(np.asarray(w) for w in model.get_layer("block3_attention").weights
                         if w.path.endswith("attention_output/kernel"))
    assert abs(ffn_in.std() - 0.02) < 0.001
    assert abs(ffn_out.std() - 0.02 / 4) < 0.0005 and abs(attention_out.std() - 0.02 / 4) < 0.0005


def test_decoder_learns_a_repeating_sequence_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.create_model("decoder", task=LANGUAGE, activation="geglu", **SMALL)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    stream = np.tile(np.arange(5), 40)
    x = np.stack([stream[i:i + 12] for i in range(100)]).astype("int32")
    y = np.stack([stream[i + 1:i + 13] for i in range(100)]).astype("int32")
    history = model.fit(x, y, epochs=15, batch_size=20, verbose=0).history["loss"]
    assert history[-1] < 0.2 * history[0]
    path = tmp_path / "decoder.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(model.predict(x[:4], verbose=0), loaded.predict(x[:4], verbose=0))


def test_decoder_validates_its_options_and_task():
    with pytest.raises(ValueError, match="divisible by `heads`"):
        models.create_model("decoder", task=LANGUAGE, dim=10, heads=4)
    with pytest.raises(ValueError, match="dropout_rate"):
        models.create_model("decoder", task=LANGUAGE, dropout_rate=1.0)
    with pytest.raises(ValueError, match="does not support text"):
        models.create_model("decoder", task="imdb_reviews")
    with pytest.raises(ValueError, match="Models for language: decoder"):
        models.create_model("transformer", task="imdb_bytes")

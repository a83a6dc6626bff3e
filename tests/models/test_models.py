"""Model zoo: every (model, modality, activation) builds and trains a step; saving, weight sharing, counts."""

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import models
from relu_zoo.diagnostics import activation_layers, all_layers
from relu_zoo.layers.base import RECORDS
from relu_zoo.task_spec import TaskSpec
from tools import docs_tables

# The TFDS tasks need TensorFlow; on Keras' other backends (tested in venvs without it) their tests skip.
requires_tasks = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                    reason="the TFDS tasks need TensorFlow")

# Small specs keep the full grid fast; the real task specs are covered by the parameter-count test.
SMALL_SPECS = {
    "image": TaskSpec(name="small_image", modality="image", input_shape=(12, 12, 1), input_dtype="float32",
                      num_classes=3, class_names=("a", "b", "c")),
    "text": TaskSpec(name="small_text", modality="text", input_shape=(16,), input_dtype="int64",
                     num_classes=2, class_names=("neg", "pos"), vocab_size=50),
    "speech": TaskSpec(name="small_speech", modality="speech", input_shape=(20, 8, 1), input_dtype="float32",
                       num_classes=4, class_names=("0", "1", "2", "3")),
    "language": TaskSpec(name="small_language", modality="language", input_shape=(12,), input_dtype="int32",
                         num_classes=20, class_names=[str(i) for i in range(20)], vocab_size=20),
}
SMALL_KWARGS = {
    "airbench": {"widths": (4, 8, 8)},
    "mlp": {"width": 16},
    "cnn": {"filters": (4, 8), "dense_units": 8, "embedding_dim": 8, "text_filters": 4},
    "cnn_small": {"filters": (4, 8), "dense_units": 8, "embedding_dim": 8, "text_filters": 4},
    "rnn": {"units": 8, "embedding_dim": 8, "dense_units": 8},
    "relu_rnn": {"units": 8, "embedding_dim": 8},
    "transformer": {"dim": 8, "heads": 2, "ffn_dim": 12, "depth": 1},
    "decoder": {"dim": 8, "heads": 2, "ffn_dim": 12, "depth": 1},
    "wavecnn": {"filters": (4, 8)},
    "fasttext": {"embedding_dim": 8, "buckets": 64, "units": 8},
}
COMBOS = [(m, mod) for m in models.list_models() for mod in models.model_modalities(m)]


def mock_batch(spec, n=8, seed=0):
    rng = np.random.default_rng(seed)
    if spec.modality == "language":  # next-token prediction: a label per position
        tokens = rng.integers(0, spec.vocab_size, size=(n, spec.input_shape[0] + 1))
        return tokens[:, :-1], tokens[:, 1:]
    if spec.modality == "text":
        x = rng.integers(1, spec.vocab_size, size=(n,) + spec.input_shape)
    else:
        x = rng.normal(size=(n,) + spec.input_shape).astype("float32")
    return x, rng.integers(0, spec.num_classes, size=(n,))


def compile_model(model, lr=1e-3):
    model.compile(keras.optimizers.Adam(lr, clipnorm=1.0),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def test_every_combination_is_covered():
    # The grid below is generated from the registries; this guards the generation itself.
    assert {m for m, _ in COMBOS} == set(models.list_models())
    assert ("rnn", "image") not in COMBOS


# CI builds and trains every model for every modality once, the activation taking turns among these (plain,
# parametric, random, shape-changing) so that each meets several models; the full suite runs every pair.
FAST_ACTIVATIONS = ("relu", "prelu", "rrelu", "crelu")


def _meets_every_model(activation):
    """Whether `activation` is tried in every model: it changes the width (CReLU, the gated units: the model
    must size the layer before it), has variables (learned per-channel parameters, RReLU's seed state), or
    is the baseline. A stateless elementwise function computes the same in every model, so it is tried in
    one model per modality (a different one for each function), which keeps the full suite affordable."""
    layer = relu_zoo.get(activation)
    layer.build((None, 4, 6))
    return activation == "relu" or bool(layer.variables) or layer.compute_output_shape((None, 4, 6))[-1] != 6


def _model_activation_grid():
    by_modality = {}
    for combo in COMBOS:
        by_modality.setdefault(combo[1], []).append(combo)
    seen = set()
    for i, (model_name, modality) in enumerate(COMBOS):
        for j, activation in enumerate(relu_zoo.list_activations()):
            ci = activation == FAST_ACTIVATIONS[i % len(FAST_ACTIVATIONS)]
            # The fast subset trains each model and each of these activations once (on JAX each train step is
            # an XLA compile); CI trains every model-modality pair.
            fast = ci and not {model_name, activation} <= seen
            seen |= {model_name, activation} if fast else set()
            combos = by_modality[modality]
            if ci or _meets_every_model(activation) or combos[j % len(combos)] == (model_name, modality):
                marks = () if fast else pytest.mark.slow if ci else (pytest.mark.slow, pytest.mark.exhaustive)
                yield pytest.param(model_name, modality, activation, marks=marks)


def test_the_grid_tries_every_activation_in_every_modality_and_the_stateful_ones_everywhere():
    grid = [p.values for p in _model_activation_grid()]
    for activation in relu_zoo.list_activations():
        assert {mod for _, mod, a in grid if a == activation} == {mod for _, mod in COMBOS}
    for activation in ("crelu", "swiglu", "prelu", "srelu", "rrelu", "relu"):
        assert {(m, mod) for m, mod, a in grid if a == activation} == set(COMBOS)
    # A stateless function meets one model per modality, a different one for the next function.
    assert len({(m, mod) for m, mod, a in grid if a in ("gelu", "mish", "elu")}) > 3


@pytest.mark.parametrize("model_name,modality,activation", list(_model_activation_grid()))
def test_builds_trains_and_owns_its_activations(model_name, modality, activation):
    spec = SMALL_SPECS[modality]
    keras.utils.set_random_seed(0)
    if RECORDS[activation].ranks is not None:
        # An activation that draws on its input's context goes only where each use site has one (its record's
        # `ranks`; which models take it: test_an_activation_that_needs_context_goes_where_it_has_one).
        try:
            models.check_activation(model_name, spec, activation, **SMALL_KWARGS[model_name])
        except ValueError as error:
            assert "\n" not in str(error) and f"Model {model_name!r}" in str(error)
            with pytest.raises(ValueError, match="^Model "):
                models.create_model(model_name, task=spec, activation=activation, **SMALL_KWARGS[model_name])
            return
    model = models.create_model(model_name, task=spec, activation=activation, **SMALL_KWARGS[model_name])
    per_position = spec.input_shape if modality == "language" else ()
    assert model.output_shape == (None, *per_position, spec.num_classes)
    acts = activation_layers(model)
    assert acts, "the activation under test must appear in the model"
    assert all(isinstance(a, type(relu_zoo.get(activation))) for a in acts
               if type(a).__module__.startswith("relu_zoo"))
    # No two activation layers are the same object or share a variable.
    assert len({id(a) for a in acts}) == len(acts)
    variable_ids = [id(v) for a in acts for v in a.weights]
    assert len(set(variable_ids)) == len(variable_ids)
    x, y = mock_batch(spec)
    loss = compile_model(model).train_on_batch(x, y)
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    assert np.isfinite(loss)


CONTEXT = sorted(name for name, record in RECORDS.items() if record.ranks is not None)


@pytest.mark.parametrize("activation", CONTEXT)
def test_an_activation_that_needs_context_goes_where_it_has_one(activation):
    """FReLU, DY-ReLU and meta-ACON (their records' `ranks`) build where every use site is a feature map with
    positions, and are refused, with one line that names the problem and the fix, in a model with rank-2 features at
    a use site or a causal one."""
    fits = [("airbench", "image", {}), ("cnn", "image", {"dense_units": 0}), ("wavecnn", "speech", {}),
            ("cnn", "text", {}), ("transformer", "text", {})]
    for model_name, modality, kwargs in fits:
        model = models.create_model(model_name, task=SMALL_SPECS[modality], activation=activation,
                                    **{**SMALL_KWARGS[model_name], **kwargs})
        assert any(isinstance(a, RECORDS[activation].layer) for a in activation_layers(model)), model_name
    with pytest.raises(ValueError, match=rf"^Model 'mlp' applies its activation to tensors of rank 2 \(batch, "
                                         rf"features\), and {activation} draws on the positions around each element: "
                                         r"it takes inputs of rank .*; for image tasks: airbench\.$"):
        models.create_model("mlp", task=SMALL_SPECS["image"], activation=activation, width=8)
    with pytest.raises(ValueError, match=r"^Model 'cnn' applies its activation to tensors of rank 2 .*"
                                         r"for speech tasks: wavecnn\.$"):
        models.create_model("cnn", task=SMALL_SPECS["speech"], activation=activation, **SMALL_KWARGS["cnn"])
    with pytest.raises(ValueError, match=r"^Model 'decoder' predicts each position from the ones before it"):
        models.create_model("decoder", task=SMALL_SPECS["language"], activation=activation,
                            **SMALL_KWARGS["decoder"])


# Fast subset: the custom ReLURNNCell; CI (slow) adds an image model and fasttext's own layer; the full suite
# saves every model.
FAST_SAVE_LOAD = (("relu_rnn", "text"),)
CI_SAVE_LOAD = (("mlp", "image"), ("fasttext", "text"))


@pytest.mark.parametrize("model_name,modality", [
    c if c in FAST_SAVE_LOAD else pytest.param(*c, marks=pytest.mark.slow) if c in CI_SAVE_LOAD
    else pytest.param(*c, marks=(pytest.mark.slow, pytest.mark.exhaustive)) for c in COMBOS])
def test_save_load_round_trip_safe_mode(tmp_path, model_name, modality):
    spec = SMALL_SPECS[modality]
    keras.utils.set_random_seed(1)
    # PReLU: learned weights must be saved; SReLU: several parameters per layer.
    for activation in ("prelu", "srelu"):
        model = models.create_model(model_name, task=spec, activation=activation, **SMALL_KWARGS[model_name])
        x, y = mock_batch(spec, seed=2)
        compile_model(model, lr=1e-2).fit(x, y, epochs=2, verbose=0)  # move the parameters off their init
        path = tmp_path / f"{model_name}_{modality}_{activation}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_relu_rnn_cell_trains_its_learnable_activation():
    spec = SMALL_SPECS["speech"]
    keras.utils.set_random_seed(0)
    model = models.create_model("relu_rnn", task=spec, activation="prelu", units=8)
    cell = next(l for l in all_layers(model) if isinstance(l, models.ReLURNNCell))
    before = np.array(cell.activation.alpha)
    x, y = mock_batch(spec, n=16)
    compile_model(model, lr=1e-2).fit(x, y, epochs=3, verbose=0)
    assert not np.allclose(before, np.array(cell.activation.alpha)), "PReLU inside the cell must be trained"
    assert any("alpha" in v.path for v in model.trainable_weights)


def test_irnn_initialization_is_identity():
    cell = models.ReLURNNCell(6, activation="relu", irnn=True, irnn_scale=0.5)
    cell.build((None, 3))
    np.testing.assert_allclose(np.array(cell.recurrent_kernel), 0.5 * np.eye(6))
    np.testing.assert_array_equal(np.array(cell.bias), np.zeros(6))
    assert np.std(np.array(cell.kernel)) < 0.01


def test_crelu_in_recurrent_cell_keeps_state_size():
    cell = models.ReLURNNCell(8, activation="crelu")
    layer = keras.layers.RNN(cell)
    out = layer(np.zeros((2, 5, 3), "float32"))
    assert out.shape == (2, 8)
    with pytest.raises(ValueError, match="units"):
        models.ReLURNNCell(7, activation="crelu")


@pytest.mark.parametrize("activation,expected", [("relu", "he_normal"), ("prelu", "he_normal"),
                                                 ("selu", "lecun_normal"), ("gelu", "glorot_uniform"),
                                                 ("leaky:negative_slope=0.2", "he_normal")])
def test_initializer_follows_activation_family(activation, expected):
    assert models.kernel_initializer_for(activation) == expected
    model = models.create_model("mlp", task=SMALL_SPECS["image"], activation=activation, width=4)
    dense = next(l for l in model.layers if isinstance(l, keras.layers.Dense))
    assert type(dense.kernel_initializer).__name__.lower().replace("_", "") == expected.replace("_", "")


def test_unknown_model_and_modality_mismatch_are_clear():
    with pytest.raises(ValueError, match=r"Unknown model 'cnnn'.*Did you mean 'cnn'"):
        models.create_model("cnnn", task=SMALL_SPECS["image"])
    with pytest.raises(ValueError, match=r"'rnn' does not support image.*Models for image: airbench, cnn, cnn_small, mlp"):
        models.create_model("rnn", task=SMALL_SPECS["image"])
    with pytest.raises(ValueError, match="Unknown option"):
        models.create_model("mlp", task=SMALL_SPECS["image"], widht=3)
    with pytest.raises(ValueError, match="Unknown activation"):
        models.create_model("mlp", task=SMALL_SPECS["image"], activation="relux")


def test_none_kwargs_keep_builder_defaults():
    a = models.create_model("mlp", task=SMALL_SPECS["image"], width=None, depth=None)
    b = models.create_model("mlp", task=SMALL_SPECS["image"])
    assert a.count_params() == b.count_params()


def test_create_model_from_input_spec():
    model = models.create_model("cnn", input_shape=(12, 12, 1), num_classes=5, modality="image",
                                filters=(4,), dense_units=4)
    assert model.output_shape == (None, 5)
    with pytest.raises(ValueError, match="Missing: modality"):
        models.create_model("cnn", input_shape=(12, 12, 1), num_classes=5)


@pytest.mark.slow  # builds every model at its real size
@requires_tasks
def test_documented_parameter_counts_match():
    path = docs_tables.GENERATED / "params.md"
    assert path.read_text() == docs_tables.page_text("params.md"), (
        f"{path} is stale: regenerate with `python tools/docs_tables.py`")


REAL_TASKS = {"image": "mnist", "text": "imdb_reviews", "speech": "spoken_digit", "language": "imdb_bytes"}


def _real_data_available(task):
    import os

    data_dir = os.environ.get("TFDS_DATA_DIR")
    from relu_zoo import tasks

    return bool(data_dir) and (Path(data_dir) / tasks.get(task).tfds_name.split("/")[0]).is_dir()


@pytest.fixture(scope="module")
def real_batches():
    batches = {}
    for modality, task in REAL_TASKS.items():
        if not _real_data_available(task):
            import os

            if os.environ.get("CI"):
                pytest.fail(f"TFDS_DATA_DIR has no {task}: CI must run the real-data model tests")
            pytest.skip(f"{task} not prepared in TFDS_DATA_DIR")
        from relu_zoo import tasks

        data = tasks.get(task).load(batch_size=64, max_examples={"train": 64, "validation": 8, "test": 8})
        batches[modality] = (data.spec, next(iter(data.train)))
    return batches


# CI: one model per modality on its real data (the other pairs train on mock data above); the full suite: all.
REAL_DATA_CI = (("cnn", "image"), ("rnn", "text"), ("cnn", "speech"))


@pytest.mark.slow
@requires_tasks
@pytest.mark.parametrize("model_name,modality", [
    c if c in REAL_DATA_CI else pytest.param(*c, marks=pytest.mark.exhaustive) for c in COMBOS])
def test_a_few_steps_on_real_data_reduce_the_loss(real_batches, model_name, modality):
    spec, (x, y) = real_batches[modality]
    keras.utils.set_random_seed(0)
    model = models.create_model(model_name, task=spec, activation="prelu", **SMALL_KWARGS[model_name])
    compile_model(model, lr=3e-3)
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < before, (before, after)


def test_fasttext_bigram_ids_hash_pairs_and_mask_padding():
    from relu_zoo.models.fasttext import BigramIds

    layer = BigramIds(vocab_size=50, buckets=64)
    ids = np.array([[5, 7, 5, 7, 0, 0], [7, 5, 3, 2, 9, 4]])
    out = np.asarray(layer(ids))
    assert out.shape == (2, 11) and layer.compute_output_shape((None, 6)) == (None, 11)
    np.testing.assert_array_equal(out[:, :6], ids)  # the words themselves come first
    bigrams = out[:, 6:]
    assert bigrams[0, 0] == bigrams[0, 2] != bigrams[0, 1]  # the same pair, the same bucket; (5,7) != (7,5)
    assert bigrams[0, 3] == bigrams[0, 4] == 0  # pairs ending in padding are padding
    assert np.all((bigrams[1] >= 50) & (bigrams[1] < 50 + 64))  # after the vocabulary, inside the buckets
    assert len(set(bigrams[1])) > 3  # distinct pairs spread over the buckets
    # Padding (and pairs ending in it) is masked: the pooled vector is the mean of the 4 words and 3 bigrams.
    spec = SMALL_SPECS["text"]
    keras.utils.set_random_seed(0)
    model = models.create_model("fasttext", task=spec, activation="prelu", **SMALL_KWARGS["fasttext"])
    pool = next(layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling1D))
    embedding = next(layer for layer in model.layers if isinstance(layer, keras.layers.Embedding))
    review = np.zeros((1, 16), "int64")
    review[0, :4] = [3, 4, 5, 6]
    rows = np.asarray(model.get_layer(index=1)(review))[0]
    rows = rows[rows > 0]
    assert len(rows) == 7
    pooled = keras.Model(model.inputs, pool.output).predict(review, verbose=0)[0]
    np.testing.assert_allclose(pooled, np.asarray(embedding.embeddings)[rows].mean(axis=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="buckets=0"):
        BigramIds(vocab_size=50, buckets=0)


def test_masked_global_max_pooling_skips_padding():
    from relu_zoo.models.common import MaskedGlobalMaxPooling1D

    x = np.array([[[-3.0, 1.0], [-1.0, -2.0], [5.0, 9.0]], [[-4.0, -5.0], [7.0, 7.0], [7.0, 7.0]]], "float32")
    mask = np.array([[True, True, False], [False, False, False]])
    out = np.asarray(MaskedGlobalMaxPooling1D()(x, mask=mask))
    np.testing.assert_array_equal(out, [[-1.0, 1.0], [0.0, 0.0]])  # padding ignored; all-padding -> 0
    np.testing.assert_array_equal(np.asarray(MaskedGlobalMaxPooling1D()(x)), x.max(axis=1))


def test_airbench_whitening_decorrelates_patches_and_flip_tta_round_trips(tmp_path):
    from relu_zoo.models.airbench import WHITEN_KERNEL, whiten
    from relu_zoo.models.common import flip_tta

    model = models.create_model("airbench", input_shape=(32, 32, 3), num_classes=10, modality="image",
                                activation="prelu", widths=(8, 16, 16))
    rng = np.random.default_rng(0)
    base = rng.normal(size=(64, 33, 33, 3))
    images = (base[:, :32, :32] + 0.8 * base[:, 1:, 1:] + 0.3 * base[:, :32, :32, ::-1]).astype("float32")
    whiten(model, images)
    layer = model.get_layer("whiten")
    assert not layer.trainable
    out = keras.ops.convert_to_numpy(layer(images)).reshape(-1, layer.filters)
    half = 3 * WHITEN_KERNEL**2
    cov = out[:, :half].T @ out[:, :half] / len(out)
    np.testing.assert_allclose(cov, np.eye(half), atol=5e-3)  # whitened: identity covariance
    np.testing.assert_allclose(out[:, half:], -out[:, :half], atol=1e-5)  # and its negative

    tta = flip_tta(model)
    x = images[:4]
    expected = (model(x) + model(x[:, :, ::-1])) / 2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tta(x)), keras.ops.convert_to_numpy(expected),
                               atol=1e-5)
    path = tmp_path / "tta.keras"
    tta.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(tta(x)),
                               atol=1e-6)


def test_airbench_rejects_small_images_and_bad_widths():
    with pytest.raises(ValueError, match="at least 9x9"):
        models.create_model("airbench", input_shape=(8, 8, 1), num_classes=10, modality="image")
    with pytest.raises(ValueError, match="three positive integers"):
        models.create_model("airbench", input_shape=(32, 32, 3), num_classes=10, modality="image", widths=(8, 16))


def test_scaled_shift_learns_multiplier_squared_times_faster_under_sgd_and_round_trips(tmp_path):
    from relu_zoo.models.airbench import ScaledShift

    x = np.ones((4, 3), dtype="float32")
    moved = {}
    for multiplier in (1.0, 8.0):
        layer = ScaledShift(multiplier)
        model = keras.Sequential([keras.Input((3,)), layer])
        model.compile(keras.optimizers.SGD(0.01), "mse")
        model.train_on_batch(x, np.zeros_like(x) + 1.0)
        moved[multiplier] = multiplier * keras.ops.convert_to_numpy(layer.shift)
    np.testing.assert_allclose(moved[8.0], 64 * moved[1.0], rtol=1e-5)
    model.save(tmp_path / "s.keras")
    loaded = keras.saving.load_model(tmp_path / "s.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="multiplier"):
        ScaledShift(0)

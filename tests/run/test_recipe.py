"""The training-recipe options of the runner: warm-up, linear schedule, SGD momentum and weight decay, label
smoothing, precision, flip test-time averaging, and a model's `prepare` hook (airbench's whitening)."""

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import models, tasks
from relu_zoo.run import spec as spec_lib
from relu_zoo.run.plan import run_grid
from relu_zoo.losses import SparseSmoothedCrossentropy
from relu_zoo.run.optim import make_optimizer
from relu_zoo.schedules import Warmup
from relu_zoo.run.train import build_model
from relu_zoo.run.distribute import Distribution


def _config(**overrides):
    return spec_lib.resolve(overrides=overrides)


def test_warmup_rises_linearly_then_hands_over_to_the_schedule():
    config = _config(optimizer="sgd", schedule="linear", warmup=0.25, learning_rate=0.8, epochs=1)
    optimizer = make_optimizer(config, steps_per_epoch=100)
    lr = []
    for step in (0, 12, 24, 25, 62, 99):
        optimizer.iterations.assign(step)
        lr.append(float(optimizer.learning_rate))
    np.testing.assert_allclose(lr[:3], [0.8 / 25, 0.8 * 13 / 25, 0.8], rtol=1e-6)
    # Then linear from 0.8 at step 25 to 0 at step 100.
    np.testing.assert_allclose(lr[3:], [0.8, 0.8 * (1 - 37 / 75), 0.8 * (1 - 74 / 75)], rtol=1e-5)
    schedule = Warmup(keras.optimizers.schedules.PolynomialDecay(0.8, 75, end_learning_rate=0.0), 25)
    restored = Warmup.from_config(schedule.get_config())
    assert float(restored(62)) == pytest.approx(lr[4])
    assert optimizer.momentum == pytest.approx(0.9) and optimizer.nesterov


def test_no_warmup_keeps_the_old_schedules():
    optimizer = make_optimizer(_config(), steps_per_epoch=10)
    assert float(optimizer.learning_rate) == pytest.approx(2e-3)


def test_label_smoothing_equals_keras_categorical_crossentropy_on_one_hot_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 10)).astype("float32") * 3
    labels = rng.integers(0, 10, size=6)
    ours = SparseSmoothedCrossentropy(0.2)(labels, logits)
    keras_loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)(
        np.eye(10, dtype="float32")[labels], logits)
    assert float(ours) == pytest.approx(float(keras_loss), rel=1e-6)
    assert SparseSmoothedCrossentropy.from_config(SparseSmoothedCrossentropy(0.2).get_config()).label_smoothing == 0.2


@pytest.mark.parametrize("key,value,message", [
    ("momentum", 1.0, "in \\[0, 1\\)"), ("warmup", -0.1, "in \\[0, 1\\)"), ("label_smoothing", "x", "in \\[0, 1\\)"),
    ("precision", "float8", "must be one of auto, float32"), ("schedule", "step", "must be one of constant")])
def test_recipe_values_are_checked(key, value, message):
    with pytest.raises(spec_lib.ConfigError, match=message):
        _config(**{key: value})


def test_tta_is_refused_for_text_tasks():
    with pytest.raises(spec_lib.ConfigError, match="image tasks only"):
        _config(tasks=["imdb_reviews"], models=["rnn"], tta=True)


def test_new_keys_at_their_defaults_keep_the_identity_of_stored_sweeps():
    identity = spec_lib.identity(_config())
    assert not {"momentum", "warmup", "label_smoothing", "precision", "tta"} & set(identity)
    assert spec_lib.identity(_config(warmup=0.1))["warmup"] == 0.1


def test_build_model_applies_precision_weight_decay_exclusions_and_prepare(mock_tfds):
    with mock_tfds(64):
        data = tasks.get("cifar10").load(batch_size=16, seed=0)
    config = _config(tasks=["cifar10"], models=["airbench"], activations=["prelu"], optimizer="sgd",
                     weight_decay=0.01, precision="mixed_bfloat16", model_kwargs={"widths": [4, 8, 8]})
    [run] = run_grid(config)[:1]
    before = keras.config.dtype_policy().name
    model, _ = build_model(run, config, data, Distribution())
    assert keras.config.dtype_policy().name == before  # the global policy is restored
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.dtype_policy.name == "mixed_bfloat16" for layer in convs)
    prelus = [layer for layer in model.layers if isinstance(layer, relu_zoo.PReLU)]
    assert prelus and all(layer.weights[0].dtype == "float32" for layer in prelus)  # slopes stay float32
    # The whitening conv was set from the data: its filters come in +/- pairs.
    kernel = keras.ops.convert_to_numpy(model.get_layer("whiten").kernel)
    half = kernel.shape[-1] // 2
    np.testing.assert_allclose(kernel[..., half:], -kernel[..., :half])
    # Weight decay reaches the conv kernels but not PReLU slopes nor batch-norm shifts.
    # One step with zero gradients from zero momentum changes exactly the decayed variables.
    variables = model.trainable_variables
    before = [keras.ops.convert_to_numpy(v).copy() for v in variables]
    model.optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in variables])
    decayed = {v.path for v, b in zip(variables, before) if not np.array_equal(keras.ops.convert_to_numpy(v), b)}
    assert any("conv2d" in p and p.endswith("kernel") for p in decayed)
    assert not any(p.endswith("alpha") or "batch_normalization" in p for p in decayed)


def test_auto_precision_picks_bfloat16_only_where_the_hardware_computes_it(tmp_path):
    from relu_zoo.run.precision import auto_precision, cpu_flags, dtype_policy

    # CPUs: native bfloat16 (AMX or AVX-512 BF16) or float32 (bfloat16 would be emulated, several times slower).
    assert auto_precision(gpus=[], flags={"avx2", "amx_bf16", "amx_tile"}) == "mixed_bfloat16"
    assert auto_precision(gpus=[], flags={"avx512f", "avx512_bf16"}) == "mixed_bfloat16"
    assert auto_precision(gpus=[], flags={"fma", "avx", "avx2"}) == "float32"
    assert auto_precision(gpus=[], flags=set()) == "float32"
    # GPUs: bfloat16 from compute capability 8.0 (Ampere) on, float16 before, on all of them.
    assert auto_precision(gpus=[(8, 0), (9, 0)]) == "mixed_bfloat16"
    assert auto_precision(gpus=[(8, 6), (7, 5)]) == "mixed_float16"
    # The flags are read from the first "flags" line of /proc/cpuinfo; unreadable -> none.
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()
    # A config's explicit policy is kept; "auto" becomes one of the three.
    assert dtype_policy(_config(precision="mixed_float16")) == "mixed_float16"
    assert dtype_policy(_config(precision="auto")) in ("float32", "mixed_bfloat16", "mixed_float16")

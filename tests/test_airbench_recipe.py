"""airbench94's recipe as options of the runner: reflect translate and alternating flip, the whitening bias that
learns for its first epochs, the airbench schedule, lookahead, mirror x translate TTA, training without a
validation split; and the parity benchmark's report."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_zoo import tasks
from relu_zoo.models.airbench import WhitenBias, set_whiten_bias_steps
from relu_zoo.models.common import Translate, flip_tta
from relu_zoo.run import spec as spec_lib
from relu_zoo.run.callbacks import EpochBackup, Lookahead
from relu_zoo.run.store import BACKUP_STATE
from relu_zoo.run.optim import make_optimizer
from relu_zoo.schedules import Triangle
from relu_zoo.tasks.image import alternating_coin, random_crop_flip


def _config(**overrides):
    return spec_lib.resolve(overrides=overrides)


def test_reflect_translate_mirrors_the_border_without_repeating_the_edge():
    images = np.arange(2 * 5 * 5, dtype="uint8").reshape(2, 5, 5, 1)
    out = random_crop_flip(tf.constant(images), tf.constant([3, 4]), padding=2, pad_mode="reflect").numpy()
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    for image, crop in zip(padded, out):
        windows = [image[i:i + 5, j:j + 5] for i in range(5) for j in range(5)]
        assert any(np.array_equal(crop, w) or np.array_equal(crop, w[:, ::-1]) for w in windows)


def test_alternating_flip_mirrors_each_image_in_every_other_epoch():
    images = np.random.default_rng(0).integers(0, 255, size=(64, 4, 4, 3)).astype("uint8")
    index = tf.range(64, dtype=tf.int64)
    epochs = [random_crop_flip(tf.constant(images), tf.constant([e, 9]), padding=0, flip="alternating",
                               epoch=tf.constant(e, tf.int64), index=index).numpy() for e in range(3)]
    flipped = [np.array([not np.array_equal(o, i) for o, i in zip(out, images)]) for out in epochs]
    np.testing.assert_array_equal(flipped[0], ~flipped[1])  # each image one way in epoch 0, the other in 1
    np.testing.assert_array_equal(flipped[0], flipped[2])  # and the same coin again in epoch 2
    assert 16 < flipped[0].sum() < 48  # a random half, not all or none


def test_task_options_and_training_without_validation(mock_tfds):
    task = tasks.get("cifar10").replace(crop_padding=2, pad_mode="reflect", flip="alternating",
                                        validation_every=None)
    assert task.get_config()["flip"] == "alternating"
    with mock_tfds(40):
        data = task.load(batch_size=8, seed=0)
    assert data.num_examples == {"train": 40, "validation": 0, "test": 40}
    batches = list(data.train_epochs(0, 2, seed=1))
    assert len(batches) == 10 and batches[0][0].shape == (8, 32, 32, 3)
    with pytest.raises(ValueError, match="pad_mode"):
        tasks.get("cifar10").replace(pad_mode="wrap")
    with pytest.raises(ValueError, match="flip"):
        tasks.get("cifar10").replace(flip="sometimes")


def test_sweep_keys_for_the_recipe_are_checked():
    assert _config(tta="flip").tta is True  # stored as before the other mode existed: old sweeps resume
    assert _config(tta="flip_translate").tta == "flip_translate"
    assert _config(tta="false").tta is False
    with pytest.raises(spec_lib.ConfigError, match="tta"):
        _config(tta="rotate")
    with pytest.raises(spec_lib.ConfigError, match="task_kwargs"):
        _config(tasks=["cifar10"], models=["airbench"], task_kwargs={"flip": "sometimes"})
    assert not {"lookahead", "task_kwargs"} & set(spec_lib.identity(_config()))
    preset = spec_lib.resolve(preset="cifar10")
    assert preset.lookahead and preset.tta == "flip_translate" and preset.schedule == "airbench"


def test_airbench_schedule_is_airbench94s():
    config = _config(optimizer="sgd", schedule="airbench", warmup=0.23, learning_rate=1.5, epochs=1)
    optimizer = make_optimizer(config, steps_per_epoch=100)
    lr = []
    for step in (0, 11, 23, 61, 100):
        optimizer.iterations.assign(step)
        lr.append(float(optimizer.learning_rate))
    expected = [0.2, 0.2 + 0.8 * 11 / 23, 1.0, 1.0 - 0.93 * 38 / 77, 0.07]
    np.testing.assert_allclose(lr, [1.5 * f for f in expected], rtol=1e-5)
    assert Triangle.from_config(Triangle(1.5, 100, 23).get_config()).get_config() == Triangle(1.5, 100, 23).get_config()


def test_whiten_bias_learns_for_its_steps_then_stays_fixed():
    inputs = keras.Input((4,))
    layer = WhitenBias(epochs=2, name="whiten_bias")
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    set_whiten_bias_steps(model, 3)  # 2 epochs x 3 steps
    x, y = np.ones((8, 4), "float32"), np.full((8, 1), 5.0, "float32")
    outputs = []
    for _ in range(10):
        model.train_on_batch(x, y)
        outputs.append(keras.ops.convert_to_numpy(layer(x[:1])).copy())
    assert not np.allclose(outputs[0], outputs[4])  # it learned during its 6 steps
    # Afterwards momentum still moves the variable, but the layer's output no longer follows it.
    np.testing.assert_allclose(outputs[6], outputs[9])
    assert not np.allclose(keras.ops.convert_to_numpy(layer.bias), keras.ops.convert_to_numpy(layer.fixed))
    restored = WhitenBias.from_config(layer.get_config())
    assert restored.epochs == 2
    with pytest.raises(ValueError, match="epochs"):
        WhitenBias(epochs=0)


def test_lookahead_follows_airbench_and_is_backed_up(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.BatchNormalization()(inputs)))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, y = np.random.default_rng(0).normal(size=(40, 3)).astype("float32"), np.zeros((40, 2), "float32")
    total = 12
    plain = keras.models.clone_model(model)
    plain.set_weights(model.get_weights())
    plain.compile(keras.optimizers.SGD(0.1), "mse")
    # The rule written out: after steps 5 and 10 the weights move to the lerp of the last average.
    averages = [w.copy() for w in plain.get_weights()]
    for step in range(1, total + 1):
        plain.train_on_batch(x[(step - 1) % 4 * 10:][:10], y[:10])
        if step % 5 == 0 or step == total:
            decay = 1.0 if step == total and step % 5 else 0.95**5 * (step / total) ** 3
            averages = [a + (1 - decay) * (w - a) for a, w in zip(averages, plain.get_weights())]
            plain.set_weights(averages)
    lookahead = Lookahead(total)
    backup = EpochBackup(tmp_path / "backup", extra=[lookahead])
    model.fit(x, y, batch_size=10, epochs=3, shuffle=False, verbose=0, callbacks=[lookahead, backup])
    for ours, theirs in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    saved = np.load(tmp_path / "backup" / "current" / BACKUP_STATE)
    assert len(saved.files) == len(model.non_trainable_variables) + len(lookahead.variables)


def test_flip_translate_tta_averages_airbench94s_views():
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 1)).astype("float32")

    def logits(images):
        return keras.ops.convert_to_numpy(model(images))

    def mirrored(images):
        return 0.5 * logits(images) + 0.5 * logits(images[:, :, ::-1])

    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    expected = 0.5 * mirrored(x) + 0.25 * mirrored(padded[:, 0:4, 0:4]) + 0.25 * mirrored(padded[:, 2:6, 2:6])
    tta = flip_tta(model, mode="flip_translate")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tta(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(Translate(1, 1)(x)), padded[:, 0:4, 0:4])
    with pytest.raises(ValueError, match="mode"):
        flip_tta(model, mode="rotate")


def test_parity_report_states_the_gap_and_the_step_ratio(tmp_path):
    from benchmarks import cifar10_parity

    machine = {"model": "Test CPU", "flags": ["avx2"], "cores": 2}
    records = tmp_path / "records"
    records.mkdir()
    for framework, accs in (("keras", (0.80, 0.81, 0.79)), ("pytorch", (0.81, 0.80, 0.80))):
        for seed, acc in enumerate(accs):
            (records / f"w16-64-64_e4_{framework}_seed{seed}.json").write_text(json.dumps({
                "framework": framework, "seed": seed, "widths": [16, 64, 64], "epochs": 4 if framework == "keras" else 4.0,
                "test_accuracy": acc, "test_accuracy_tta": acc + 0.01, "train_seconds": 100.0, "step_seconds": 0.5,
                "precision": "float32", "cpu": machine}))
    (tmp_path / "w16-64-64_e4_steps.json").write_text(json.dumps({
        "ratio": 0.9, "median_step_seconds": {"keras": 0.45, "pytorch": 0.5}, "precision": "float32", "steps": 3,
        "repeats": 5}))
    # The same recipe with TensorFlow's Eigen kernels: a setting of its own against the same PyTorch runs.
    for seed, acc in enumerate((0.81, 0.80, 0.81)):
        (records / f"w16-64-64_e4_eigen_keras_seed{seed}.json").write_text(json.dumps({
            "framework": "keras", "seed": seed, "widths": [16, 64, 64], "epochs": 4, "test_accuracy": acc,
            "test_accuracy_tta": acc, "train_seconds": 100.0, "step_seconds": 0.5, "precision": "float32",
            "cpu": {**machine, "tensorflow_onednn": False}}))
    # bfloat16 on both sides, on the same machine: a third setting, with its own step ratio.
    for framework, precision in (("keras", "mixed_bfloat16"), ("pytorch", "bfloat16")):
        for seed, acc in enumerate((0.78, 0.79, 0.78)):
            (records / f"w16-64-64_e4_bf16_{framework}_seed{seed}.json").write_text(json.dumps({
                "framework": framework, "seed": seed, "widths": [16, 64, 64], "epochs": 4, "test_accuracy": acc,
                "test_accuracy_tta": acc, "train_seconds": 20.0, "step_seconds": 0.1, "precision": precision,
                "cpu": machine}))
    (tmp_path / "w16-64-64_e4_bf16_steps.json").write_text(json.dumps({
        "ratio": 1.2, "median_step_seconds": {"keras": 0.12, "pytorch": 0.1}, "precision": "mixed_bfloat16",
        "steps": 3, "repeats": 5}))
    cifar10_parity.main(["report", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    bf16 = next(s for s in report["settings"] if s["precision"] == "bfloat16")
    assert bf16["test_accuracy_gap"] == 0.0 and bf16["test_accuracy_met"] and bf16["step_met"] is False
    assert len(bf16["keras"]["runs"]) == len(bf16["pytorch"]["runs"]) == 3
    onednn, eigen = sorted((s for s in report["settings"] if s is not bf16),
                           key=lambda s: s["tensorflow_onednn"] is False)
    assert onednn["test_accuracy_gap"] == pytest.approx(-0.0033333, abs=1e-6)
    assert onednn["test_accuracy_met"] is False and onednn["step_met"] is True
    assert eigen["test_accuracy_gap"] == pytest.approx(0.0033333, abs=1e-6) and eigen["step"] is None
    assert len(eigen["pytorch"]["runs"]) == len(onednn["pytorch"]["runs"]) == 3
    text = (tmp_path / "README.md").read_text()
    assert "-0.33 points (MISSED)" in text and "**0.90×** (met" in text and "Test CPU (avx2)" in text
    assert "Eigen kernels" in text and "Test CPU (avx2), bfloat16" in text
    # The README's row: the current kernels' setting only, each target judged.
    measured, judged = cifar10_parity.summary([onednn])
    assert measured.startswith("16/64/64, 4 epochs, relu, 3 + 3 seeds: Keras − PyTorch -0.33 points")
    assert "train step 0.90× PyTorch's" in measured and "Test CPU, avx2" in measured
    assert judged == "≥ −0.3 points: **missed**; step ≤ 1.0×: met"
    # Several settings: each sentence names its own, so a verdict cannot be read against the wrong one.
    measured, judged = cifar10_parity.summary(report["settings"])
    assert "float32: 16/64/64" in measured and "bfloat16: 16/64/64" in measured
    assert "bfloat16: ≥ −0.3 points: met; step ≤ 1.0×: **missed**" in judged


def test_history_of_a_run_without_validation_is_kept(tmp_path):
    from relu_zoo.run.store import history_from_csv

    # CSVLogger writes NA for the validation keys when there is no validation data.
    path = tmp_path / "history.csv"
    path.write_text("epoch,accuracy,epoch_time,loss,val_accuracy,val_epoch_time,val_loss\n"
                    "0,0.35,361.2,1.99,NA,NA,NA\n1,0.61,421.0,1.58,NA,NA,NA\n")
    assert history_from_csv(path) == [{"epoch": 0, "accuracy": 0.35, "epoch_time": 361.2, "loss": 1.99},
                                      {"epoch": 1, "accuracy": 0.61, "epoch_time": 421.0, "loss": 1.58}]


def test_alternating_flip_draws_a_new_half_for_every_run_seed():
    index = tf.range(4096, dtype=tf.int64)
    coins = [alternating_coin(index, s).numpy() for s in range(4)]
    np.testing.assert_array_equal(coins[1], alternating_coin(index, 1).numpy())  # fixed within a run
    for a in range(4):
        assert 0.45 < coins[a].mean() < 0.55  # a random half
        for b in range(a + 1, 4):
            agreement = (coins[a] == coins[b]).mean()
            assert 0.45 < agreement < 0.55, (a, b, agreement)  # independent halves agree on about half

"""train.py's training path against the plainest Keras baseline.

A CIFAR-10 comparison once showed train.py's path training worse than a plain `model.fit` of the same model.
The collapses themselves came from the recipe (dead ReLU units in the cnn's dense head after Adam's first
steps, in both paths); what the runner added was a callback that re-seeded the dropout stream, so its runs
could not be compared with a plain fit run for run. These tests hold the runner to "a plain fit, plus
bookkeeping":

- on real data, a run's per-epoch history and test accuracy equal a plain `fit` of the same model, data,
  optimizer and seed, over several seeds (exactly: no statistics, so no rare event needs to be caught);
- the random generators' states are untouched by the runner's callbacks, and a backup restores them, so a
  resumed run continues every random stream where it stopped.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import relu_zoo
from relu_zoo import models, tasks
from relu_zoo.run import spec as spec_lib
from relu_zoo.run import store
from relu_zoo.run.callbacks import DivergenceMonitor, EpochBackup, EpochTimer, SaveJSON
from relu_zoo.run.sweep import sweep
from relu_zoo.run.optim import make_optimizer
from relu_zoo.run.train import build_training_state

GUARD = {"tasks": ["cifar10"], "models": ["cnn"], "activations": ["relu"], "epochs": 2, "batch_size": 64,
         "max_train_examples": 512, "max_eval_examples": 256, "verbose": 0}


def _plain_fit(config, seed):
    """What a user would write: the same model, pipelines, optimizer and seed, and `model.fit`, nothing else."""
    data = tasks.get("cifar10").load(batch_size=config.batch_size, seed=0, max_examples={
        "train": config.max_train_examples, "validation": config.max_eval_examples,
        "test": config.max_eval_examples})
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    steps = -(-data.num_examples["train"] // config.batch_size)
    model = models.create_model("cnn", task=data.spec, activation="relu")
    model.compile(make_optimizer(config, steps), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(data.train_epochs(0, config.epochs, seed=seed), validation_data=data.validation,
                        epochs=config.epochs, steps_per_epoch=steps, verbose=0).history
    test = model.evaluate(data.test, return_dict=True, verbose=0)
    return history, test["accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.exhaustive),
                                  pytest.param(2, marks=pytest.mark.exhaustive)])
def test_a_run_trains_exactly_as_a_plain_fit_on_real_cifar10(tmp_path, real_tfds_dir, seed):
    real_tfds_dir("cifar10/3.0.2")
    config = spec_lib.resolve(overrides={**GUARD, "seeds": [seed], "out": str(tmp_path / "out")})
    sweep(config, log=lambda *_: None)
    [result] = store.load_results(tmp_path / "out")
    history, test_accuracy = _plain_fit(config, seed)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([h[key] for h in result["history"]], history[key], rtol=1e-6, err_msg=key)
    assert result["test_accuracy"] == pytest.approx(test_accuracy, abs=1e-7)


def _dropout_rrelu_model(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16,))
    x = keras.layers.Dense(32)(inputs)
    x = relu_zoo.get("rrelu")(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _generator_states(model):
    return [keras.ops.convert_to_numpy(v) for v in model.non_trainable_variables]


def _xy(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 16)).astype("float32"), rng.integers(0, 3, size=n)


def test_the_runners_callbacks_leave_the_random_streams_alone(tmp_path):
    x, y = _xy()
    plain = _dropout_rrelu_model(seed=3)
    plain.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    ran = _dropout_rrelu_model(seed=3)
    callbacks = [EpochTimer(), DivergenceMonitor(), SaveJSON(tmp_path / "d.json", lambda: {}),
                 keras.callbacks.CSVLogger(str(tmp_path / "h.csv")), EpochBackup(tmp_path / "backup")]
    ran.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=callbacks)
    # Two generators (RReLU, Dropout), each advanced once per step: 2 epochs x 4 steps.
    states = _generator_states(plain)
    assert [s[1] for s in states] == [8, 8]
    for a, b in zip(states, _generator_states(ran)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(plain.get_weights(), ran.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # trains, stops and resumes (~4 s); CI runs it
def test_a_backup_restores_the_random_streams_and_resumes_exactly(tmp_path):
    x, y = _xy()
    whole = _dropout_rrelu_model(seed=5)
    whole.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    first = _dropout_rrelu_model(seed=5)
    first.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[EpochBackup(tmp_path)])
    saved_states = _generator_states(first)
    assert store.resume_epoch(tmp_path) == 1

    # A new process would build the model with fresh generator states; the backup must bring back the saved.
    resumed = _dropout_rrelu_model(seed=99)
    assert any(not np.array_equal(a, b) for a, b in zip(_generator_states(resumed), saved_states))

    class Check(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            for a, b in zip(_generator_states(self.model), saved_states):
                np.testing.assert_array_equal(a, b)

    resumed.fit(x, y, batch_size=16, epochs=3, initial_epoch=1, shuffle=False, verbose=0,
                callbacks=[EpochBackup(tmp_path, initial_epoch=1), Check()])
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(_generator_states(whole), _generator_states(resumed)):
        np.testing.assert_array_equal(a, b)


def test_a_backup_of_another_model_is_refused(tmp_path):
    x, y = _xy()
    _dropout_rrelu_model(seed=0).fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[EpochBackup(tmp_path)])
    meta = json.loads((tmp_path / "current" / store.BACKUP_METADATA).read_text())
    assert meta == {"epoch": 1}
    other = keras.Sequential([keras.Input((16,)), keras.layers.Dense(3)])
    other.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises((RuntimeError, ValueError)):
        other.fit(x, y, epochs=2, initial_epoch=1, verbose=0, callbacks=[EpochBackup(tmp_path, initial_epoch=1)])


def test_building_the_training_state_first_traces_the_step_once_and_trains_the_same():
    import types

    x, y = _xy()
    weights = []
    for prebuild in (False, True):
        model = _dropout_rrelu_model(0)
        if prebuild:
            build_training_state(model, types.SimpleNamespace(
                validation=tf.data.Dataset.from_tensor_slices((x, y)).batch(16)))
        traces, step = [], model.train_step
        model.train_step = lambda data, step=step, traces=traces: (traces.append(1), step(data))[1]
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        weights.append([keras.ops.convert_to_numpy(w) for w in model.weights])
    assert len(traces) == 1  # with the state built first; Keras' own first trace creates it (then traces again)
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)

"""Keras' three backends: relu_zoo's layers and models import without TensorFlow on JAX and PyTorch, a `.keras`
checkpoint saved under one backend loads under every other with the same predictions, the task pipelines feed
every backend the same arrays, the commands run on each, quietly (PyTorch's threads set as they set them), and the
runner's callbacks keep their state on each.

Each backend runs in its own interpreter (Keras picks its backend once per process). A backend is tested when
this interpreter, or one listed in `RELU_ZOO_PYTHONS` (paths separated by `os.pathsep`; .ci/run lists a
fresh venv per backend), has its package; the others are skipped, and a pair needs both of its backends.
TensorFlow may be installed beside JAX or PyTorch (as in a user's venv with relu_zoo installed, which reads
the data with tf.data): what is checked is that relu_zoo's own imports do not load it, not Keras' (which
imports it to save a model or to seed where it is installed).
"""

import dataclasses
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")

# Saves two small models with the relu_zoo layers that have weights or randomness (PReLU, RReLU, SReLU), airbench's
# whitening bias (int64 step counters, int32 on JAX) and the fasttext bigram hashing (int64 on TensorFlow and
# PyTorch, int32 on JAX), with their predictions.
SAVE = r"""
import json, sys
import numpy as np
import keras
import relu_zoo
from relu_zoo import models
from relu_zoo.models.airbench import WhitenBias

out = sys.argv[1]
imported = "tensorflow" in sys.modules  # relu_zoo's imports, before Keras' own use of TensorFlow below
keras.utils.set_random_seed(0)
inputs = keras.Input((6, 6, 2))
x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
x = WhitenBias(epochs=1)(x)
x = relu_zoo.PReLU()(x)
x = relu_zoo.RReLU(seed=3)(x)
x = keras.layers.Conv2D(4, 3)(x)
x = relu_zoo.SReLU()(x)
x = keras.layers.GlobalAveragePooling2D()(x)
image = keras.Model(inputs, keras.layers.Dense(3)(x))
text = models.create_model("fasttext", input_shape=(12,), num_classes=2, modality="text", vocab_size=40,
                           activation="prelu", embedding_dim=4, buckets=16, units=4)
rng = np.random.default_rng(0)
for model in (image, text):
    # Parameters away from their initial values, so the checkpoint must carry them.
    for v in model.trainable_variables:
        v.assign(rng.normal(0.3, 0.5, tuple(v.shape)).astype("float32"))
xs = {"image": rng.normal(size=(5, 6, 6, 2)).astype("float32"), "text": rng.integers(0, 40, (5, 12))}
xs["text"][:, 9:] = 0
for name, model in (("image", image), ("text", text)):
    model.save(f"{out}/{name}.keras")
    np.save(f"{out}/{name}_x.npy", xs[name])
    np.save(f"{out}/{name}_y.npy", keras.ops.convert_to_numpy(model.predict(xs[name], verbose=0)))
print(json.dumps({"backend": keras.backend.backend(), "tensorflow": imported}))
"""

LOAD = r"""
import json, sys
import numpy as np
import keras
import relu_zoo.models  # registers the models' own layers (fasttext's BigramIds)

imported = "tensorflow" in sys.modules
predictions = {}
for folder in sys.argv[1:]:
    for name in ("image", "text"):
        model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
        x = np.load(f"{folder}/{name}_x.npy")
        predictions[f"{folder}/{name}"] = keras.ops.convert_to_numpy(model.predict(x, verbose=0)).tolist()
print(json.dumps({"backend": keras.backend.backend(), "tensorflow": imported, "predictions": predictions}))
"""


@functools.cache
def interpreters():
    """backend -> a Python that has its package: this one first, then those in RELU_ZOO_PYTHONS."""
    candidates = [sys.executable] + [p for p in os.environ.get("RELU_ZOO_PYTHONS", "").split(os.pathsep) if p]
    found = {}
    for python in candidates:
        probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m)))" % (BACKENDS,)
        result = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        interpreters.found[python] = result.stdout.split()
        for backend in result.stdout.split():
            found.setdefault(backend, python)
    return found


interpreters.found = {}  # python -> the backends' packages it has


def _env(backend):
    return {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]), "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}


def _python(backend, needs_tensorflow=False):
    python = interpreters().get(backend)
    if python is None:
        pytest.skip(f"no Python with {backend} here (list one in RELU_ZOO_PYTHONS)")
    if needs_tensorflow and "tensorflow" not in interpreters.found[python]:
        pytest.skip(f"the Python with {backend} ({python}) has no TensorFlow, which reads the data")
    return python


def run(backend, script, *args, needs_tensorflow=False):
    python = _python(backend, needs_tensorflow)
    result = subprocess.run([python, "-c", script, *map(str, args)], capture_output=True, text=True,
                            env=_env(backend), cwd=ROOT, timeout=600)
    assert result.returncode == 0, f"{backend}: exit {result.returncode}\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    return report


def command(backend, *argv, cwd=ROOT):
    """`relu-zoo ARGV` (as `python -m relu_zoo.console`) in the backend's Python, with a user's environment: none
    of the variables that quiet TensorFlow."""
    env = {k: v for k, v in _env(backend).items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RELU_ZOO_VERBOSE")}
    return subprocess.run([_python(backend, needs_tensorflow=True), "-m", "relu_zoo.console", *map(str, argv)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """backend -> folder of the checkpoints saved under it (the backends available here)."""
    folders = {}
    for backend in BACKENDS:
        if backend in interpreters():
            folder = tmp_path_factory.mktemp(f"saved_{backend}")
            report = run(backend, SAVE, folder)
            # Importing relu_zoo and building models never needs TensorFlow on the other backends.
            assert report["tensorflow"] == (backend == "tensorflow"), report
            folders[backend] = folder
    return folders


@pytest.mark.parametrize("loader", BACKENDS)
def test_checkpoints_of_every_backend_load_with_the_same_predictions(request, loader):
    if loader not in interpreters():
        pytest.skip(f"no Python with {loader} here (list one in RELU_ZOO_PYTHONS)")
    if len(interpreters()) < 2:
        pytest.skip(f"only {loader} is available: nothing saved under another backend")
    saved = request.getfixturevalue("saved")  # only now: saving costs a process per backend
    report = run(loader, LOAD, *(saved[b] for b in saved))
    assert report["tensorflow"] == (loader == "tensorflow"), report
    for saver, folder in saved.items():
        for name in ("image", "text"):
            got = np.asarray(report["predictions"][f"{folder}/{name}"], "float32")
            expected = np.load(folder / f"{name}_y.npy")
            # Same weights and ops; only the backends' float32 kernels (summation order) may differ.
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} saved under {saver}, loaded under {loader}")


def test_keras_backend_is_read_as_keras_reads_it(monkeypatch, tmp_path):
    # relu_zoo imports TensorFlow (quietly) only for the TensorFlow backend, decided before Keras is imported.
    from relu_zoo import _logs

    monkeypatch.delitem(sys.modules, "keras")
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert _logs.keras_backend() == "tensorflow"  # Keras' default, without a keras.json
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    assert _logs.keras_backend() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert _logs.keras_backend() == "torch"


def test_bigram_hash_in_int32_gives_the_int64_ids():
    # JAX without x64 hashes fasttext's bigrams in int32: the ids, so a checkpoint's embeddings rows, must match.
    from keras import ops

    from relu_zoo.models.fasttext import _HASH_MULTIPLIER, _hash_int32

    pair = np.random.default_rng(0).integers(0, 46340**2, 20000)
    for buckets in (2**16, 1000, 7):
        got = ops.convert_to_numpy(_hash_int32(ops.convert_to_tensor(pair.astype("int32")), 46340, buckets))
        expected = pair.astype("uint64") * _HASH_MULTIPLIER % 2**32 % buckets
        np.testing.assert_array_equal(got, expected)


# The first batches of each kind of pipeline (a normalized image, augmented images, token ids, a spectrogram), as
# digests of their bytes.
DATA = r"""
import hashlib, json, sys
import numpy as np
import keras
from relu_zoo import tasks

digests = {}
for name in sys.argv[1:]:
    data = tasks.get(name).load(batch_size=32, seed=0, max_examples={"train": 96, "validation": 32, "test": 32})
    for split, ds in (("train", data.train_epochs(0, 2)), ("test", data.test)):
        digest = hashlib.sha1()
        for x, y in ds.as_numpy_iterator():
            digest.update(np.ascontiguousarray(x).tobytes())
            digest.update(np.ascontiguousarray(y).tobytes())
        digests[f"{name}/{split}"] = digest.hexdigest()
print(json.dumps({"backend": keras.backend.backend(), "digests": digests}))
"""

PIPELINES = {"mnist": "mnist/3.0.1", "cifar10": "cifar10/3.0.2", "imdb_reviews": "imdb_reviews/plain_text/1.0.0",
             "spoken_digit": "spoken_digit/1.0.9"}


@pytest.mark.slow  # reads the real datasets in a fresh interpreter per backend
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_pipelines_feed_every_backend_the_arrays_tensorflow_gets(backend, real_tfds_dir):
    real_tfds_dir(*PIPELINES.values())
    got = run(backend, DATA, *PIPELINES, needs_tensorflow=True)["digests"]
    assert got == run("tensorflow", DATA, *PIPELINES)["digests"]


# Raw inputs of each kind through each kind of checkpoint: probabilities of strings, waveforms and uint8 images.
RAW = r"""
import json, sys
import numpy as np
import keras
from relu_zoo import pretrained

rng = np.random.default_rng(0)
inputs = {
    "rnn_prelu.imdb_reviews": np.array(["A wonderful film, I loved every minute.", "Dull, slow and far too long.",
                                        ""], dtype=object),
    "cnn_relu.spoken_digit": rng.integers(-3000, 3000, (3, 6000)).astype("int64"),
    "cnn_relu.mnist": rng.integers(0, 256, (3, 28, 28, 1)).astype("uint8"),
    # airbench's whitening bias and flip x translate averaging.
    "airbench_relu.cifar10": rng.integers(0, 256, (3, 32, 32, 3)).astype("uint8"),
}
probabilities = {}
for name, x in inputs.items():
    model = pretrained.load(name, raw_inputs=True, compile=False)
    probabilities[name] = np.asarray(model.predict_on_batch(x)).tolist()
print(json.dumps({"backend": keras.backend.backend(), "probabilities": probabilities}))
"""


@pytest.mark.slow  # a fresh interpreter per backend, loading four checkpoints
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_raw_input_checkpoints_take_strings_waveforms_and_images(backend):
    got = run(backend, RAW, needs_tensorflow=True)["probabilities"]
    expected = run("tensorflow", RAW)["probabilities"]
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.slow  # two short sweeps on real data in a fresh interpreter
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_train_runs_quietly_and_records_its_backend(backend, tmp_path, real_tfds_dir):
    real_tfds_dir("mnist/3.0.1")
    out = tmp_path / "sweep"
    result = command(backend, "train", "--task", "mnist", "--model", "cnn_small", "--activations", "relu,prelu",
                     "--seeds", "1", "--epochs", "1", "--max-train-examples", "256", "--max-eval-examples", "128",
                     "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert {r["backend"] for r in runs} == {backend}
    assert all(backend in r["versions"] for r in runs)


def test_a_report_says_when_its_runs_mix_backends():
    from relu_zoo.run.report import backend_lines

    older = {"run_id": "a"}  # records made before runs named their backend: TensorFlow's
    assert backend_lines([older, {"run_id": "b", "backend": "tensorflow"}]) == []
    (line, _) = backend_lines([older, {"run_id": "b", "backend": "jax"}, {"run_id": "c", "backend": "jax"}])
    assert line.startswith("**Mixed Keras backends:** jax (2 runs), tensorflow (1 runs).")


def test_an_export_the_backend_cannot_write_is_one_error_naming_the_fix(monkeypatch):
    import keras

    from relu_zoo import deploy

    if keras.backend.backend() == "tensorflow":
        deploy.check_backend("tflite")  # TensorFlow writes every format
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ValueError, match=r"not supported on Keras' torch backend .* KERAS_BACKEND=tensorflow"):
        deploy.check_backend("saved_model")


@pytest.mark.parametrize("backend, format", [("jax", "tflite"), ("torch", "saved_model")])
def test_export_refuses_a_format_of_another_backend_in_one_line(backend, format, tmp_path):
    result = command(backend, "export", "cnn_prelu.mnist", "--format", format, "--out", tmp_path / "model")
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: Exporting to {format} is not supported on Keras' {backend} backend")
    assert "KERAS_BACKEND=tensorflow" in line and not list(tmp_path.iterdir())


# airbench's lookahead and the epoch backups in a fit (the cifar10 preset's callbacks); the weights at the end.
LOOKAHEAD = r"""
import json, sys
import numpy as np
import keras
from relu_zoo.run.callbacks import EpochBackup, Lookahead

keras.utils.set_random_seed(0)
inputs = keras.Input((3,))
model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.BatchNormalization()(inputs)))
model.compile(keras.optimizers.SGD(0.1), "mse")
x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
lookahead = Lookahead(12)
model.fit(x, np.zeros((40, 2), "float32"), batch_size=10, epochs=3, shuffle=False, verbose=0,
          callbacks=[lookahead, EpochBackup(sys.argv[1], extra=[lookahead])])
averages = [keras.ops.convert_to_numpy(v).tolist() for v in lookahead.variables]
weights = [keras.ops.convert_to_numpy(v).tolist() for v in model.variables if "float" in str(v.dtype)]
print(json.dumps({"backend": keras.backend.backend(), "averages": averages, "weights": weights}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_lookahead_averages_become_the_weights_on_every_backend(backend, tmp_path):
    # On JAX the train step donates the model's arrays: an average sharing one was deleted with it.
    report = run(backend, LOOKAHEAD, tmp_path / "backup")
    for average, weight in zip(report["averages"], report["weights"], strict=True):
        np.testing.assert_allclose(weight, average)
    assert (tmp_path / "backup" / "current").exists()


# A relu_zoo command (its argv[0] a file of the package) on PyTorch, then what its threads are set to.
THREADS = r"""
import json, os, sys
sys.argv[0] = os.path.join(sys.argv[1], "relu_zoo", "console.py")
import relu_zoo
import keras, torch
from relu_zoo.run import jobs

policy = os.environ.get("OMP_WAIT_POLICY")
jobs.use_threads(1)
print(json.dumps({"backend": keras.backend.backend(), "policy": policy, "threads": torch.get_num_threads()}))
"""


@pytest.mark.parametrize("policy", [None, "ACTIVE"])
def test_torch_commands_let_idle_threads_sleep_and_jobs_share_the_cores(policy, monkeypatch):
    # Spinning OpenMP threads make a shared CPU's torch steps many times slower (relu_zoo._startup).
    if policy:
        monkeypatch.setenv("OMP_WAIT_POLICY", policy)
    else:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    report = run("torch", THREADS, ROOT, needs_tensorflow=True)
    assert report["policy"] == (policy or "PASSIVE")
    assert report["threads"] == 1  # `--jobs`: each process its share of the cores


def test_jobs_give_each_process_its_share_of_the_cores_on_every_backend(monkeypatch):
    from relu_zoo.run import jobs

    started = []
    monkeypatch.setattr(jobs.subprocess, "Popen", lambda command, env: started.append(env))
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 4)
    jobs.start(["--seeds", "2"], 2)
    (env,) = started
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "2"


def test_the_speed_benchmark_trains_each_cell_as_its_command_would():
    from benchmarks import backends as speed
    from relu_zoo.run import protocol, spec

    assert speed.cell_config("mnist:cnn_small") == spec.resolve()  # the default run
    cell = protocol.load("standard").config("spoken_digit_cnn")
    assert speed.cell_config("standard/spoken_digit_cnn") == cell
    parity, preset = speed.cell_config("cifar10_parity"), spec.resolve("cifar10")
    assert parity.model_kwargs["widths"] == [16, 64, 64]
    assert parity == dataclasses.replace(preset, model_kwargs=parity.model_kwargs)


def test_the_speed_report_shows_a_steps_only_cell_against_tensorflow():
    from benchmarks import backends as speed

    def row(step_s, **more):
        return {"step_s": step_s, "batch_size": 1024, "precision": "float32", "threads": {"cpus": 2}, **more}

    report = {"command": "python benchmarks/backends.py train", "cpu": "a CPU", "load_before": 0.1, "load_after": 0.2,
              "repeats_done": 2, "versions": {"tensorflow": {"keras": "3"}},
              "cells": {"cifar10_parity": {"tensorflow": row(0.5, first_step_s=20.0),
                                           "torch": row(1.0, first_step_s=9.0, step_vs_tensorflow=2.0)}}}
    page = speed.train_markdown(report)
    assert "| cifar10_parity | torch | 1024, float32 | – | – | 1000.0 ms | 9.0 s | – / 2.00× |" in page
    assert "Medians of 2 interleaved repeat(s)" in page


def test_a_run_trained_on_two_backends_is_named_when_reports_merge(tmp_path):
    from relu_zoo.run.report import collect

    for backend, accuracy in (("jax", 0.9), ("torch", 0.8)):
        run = tmp_path / backend / "runs" / "mnist__cnn__relu__seed0"
        run.mkdir(parents=True)
        (run / "result.json").write_text(json.dumps({
            "run_id": run.name, "task": "mnist", "model": "cnn", "activation": "relu", "seed": 0, "status": "ok",
            "test_accuracy": accuracy, "test_loss": 0.3, "params": 10, "history": [], "backend": backend}))
    with pytest.raises(ValueError, match="trained on jax and torch; .* report each backend's folder on its own"):
        collect([tmp_path / "jax", tmp_path / "torch"])

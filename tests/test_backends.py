"""Keras' three backends: relu_zoo imports without TensorFlow on JAX and PyTorch, and a `.keras` checkpoint
saved under one backend loads under every other with the same predictions.

Each backend runs in its own interpreter (Keras picks its backend once per process). A backend is tested when
this interpreter, or one listed in `RELU_ZOO_PYTHONS` (paths separated by `os.pathsep`; .ci/run lists a
fresh venv per backend), has its package; the others are skipped, and a pair needs both of its backends.
"""

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

# Saves two small models with the relu_zoo layers that have weights or randomness (PReLU, RReLU, SReLU) and the
# fasttext bigram hashing (int64 on TensorFlow and PyTorch, int32 on JAX), with their predictions.
SAVE = r"""
import json, sys
import numpy as np
import keras
import relu_zoo
from relu_zoo import models

out = sys.argv[1]
keras.utils.set_random_seed(0)
inputs = keras.Input((6, 6, 2))
x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
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
print(json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules}))
"""

LOAD = r"""
import json, sys
import numpy as np
import keras
import relu_zoo.models  # registers the models' own layers (fasttext's BigramIds)

predictions = {}
for folder in sys.argv[1:]:
    for name in ("image", "text"):
        model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
        x = np.load(f"{folder}/{name}_x.npy")
        predictions[f"{folder}/{name}"] = keras.ops.convert_to_numpy(model.predict(x, verbose=0)).tolist()
print(json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules,
                  "predictions": predictions}))
"""


@functools.cache
def interpreters():
    """backend -> a Python that has its package: this one first, then those in RELU_ZOO_PYTHONS."""
    candidates = [sys.executable] + [p for p in os.environ.get("RELU_ZOO_PYTHONS", "").split(os.pathsep) if p]
    found = {}
    for python in candidates:
        probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m)))" % (BACKENDS,)
        result = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        for backend in result.stdout.split():
            found.setdefault(backend, python)
    return found


def run(backend, script, *args):
    python = interpreters().get(backend)
    if python is None:
        pytest.skip(f"no Python with {backend} here (list one in RELU_ZOO_PYTHONS)")
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]), "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([python, "-c", script, *map(str, args)], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=600)
    assert result.returncode == 0, f"{backend}: exit {result.returncode}\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    return report


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

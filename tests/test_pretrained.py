"""relu_zoo.pretrained and relu_zoo.zoo: export, verify, load (also raw-input), tamper refusal — on a checkpoint exported from a
tiny real training run —, the consistency of the repository's zoo in models/, where checkpoints are found (a
checkout, distributions with a `relu_zoo.checkpoints` entry point), weights fetched on demand from a loopback
HTTP server (download, cache, truncated and wrong downloads, offline), and the two wheels installed as a user
installs them"""

import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import pretrained, scoring, zoo
from tools import docs_tables

ROOT = Path(__file__).parents[1]
ZOO = ROOT / "models"
ZOO_INDEX = json.loads((ZOO / "index.json").read_text())["checkpoints"] if (ZOO / "index.json").exists() else []


def _data_available(task):
    """Whether the TFDS dataset of `task` (a task name; variants such as spoken_digit_waveform share their
    base task's dataset) is prepared in TFDS_DATA_DIR."""
    from relu_zoo import tasks

    data_dir = os.environ.get("TFDS_DATA_DIR")
    tfds_name = tasks.get(task).tfds_name if task in tasks.list_tasks() else task
    return bool(data_dir) and (Path(data_dir) / tfds_name.split("/")[0]).is_dir()


def _checkpoint_run(task, out, *argv):
    """The run folder of a real (tiny) `train.py` run of `task` saved with --save-checkpoint into `out` (skipped
    where the task's data is not prepared; in CI a failure)."""
    if not _data_available(task):
        if os.environ.get("CI"):
            pytest.fail(f"TFDS_DATA_DIR has no {task}: CI must run the pretrained tests")
        pytest.skip(f"{task} not prepared in TFDS_DATA_DIR")
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *argv, "--seeds", "1", "--verbose", "0",
                           "--save-checkpoint", "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (Path(out) / "runs").iterdir()
    return run_dir


TINY_CNN = ["--model", "cnn", "--epochs", "1", "--max-train-examples", "256", "--max-eval-examples", "128",
            "--model-kwargs", '{"filters": [8, 16], "dense_units": 16}']


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """A zoo with one checkpoint from a real (tiny) spoken_digit training run saved with --save-checkpoint."""
    base = tmp_path_factory.mktemp("zoo")
    run_dir = _checkpoint_run("spoken_digit", base / "runs", "--task", "spoken_digit", "--activations", "prelu",
                              *TINY_CNN)
    folder = base / "models"
    folder.mkdir()
    name = zoo.export(run_dir, root=folder, target_accuracy=0.97, target_note="a 1-epoch test run")
    assert name == "cnn_prelu.spoken_digit"
    return folder


@pytest.mark.slow
def test_export_writes_a_self_describing_folder(tiny_zoo):
    name = "cnn_prelu.spoken_digit"
    assert pretrained.list_pretrained(tiny_zoo) == [name]
    meta = pretrained.verify(name, tiny_zoo)
    for key in ("task", "model", "activation", "activation_config", "seed", "epochs", "command", "metrics",
                "versions", "date", "sha256", "check", "learned_parameters"):
        assert key in meta, key
    assert set(meta["sha256"]) == {"model.keras", "preprocessor.keras", "README.md"}
    assert "--save-checkpoint" in meta["command"] and meta["learned_parameters"]
    card = (tiny_zoo / name / "README.md").read_text()
    assert "**missed** — a 1-epoch test run" in card and "alpha" in card
    assert f"s of training in float32 on {meta['machine']['model']}" in card and meta["train_seconds"] > 0
    # What `load(raw_inputs=True)` gives on the whole test split, measured on the stored checkpoint; the target
    # is judged on it.
    whole = meta["metrics"]["raw_input_test_accuracy"]
    assert f"on the whole `test` split: {100 * whole:.2f}%" in card and 0 <= whole <= 1
    assert zoo.raw_input_accuracy(meta["metrics"]) == whole
    index = json.loads((tiny_zoo / "index.json").read_text())["checkpoints"]
    assert [row["name"] for row in index] == [name]
    assert zoo.index_markdown(index) in (tiny_zoo / "README.md").read_text()


@pytest.mark.slow
def test_a_language_model_exports_with_its_bits_per_byte_and_a_sample(tmp_path):
    """A tiny byte-level language model (imdb_bytes) exported: its card and index speak in bits per byte, show
    text it wrote, and its re-check and reproduction compare bits per byte."""
    run_dir = _checkpoint_run("imdb_bytes", tmp_path / "runs", "--preset", "imdb_bytes", "--activations", "relu",
                              "--max-train-examples", "64", "--max-eval-examples", "16",
                              "--model-kwargs", '{"dim": 32, "depth": 1, "heads": 2, "ffn_dim": 64}')
    result = json.loads((run_dir / "result.json").read_text())
    name = zoo.export(run_dir, root=tmp_path / "models")
    meta = pretrained.verify(name, tmp_path / "models")
    assert meta["reproduction"] == {"metric": "test_bits_per_byte", "tolerance": 0.01}
    # The raw-input model on the run's own test windows scores what the run recorded.
    assert meta["metrics"]["raw_input_test_bits_per_byte"] == pytest.approx(result["test_bits_per_byte"], abs=2e-3)
    raw_model = pretrained.load(name, raw_inputs=True, compile=False, root=tmp_path / "models")
    scores = scoring.raw_scores(raw_model, "imdb_bytes", meta["check"]["examples"])
    assert scores["bits_per_byte"] == pytest.approx(meta["check"]["bits_per_byte"], abs=2e-3)
    assert 0 <= scores["accuracy"] <= 1 and scores["examples"] == meta["check"]["examples"]
    from relu_zoo.sample import sample

    drawn = meta["sample"]
    assert len(drawn["text"]) > 0 and drawn["text"] == sample(pretrained.load(name, root=tmp_path / "models"),
                                                              drawn["prompt"], drawn["length"],
                                                              drawn["temperature"], drawn["seed"])
    card = (tmp_path / "models" / name / "README.md").read_text()
    assert f"| test | {result['test_bits_per_byte']:.4f} |" in card and "```text\nThis movie was" in card
    assert "within ±0.0100 of" in card and f"relu-zoo sample {name}" in card
    (row,) = json.loads((tmp_path / "models" / "index.json").read_text())["checkpoints"]
    assert "| bits per byte |" in zoo.index_markdown([row]) and f"{row['test_bits_per_byte']:.4f}" in \
        zoo.index_markdown([row])


@pytest.mark.slow
def test_load_raw_inputs_equals_preprocessed_path_and_recorded_accuracy(tiny_zoo):
    name = "cnn_prelu.spoken_digit"
    meta = pretrained.metadata(name, tiny_zoo)
    raw_model = pretrained.load(name, raw_inputs=True, compile=False, root=tiny_zoo)
    accuracy, examples = scoring.raw_accuracy(raw_model, meta["task"], meta["check"]["examples"])
    assert examples == meta["check"]["examples"]
    assert abs(accuracy - meta["check"]["accuracy"]) <= 0.002
    model = pretrained.load(name, root=tiny_zoo)
    assert model.optimizer is not None
    preprocessor = keras.saving.load_model(tiny_zoo / name / pretrained.PREPROCESSOR_FILE, safe_mode=True)
    x, _ = next(iter(pretrained.raw_test_batches(meta["task"], 32, batch_size=32)))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict_on_batch(preprocessor(x))))
    np.testing.assert_allclose(raw_model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_checkpoint_trained_with_tta_has_it_in_its_raw_input_model(tmp_path):
    from relu_zoo.models.common import flip_tta

    run_dir = _checkpoint_run("mnist", tmp_path / "runs", "--task", "mnist", "--activations", "relu", *TINY_CNN,
                              "--tta", "flip_translate")
    (tmp_path / "models").mkdir()
    name = zoo.export(run_dir, root=tmp_path / "models")
    meta = pretrained.verify(name, tmp_path / "models")
    result = json.loads((run_dir / "result.json").read_text())
    assert meta["tta"] == "flip_translate" and meta["metrics"]["test_accuracy_tta"] == result["test_accuracy_tta"]
    assert "With test-time augmentation (flip_translate" in (tmp_path / "models" / name / "README.md").read_text()
    raw_model = pretrained.load(name, raw_inputs=True, compile=False, root=tmp_path / "models")
    model = pretrained.load(name, compile=False, root=tmp_path / "models")
    preprocessor = pretrained.load_preprocessor(name, root=tmp_path / "models")
    x, _ = next(iter(pretrained.raw_test_batches("mnist", 16, batch_size=16)))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(
        flip_tta(model, mode="flip_translate").predict_on_batch(preprocessor(x))))
    np.testing.assert_allclose(raw_model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-6)
    plain = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict_on_batch(preprocessor(x))))
    assert not np.allclose(raw_model.predict_on_batch(x), plain, atol=1e-6)  # the views are averaged in


def _saved_optimizer_variables(path):
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
        return len(h5["optimizer/vars"])


@pytest.mark.slow
def test_exported_model_keeps_weights_and_training_config_but_not_optimizer_state(tiny_zoo):
    (run_dir,) = (tiny_zoo.parent / "runs" / "runs").iterdir()
    trained = keras.saving.load_model(run_dir / pretrained.MODEL_FILE, safe_mode=True)
    exported = pretrained.load("cnn_prelu.spoken_digit", root=tiny_zoo)
    for a, b in zip(trained.weights, exported.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert exported.optimizer.get_config() == trained.optimizer.get_config()
    assert exported.get_compile_config()["loss"] == trained.get_compile_config()["loss"]
    assert int(exported.optimizer.iterations) == 0 < int(trained.optimizer.iterations)  # fresh state
    # The saved optimizer holds only its step counter and learning rate, not Adam's two moments per weight.
    lean = _saved_optimizer_variables(tiny_zoo / "cnn_prelu.spoken_digit" / pretrained.MODEL_FILE)
    assert lean <= 2
    assert _saved_optimizer_variables(run_dir / pretrained.MODEL_FILE) == lean + 2 * len(trained.trainable_weights)
    x = np.zeros((2, *exported.input_shape[1:]), "float32")
    exported.fit(x, np.array([0, 1]), verbose=0)  # compile=True gives a model ready to fine-tune


@pytest.mark.parametrize("activation", ["prelu", "rrelu"])
def test_a_mixed_precision_model_is_stored_computing_in_float32(tmp_path, activation):
    """bfloat16 is a training speed choice (emulated and slow on AVX2-only CPUs): the checkpoint's layers compute
    in float32 with the trained weights, and its outputs are the trained model's up to bfloat16 rounding."""
    from relu_zoo.models.registry import create_model

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        trained = create_model("airbench", "cifar10", activation=activation, widths=(8, 16, 16))
    finally:
        keras.config.set_dtype_policy(previous)
    trained.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    trained.save(tmp_path / "trained.keras")
    zoo.save_lean(tmp_path / "trained.keras", tmp_path / "lean.keras")
    lean = keras.saving.load_model(tmp_path / "lean.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in lean.layers} == {"float32"}
    for a, b in zip(trained.weights, lean.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert lean.get_compile_config()["loss"] == "sparse_categorical_crossentropy"
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    expected = np.asarray(trained(x, training=False), "float32")
    np.testing.assert_allclose(np.asarray(lean(x, training=False)), expected, atol=0.05 * np.abs(expected).max())


def test_a_model_saved_with_the_runners_schedule_and_loss_loads_compiled_after_import_relu_zoo(tmp_path):
    """A zoo checkpoint keeps its training configuration: airbench's schedule and the smoothed loss must load with
    `compile=True` in a fresh process that only imported relu_zoo (they are not Keras' own)."""
    from relu_zoo.losses import SparseSmoothedCrossentropy
    from relu_zoo.schedules import Triangle, Warmup

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(keras.optimizers.SGD(Warmup(Triangle(1.5, 100, 23), 5)), SparseSmoothedCrossentropy(0.2))
    model.save(tmp_path / "m.keras")
    code = ("import keras, relu_zoo; m = keras.saving.load_model('m.keras', safe_mode=True); "
            "print(m.optimizer.get_config()['learning_rate']['class_name'], type(m.loss).__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["Warmup", "SparseSmoothedCrossentropy"]


@pytest.mark.slow
def test_tampered_checkpoint_is_refused(tiny_zoo, tmp_path):
    name = "cnn_prelu.spoken_digit"
    shutil.copytree(tiny_zoo / name, tmp_path / name)
    pretrained.verify(name, tmp_path)
    model_file = tmp_path / name / pretrained.MODEL_FILE
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(pretrained.ChecksumError, match="model.keras has sha256"):
        pretrained.load(name, root=tmp_path)


@pytest.mark.slow
def test_unknown_name_lists_available(tiny_zoo):
    with pytest.raises(ValueError, match=r"Unknown pretrained model 'cnn_prelu.mnst'.*Available: cnn_prelu"):
        pretrained.load("cnn_prelu.mnst", root=tiny_zoo)


@pytest.mark.slow
def test_zoo_location_from_environment(tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELU_ZOO_MODELS", str(tiny_zoo))
    assert pretrained.list_pretrained() == ["cnn_prelu.spoken_digit"]


def test_repository_zoo_index_matches_its_folders():
    assert (ZOO / "index.json").is_file(), "models/index.json is generated by `relu-zoo zoo index`"
    assert pretrained.list_pretrained(ZOO) == sorted(row["name"] for row in ZOO_INDEX)
    assert zoo.index_rows(ZOO) == ZOO_INDEX
    page = (docs_tables.GENERATED / "checkpoints.md").read_text()
    assert docs_tables.checkpoint_section(ZOO_INDEX) in page, "regenerate with `python tools/docs_tables.py`"


@pytest.mark.slow
@pytest.mark.parametrize("name", [row["name"] for row in ZOO_INDEX])
def test_repository_checkpoint(name):
    """Each shipped checkpoint: hashes verify, files < 20 MB, and on the real test split (its first
    `check.examples` examples, as recorded) the raw-input model scores the recorded accuracy within 0.2 pts."""
    meta = pretrained.verify(name, ZOO)
    assert name == f"{meta['model']}_{meta['activation']}.{meta['task']}"
    for path in (ZOO / name).iterdir():
        assert path.stat().st_size < 20e6, f"{path} is over 20 MB"
    if not _data_available(meta["task"]):
        if os.environ.get("CI"):
            pytest.fail(f"TFDS_DATA_DIR has no {meta['task']}: CI must check every checkpoint")
        pytest.skip(f"{meta['task']} not prepared in TFDS_DATA_DIR")
    raw_model = pretrained.load(name, raw_inputs=True, compile=False, root=ZOO)
    accuracy, examples = scoring.raw_accuracy(raw_model, meta["task"], meta["check"]["examples"])
    assert examples == meta["check"]["examples"]
    assert abs(accuracy - meta["check"]["accuracy"]) <= 0.002, (accuracy, meta["check"])


def _checkpoint_files(root=ZOO):
    """The zoo's files relative to `root`: the index, its README and every file of each checkpoint folder (not
    the packaging beside them, nor what a build leaves there)."""
    files = {Path("index.json"), Path("README.md")}
    for name in pretrained.list_pretrained(root):
        files.update(p.relative_to(root) for p in (root / name).iterdir() if p.is_file())
    return files


def test_pyproject_installs_the_zoo_index_without_weights():
    """pyproject.toml's generated data-files table ships exactly the zoo's index: every file of models/ but the
    weights (regenerate with `python tools/docs_tables.py`)."""
    tomllib = pytest.importorskip("tomllib")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert table == docs_tables.data_files(ZOO)
    shipped = {Path(f) for files in table.values() for f in files}
    on_disk = {Path("models") / f for f in _checkpoint_files()}
    weights = {p for p in on_disk if p.name in pretrained.WEIGHT_FILES}
    assert len(weights) == 2 * len(ZOO_INDEX)
    assert shipped == on_disk - weights


# -- where checkpoints are found: the checkout, then distributions with a relu_zoo.checkpoints entry point ----

def _distribution(site, name, entry_point, checkpoints=()):
    """A minimal installed distribution in `site` (a folder on sys.path): `<name>-1.0.dist-info` declaring
    `entry_point` in the relu_zoo.checkpoints group, and a package `<name>` holding copies of the repository's
    checkpoint folders, `checkpoints` as {folder name there: repository checkpoint}."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{pretrained.ENTRY_POINTS}]\nzoo = {entry_point}\n")
    (site / name).mkdir()
    (site / name / "__init__.py").write_text("")
    for folder, checkpoint in dict(checkpoints).items():
        shutil.copytree(ZOO / checkpoint, site / name / folder)
    return site / name


def test_a_distribution_declaring_the_entry_point_adds_its_checkpoints(tmp_path, monkeypatch):
    """Any distribution can ship checkpoints: an entry point in group relu_zoo.checkpoints naming a package of
    checkpoint folders. The checkout comes first: a name it has is taken from it."""
    package = _distribution(tmp_path, "thirdparty_zoo", "thirdparty_zoo",
                            {"thirdparty_prelu.spoken_digit": SMALL, SMALL: SMALL})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert pretrained.Source(package, "thirdparty-zoo 1.0") in pretrained.sources()
    assert pretrained.sources()[0] == pretrained.Source(ZOO, "checkout")
    where = pretrained.list_pretrained(where=True)
    assert where["thirdparty_prelu.spoken_digit"] == "thirdparty-zoo 1.0" and where[SMALL] == "checkout"
    assert pretrained.checkpoint_dir(SMALL) == ZOO / SMALL
    model = pretrained.load("thirdparty_prelu.spoken_digit", compile=False)  # verified against its own metadata
    reference = pretrained.load(SMALL, compile=False)
    for a, b in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Without a checkout (an installed relu_zoo), the distribution's copy is the one used.
    monkeypatch.setattr(pretrained, "CHECKOUT", tmp_path / "no_checkout")
    assert pretrained.checkpoint_dir(SMALL) == package / SMALL
    assert pretrained.list_pretrained(where=True)[SMALL] == "thirdparty-zoo 1.0"
    # RELU_ZOO_MODELS replaces the search.
    monkeypatch.setenv(pretrained.MODELS_ENV, str(ZOO))
    assert pretrained.sources() == [pretrained.Source(ZOO, pretrained.MODELS_ENV)]


def test_a_broken_entry_point_is_skipped_with_a_warning(tmp_path, monkeypatch):
    _distribution(tmp_path, "broken_zoo", "no_such_package")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="Skipping the checkpoints of broken-zoo 1.0: .* 'no_such_package' is not "
                                         "an importable package"):
        found = pretrained.sources()
    assert [s for s in found if s.origin == "broken-zoo 1.0"] == []
    assert found[0] == pretrained.Source(ZOO, "checkout")


def test_no_checkpoints_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.MODELS_ENV, str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"Unknown pretrained model 'cnn_relu.mnist' .* Available: none. Install the "
                                         r"checkpoints: `pip install ./models`"):
        pretrained.load("cnn_relu.mnist")


# -- weights on demand: a loopback server holding the zoo ----------------------------------------------------

SMALL = "cnn_prelu.spoken_digit"  # the smallest checkpoint (0.45 MB)


@contextlib.contextmanager
def _serve(directory):
    """An HTTP server on 127.0.0.1 serving `directory`; yields its handler class (`requests` seen, `truncate`:
    how many of the next responses stop halfway) and the base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        requests = []
        truncate = 0

        def do_GET(self):
            type(self).requests.append(self.path)
            path = Path(self.translate_path(self.path))
            if type(self).truncate and path.is_file():
                type(self).truncate -= 1
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])  # then the connection closes: a cut download
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def index_only(tmp_path, monkeypatch):
    """What the wheel installs for SMALL (index.json, metadata.json, card; no weights), a served copy of its
    folder, and an empty cache in RELU_ZOO_CACHE. Returns (index root, served root)."""
    index = tmp_path / "installed"
    (index / SMALL).mkdir(parents=True)
    shutil.copy2(ZOO / "index.json", index / "index.json")
    for file in (pretrained.METADATA_FILE, pretrained.CARD_FILE):
        shutil.copy2(ZOO / SMALL / file, index / SMALL / file)
    served = tmp_path / "served"
    shutil.copytree(ZOO / SMALL, served / SMALL)
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(pretrained.BASE_URL_ENV, raising=False)
    return index, served


def _cache_files():
    root = pretrained.cache_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def test_weights_download_then_load_from_the_cache(index_only, monkeypatch):
    index, served = index_only
    assert pretrained.list_pretrained(index, where=True) == {SMALL: pretrained.DOWNLOAD}
    with _serve(served) as (handler, url):
        monkeypatch.setenv(pretrained.BASE_URL_ENV, url)
        model = pretrained.load(SMALL, compile=False, root=index)
        assert handler.requests == [f"/{SMALL}/model.keras"]
    assert _cache_files() == [SMALL, f"{SMALL}/model.keras"]  # verified, moved into place, no staging left
    assert pretrained.list_pretrained(index, where=True) == {SMALL: pretrained.DOWNLOAD}  # preprocessor missing
    shutil.copy2(ZOO / SMALL / pretrained.PREPROCESSOR_FILE, pretrained.cache_dir() / SMALL)
    assert pretrained.list_pretrained(index, where=True) == {SMALL: pretrained.CACHED}
    reference = pretrained.load(SMALL, compile=False, root=ZOO)
    for a, b in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Server stopped: the cached, verified copy is used.
    path = pretrained.checkpoint_file(SMALL, pretrained.MODEL_FILE, root=index)
    assert path == pretrained.cache_dir() / SMALL / pretrained.MODEL_FILE
    assert pretrained.load(SMALL, compile=False, root=index).count_params() == reference.count_params()


def test_a_checkout_uses_its_own_files_without_cache_or_network(index_only):
    assert pretrained.checkpoint_file(SMALL, pretrained.MODEL_FILE, root=ZOO) == ZOO / SMALL / pretrained.MODEL_FILE
    assert _cache_files() == []


def test_truncated_download_is_removed_and_restarted(index_only, monkeypatch):
    index, served = index_only
    with _serve(served) as (handler, url):
        monkeypatch.setenv(pretrained.BASE_URL_ENV, url)
        handler.truncate = 1
        with pytest.raises(pretrained.CheckpointUnavailableError, match="the download failed"):
            pretrained.checkpoint_file(SMALL, pretrained.PREPROCESSOR_FILE, root=index)
        assert _cache_files() == [SMALL]  # nothing half-written kept
        path = pretrained.checkpoint_file(SMALL, pretrained.PREPROCESSOR_FILE, root=index)  # restarted whole
        assert pretrained.sha256(path) == pretrained.metadata(SMALL, index)["sha256"][pretrained.PREPROCESSOR_FILE]
        # A cut copy in the cache (e.g. copied by hand, or from an older relu_zoo) is downloaded again.
        path.write_bytes(path.read_bytes()[:1000])
        handler.requests.clear()
        assert pretrained.checkpoint_file(SMALL, pretrained.PREPROCESSOR_FILE, root=index) == path
        assert handler.requests == [f"/{SMALL}/preprocessor.keras"]
        assert pretrained.sha256(path) == pretrained.metadata(SMALL, index)["sha256"][pretrained.PREPROCESSOR_FILE]


def test_wrong_hash_is_refused_and_removed(index_only, monkeypatch):
    index, served = index_only
    served_file = served / SMALL / pretrained.MODEL_FILE
    data = bytearray(served_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served_file.write_bytes(bytes(data))
    with _serve(served) as (handler, url):
        monkeypatch.setenv(pretrained.BASE_URL_ENV, url)
        with pytest.raises(pretrained.ChecksumError, match="does not have the sha256 its metadata records") as info:
            pretrained.load(SMALL, root=index)
    assert "the download was removed" in str(info.value) and pretrained.BASE_URL_ENV in str(info.value)
    assert _cache_files() == [SMALL]


def _assert_names_the_variables(message):
    for variable in (pretrained.CACHE_ENV, pretrained.BASE_URL_ENV, pretrained.MODELS_ENV):
        assert variable in message
    assert str(pretrained.cache_dir() / SMALL) in message


def test_offline_with_an_empty_cache_fails_with_a_clear_error(index_only, monkeypatch):
    index, _ = index_only
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        monkeypatch.setenv(pretrained.BASE_URL_ENV, f"http://127.0.0.1:{closed.getsockname()[1]}/zoo")
        with pytest.raises(pretrained.CheckpointUnavailableError) as info:
            pretrained.load(SMALL, root=index)
    assert "is not reachable: no network?" in str(info.value)
    _assert_names_the_variables(str(info.value))
    assert info.value.__cause__ is None and _cache_files() == []


def test_no_base_url_and_no_local_weights_is_a_clear_error(index_only):
    index, _ = index_only
    with pytest.raises(pretrained.CheckpointUnavailableError, match="RELU_ZOO_BASE_URL is not set") as info:
        pretrained.verify(SMALL, root=index)
    _assert_names_the_variables(str(info.value))


def test_the_listing_says_what_needs_a_download_and_how_to_get_it(index_only, monkeypatch):
    index, _ = index_only
    monkeypatch.setenv(pretrained.MODELS_ENV, str(index))
    rows, legend = pretrained.describe().split("\n\n")
    assert rows.split() == [SMALL, pretrained.DOWNLOAD]
    assert "RELU_ZOO_BASE_URL, which is not set" in legend and "pip install ./models" in legend
    shutil.copytree(ZOO / SMALL, pretrained.cache_dir() / SMALL)
    rows, legend = pretrained.describe().split("\n\n")
    assert rows.split() == [SMALL, pretrained.CACHED] and legend == f"cache: {pretrained.cache_dir()} (RELU_ZOO_CACHE)"


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv(pretrained.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert pretrained.cache_dir() == tmp_path / "xdg" / "relu_zoo"
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "mine"))
    assert pretrained.cache_dir() == tmp_path / "mine"


# -- the two wheels, installed as a user installs them ---------------------------------------------------------

@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """relu_zoo's wheel and relu-zoo-models' (the weights, from models/), built as pip builds them for
    `pip install . ./models`. No build isolation: setuptools is already here, and no network is needed.
    models/ is built from a copy without build outputs: setuptools builds in the source folder, ships whatever an
    earlier build left in its build/ folder, and would leave 47 MB of it in the checkout."""
    dist = tmp_path_factory.mktemp("dist")
    weights_source = tmp_path_factory.mktemp("weights_source") / "models"
    shutil.copytree(ZOO, weights_source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    for project in (ROOT, weights_source):
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(project), "--no-deps", "--no-build-isolation",
                               "-q", "-w", str(dist)], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    (library,) = dist.glob("relu_zoo-*.whl")
    (weights,) = dist.glob("relu_zoo_models-*.whl")
    return library, weights


@pytest.mark.slow
def test_the_weights_wheel_holds_exactly_the_zoo_and_declares_the_entry_point(wheels):
    _, weights = wheels
    with zipfile.ZipFile(weights) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
    package = {Path(n).relative_to("relu_zoo_models") for n in names if n.startswith("relu_zoo_models/")}
    assert package == _checkpoint_files() | {Path("__init__.py")}
    assert f"[{pretrained.ENTRY_POINTS}]\nrelu_zoo = relu_zoo_models" in declared
    # Released together: relu_zoo's wheel carries the index of the checkpoints that this one holds.
    assert weights.name.split("-")[1] == wheels[0].name.split("-")[1] == relu_zoo.__version__
    assert all(info.file_size < 20e6 for info in zipfile.ZipFile(weights).infolist())


def _fresh_venv(path, wheels):
    """A new virtual environment with the two wheels installed by pip, and the running environment's
    site-packages after its own (a path line in a .pth file) for relu_zoo's dependencies.

    Why not `venv --system-site-packages`: that exposes the base interpreter's packages, not this
    environment's TensorFlow, so pip would download ~600 MB of dependencies. Why not `pip install --target`:
    a venv is where users install, with its own `bin/relu-zoo`. The path line adds the folders to sys.path
    without running their .pth files, so this checkout's editable relu_zoo (an import hook installed by such a
    file) stays out, and the venv's own site-packages comes first on sys.path and in importlib.metadata: the
    test asserts that relu_zoo and the checkpoints are imported and found from the venv.
    """
    import site

    proc = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    python = path / "bin" / "python"
    # No PYTHONPATH: a checkout on it (with the relu_zoo.egg-info a build leaves) reads as relu_zoo installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           "-q", *map(str, wheels)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (venv_site,) = path.glob("lib/python*/site-packages")
    (venv_site / "_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python, venv_site


def _digit_png(path):
    """The first mnist test image, as a PNG file."""
    if not _data_available("mnist"):
        if os.environ.get("CI"):
            pytest.fail("TFDS_DATA_DIR has no mnist: CI must run the install test")
        pytest.skip("mnist not prepared in TFDS_DATA_DIR")
    import tensorflow as tf

    from relu_zoo import tasks

    image, _ = next(tasks.get("mnist").raw_splits(max_examples={"test": 1})["test"].as_numpy_iterator())
    path.write_bytes(tf.io.encode_png(image).numpy())
    return image


@pytest.mark.slow
def test_installed_wheels_load_and_predict_without_a_checkout(wheels, tmp_path):
    """`pip install . ./models` in a fresh venv, used from another folder, with an empty cache and no
    RELU_ZOO_BASE_URL: `pretrained.load` and `relu-zoo predict` work from the installed relu-zoo-models."""
    python, venv_site = _fresh_venv(tmp_path / "venv", wheels)
    image = _digit_png(tmp_path / "digit.png")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", pretrained.MODELS_ENV,
                                                              pretrained.BASE_URL_ENV)}
    env[pretrained.CACHE_ENV] = str(tmp_path / "cache")
    script = ("import json\nfrom importlib import metadata\nimport tensorflow as tf\n"
              "from relu_zoo import pretrained\n"
              "model = pretrained.load('cnn_relu.mnist', raw_inputs=True, compile=False)\n"
              "image = tf.io.decode_png(open('digit.png', 'rb').read())\n"
              "print(json.dumps({'package': pretrained.__file__, 'relu_zoo': str(metadata.distribution('relu_zoo')"
              ".locate_file('')), 'folder': str(pretrained.checkpoint_dir('cnn_relu.mnist')), "
              "'where': pretrained.list_pretrained(where=True), 'listing': pretrained.describe(), "
              "'probabilities': model.predict_on_batch(image[None]).tolist()[0]}))\n")
    proc = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(venv_site) and Path(found["relu_zoo"]) == venv_site
    assert Path(found["folder"]) == venv_site / "relu_zoo_models" / "cnn_relu.mnist"
    assert found["where"] == {row["name"]: f"relu-zoo-models {relu_zoo.__version__}" for row in ZOO_INDEX}
    reference = pretrained.load("cnn_relu.mnist", raw_inputs=True, compile=False, root=ZOO)
    expected = reference.predict_on_batch(image[None])[0]
    np.testing.assert_allclose(found["probabilities"], expected, rtol=1e-5, atol=1e-6)

    predict = subprocess.run([str(tmp_path / "venv" / "bin" / "relu-zoo"), "predict", "cnn_relu.mnist", "digit.png"],
                             capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert predict.returncode == 0, predict.stderr[-3000:]
    top = predict.stdout.strip().split(": ", 1)[1]
    assert top.startswith(f"{int(np.argmax(expected))} ({100 * expected.max():.2f}%)"), top
    # What `relu-zoo list pretrained` prints ends with the folder behind "relu-zoo-models <version>".
    assert found["listing"].endswith(f"\n\nrelu-zoo-models {relu_zoo.__version__}: {venv_site / 'relu_zoo_models'}")
    assert not (tmp_path / "cache").exists()  # nothing downloaded or cached


@pytest.mark.slow
def test_zoo_loads_after_a_non_editable_install(wheels, tmp_path):
    """relu_zoo's wheel alone (installed into another prefix) carries the zoo's index, and `load` finds it
    there from any working directory, downloads the weights from RELU_ZOO_BASE_URL with hash verification,
    and loads every checkpoint."""
    library, _ = wheels
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip first uninstalls the relu_zoo of the running environment.
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
                           "-q", "--prefix", str(prefix), str(library)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (site,) = prefix.glob("lib/python*/site-packages")
    names = [row["name"] for row in ZOO_INDEX]
    # A fresh process that imports only relu_zoo.pretrained: every checkpoint's custom objects must register.
    script = ("import json, relu_zoo.pretrained as pretrained\n"
              "where = pretrained.list_pretrained(where=True)\n"
              "names = pretrained.list_pretrained()\n"
              "params = [pretrained.load(name).count_params() for name in names]\n"
              "raw = pretrained.load(names[-1], raw_inputs=True, compile=False)\n"
              "print(json.dumps({'package': pretrained.__file__, 'zoo': str(pretrained.zoo_dir()), 'names': names, "
              "'params': params, 'where': where, 'sources': [s.origin for s in pretrained.sources()]}))\n")
    env = {k: v for k, v in os.environ.items() if k != "RELU_ZOO_MODELS"}
    env["PYTHONPATH"] = str(site)
    env["RELU_ZOO_CACHE"] = str(tmp_path / "cache")
    with _serve(ZOO) as (handler, url):  # the weights are not in the wheel: fetched from the served models/
        env["RELU_ZOO_BASE_URL"] = url
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                              cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(site)  # the installed copy, not this checkout
    assert Path(found["zoo"]) == (prefix / pretrained.INSTALLED_ZOO).resolve()
    assert found["sources"][-1] == f"relu_zoo {relu_zoo.__version__} index" and "checkout" not in found["sources"]
    assert found["names"] == names
    assert found["where"] == {name: pretrained.DOWNLOAD for name in names}
    assert found["params"] == [row["params"] for row in ZOO_INDEX]
    assert not list(prefix.rglob("*.keras"))  # the wheel has no weights
    assert sorted(handler.requests) == sorted([f"/{name}/model.keras" for name in names]
                                              + [f"/{names[-1]}/preprocessor.keras"])

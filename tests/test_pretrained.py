"""relu_zoo.pretrained: export, verify, load (also raw-input), tamper refusal — on a checkpoint exported from a
tiny real training run — and the consistency of the repository's zoo in models/."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from relu_zoo import pretrained
from tools import readme_tables

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


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """A zoo with one checkpoint from a real (tiny) spoken_digit training run saved with --save-checkpoint."""
    if not _data_available("spoken_digit"):
        if os.environ.get("CI"):
            pytest.fail("TFDS_DATA_DIR has no spoken_digit; CI must run the pretrained tests")
        pytest.skip("spoken_digit not prepared in TFDS_DATA_DIR")
    base = tmp_path_factory.mktemp("zoo")
    runs = base / "runs"
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--task", "spoken_digit", "--model", "cnn",
                           "--activations", "prelu", "--seeds", "1", "--epochs", "1", "--max-train-examples", "256",
                           "--max-eval-examples", "128", "--model-kwargs", '{"filters": [8, 16], "dense_units": 16}',
                           "--verbose", "0", "--save-checkpoint", "--out", str(runs)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    zoo = base / "models"
    zoo.mkdir()
    (run_dir,) = (runs / "runs").iterdir()
    name = pretrained.export(run_dir, root=zoo, target_accuracy=0.97, target_note="a 1-epoch test run")
    assert name == "cnn_prelu.spoken_digit"
    return zoo


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
    index = json.loads((tiny_zoo / "index.json").read_text())["checkpoints"]
    assert [row["name"] for row in index] == [name]
    assert pretrained.index_markdown(index) in (tiny_zoo / "README.md").read_text()


@pytest.mark.slow
def test_load_raw_inputs_equals_preprocessed_path_and_recorded_accuracy(tiny_zoo):
    name = "cnn_prelu.spoken_digit"
    meta = pretrained.metadata(name, tiny_zoo)
    raw_model = pretrained.load(name, raw_inputs=True, compile=False, root=tiny_zoo)
    accuracy, examples = pretrained.raw_accuracy(raw_model, meta["task"], meta["check"]["examples"])
    assert examples == meta["check"]["examples"]
    assert abs(accuracy - meta["check"]["accuracy"]) <= 0.002
    model = pretrained.load(name, root=tiny_zoo)
    assert model.optimizer is not None
    preprocessor = keras.saving.load_model(tiny_zoo / name / pretrained.PREPROCESSOR_FILE, safe_mode=True)
    x, _ = next(iter(pretrained.raw_test_batches(meta["task"], 32, batch_size=32)))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict_on_batch(preprocessor(x))))
    np.testing.assert_allclose(raw_model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-6)


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
    assert (ZOO / "index.json").is_file(), "models/index.json is generated by `python -m relu_zoo.pretrained index`"
    assert pretrained.list_pretrained(ZOO) == sorted(row["name"] for row in ZOO_INDEX)
    assert pretrained.index_rows(ZOO) == ZOO_INDEX
    readme = (ROOT / "README.md").read_text()
    assert readme_tables.checkpoint_section(ZOO_INDEX) in readme, "regenerate with `python tools/readme_tables.py`"


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
    accuracy, examples = pretrained.raw_accuracy(raw_model, meta["task"], meta["check"]["examples"])
    assert examples == meta["check"]["examples"]
    assert abs(accuracy - meta["check"]["accuracy"]) <= 0.002, (accuracy, meta["check"])


def test_pyproject_installs_every_checkpoint_file():
    """pyproject.toml's generated data-files table ships exactly the zoo's files (regenerate with
    `python tools/readme_tables.py`)."""
    tomllib = pytest.importorskip("tomllib")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert table == readme_tables.data_files(ZOO)
    shipped = {Path(f) for files in table.values() for f in files}
    on_disk = {p.relative_to(ROOT) for p in ZOO.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert shipped == on_disk


@pytest.mark.slow
def test_zoo_loads_after_a_non_editable_install(tmp_path):
    """`pip install .` (a wheel, installed into another prefix) carries the zoo, and `load` finds it there
    from any working directory, with hash verification, and loads every checkpoint."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("relu_zoo-*.whl")
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip first uninstalls the relu_zoo of the running environment.
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
                           "-q", "--prefix", str(prefix), str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (site,) = prefix.glob("lib/python*/site-packages")
    names = [row["name"] for row in ZOO_INDEX]
    # A fresh process that imports only relu_zoo.pretrained: every checkpoint's custom objects must register.
    script = ("import json, relu_zoo.pretrained as pretrained\n"
              "names = pretrained.list_pretrained()\n"
              "params = [pretrained.load(name).count_params() for name in names]\n"
              "raw = pretrained.load(names[-1], raw_inputs=True, compile=False)\n"
              "print(json.dumps({'package': pretrained.__file__, 'zoo': str(pretrained.zoo_dir()), 'names': names, "
              "'params': params}))\n")
    env = {k: v for k, v in os.environ.items() if k != "RELU_ZOO_MODELS"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(site)  # the installed copy, not this checkout
    assert Path(found["zoo"]) == (prefix / pretrained.INSTALLED_ZOO).resolve()
    assert found["names"] == names
    assert found["params"] == [row["params"] for row in ZOO_INDEX]

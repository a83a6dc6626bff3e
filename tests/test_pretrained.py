"""The checkpoint zoo in models/: every indexed checkpoint loads, verifies, and scores what it records."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from relu_zoo import pretrained

ZOO = Path(__file__).parents[1] / "models"
INDEX = json.loads((ZOO / "index.json").read_text())["checkpoints"] if (ZOO / "index.json").exists() else []
NAMES = [row["name"] for row in INDEX]


def _data_available(task):
    data_dir = os.environ.get("TFDS_DATA_DIR")
    return bool(data_dir) and (Path(data_dir) / task.split("/")[0]).is_dir()


def test_index_matches_folders():
    assert NAMES, "models/index.json lists no checkpoints"
    assert pretrained.list_pretrained(ZOO) == sorted(NAMES)
    assert pretrained.index_rows(ZOO) == INDEX, "index.json is stale: run `python -m relu_zoo.pretrained index`"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert pretrained.index_markdown(INDEX) in readme, "README checkpoint table is stale"


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_files_and_metadata(name):
    meta = pretrained.verify(name, ZOO)
    for key in ("task", "model", "activation", "activation_config", "seed", "epochs", "command", "metrics",
                "versions", "date", "sha256", "check"):
        assert key in meta, key
    assert name == f"{meta['model']}_{meta['activation']}.{meta['task']}"
    for path in (ZOO / name).iterdir():
        assert path.stat().st_size < 20e6, f"{path} is over 20 MB"


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_accuracy_and_raw_inputs(name):
    meta = pretrained.metadata(name, ZOO)
    if not _data_available(meta["task"]):
        if os.environ.get("CI"):
            pytest.fail(f"TFDS_DATA_DIR has no {meta['task']}: CI must check every checkpoint")
        pytest.skip(f"{meta['task']} not prepared in TFDS_DATA_DIR")
    raw_model = pretrained.load(name, raw_inputs=True, compile=False, root=ZOO)
    accuracy, examples = pretrained.raw_accuracy(raw_model, meta["task"], meta["check"]["examples"])
    assert examples == meta["check"]["examples"]
    assert abs(accuracy - meta["check"]["accuracy"]) <= 0.002, (accuracy, meta["check"])
    # The raw-input model equals preprocessor -> model -> softmax, computed separately.
    import keras

    model = pretrained.load(name, compile=True, root=ZOO)
    assert model.optimizer is not None
    preprocessor = keras.saving.load_model(ZOO / name / pretrained.PREPROCESSOR_FILE, safe_mode=True)
    x, _ = next(iter(pretrained.raw_test_batches(meta["task"], 32, batch_size=32)))
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict_on_batch(preprocessor(x))))
    np.testing.assert_allclose(raw_model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-6)


def test_tampered_checkpoint_is_refused(tmp_path):
    name = NAMES[0]
    shutil.copytree(ZOO / name, tmp_path / name)
    pretrained.verify(name, tmp_path)
    model_file = tmp_path / name / pretrained.MODEL_FILE
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(pretrained.ChecksumError, match="model.keras has sha256"):
        pretrained.load(name, root=tmp_path)


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match=r"Unknown pretrained model 'cnn_prelu.mnst'.*Available:"):
        pretrained.load("cnn_prelu.mnst", root=ZOO)


def test_loads_from_another_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert pretrained.list_pretrained() == sorted(NAMES)

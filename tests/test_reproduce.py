"""relu_zoo.reproduce and the command a card records (relu_zoo.zoo.card_command): every shipped card's command
re-runs anywhere and trains only its checkpoint; `relu-zoo reproduce` judges a re-run by the card's tolerance
(exit 0 / 1), refuses bad input in one line with exit 2 leaving nothing behind, and re-runs a real exported
checkpoint to the same accuracy."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relu_zoo import console, pretrained, reproduce, zoo
from relu_zoo.run import spec

ROOT = Path(__file__).parents[1]
ZOO = ROOT / "models"
CARDS = pretrained.list_pretrained(ZOO)
SPOKEN = "cnn_relu.spoken_digit"  # 250 test examples: its tolerance is one example, 0.4 points


def _meta(name):
    return json.loads((ZOO / name / pretrained.METADATA_FILE).read_text())


# -- the command a card records -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CARDS)
def test_every_card_records_a_machine_independent_command_for_its_checkpoint_alone(name):
    meta = _meta(name)
    command = meta["command"]
    assert command == zoo.card_command(meta), "regenerate the cards with `relu-zoo zoo cards`"
    tokens = shlex.split(command)
    assert tokens[:2] in (["python", "train.py"], ["relu-zoo", "train"])
    assert not [t for t in tokens if t.startswith(("/", "~")) or "/work/" in t or "\\" in t], command
    assert not {"--data-dir", "--verbose", "--jobs", "--config"} & set(tokens), command
    assert tokens[tokens.index("--out") + 1] == f"runs/zoo/{name}"
    config = reproduce.card_config(meta)  # raises unless it trains exactly this task/model/activation/seed/epochs
    assert [spec.activation_label(a) for a in config.activations] == [meta["activation"]]
    assert config.seeds == [meta["seed"]] and config.epochs == meta["epochs"]
    reproduce.check_model(meta, config)  # today's library builds the checkpoint's model from it
    assert f"```\n{command}\n```" in (ZOO / name / pretrained.CARD_FILE).read_text()


@pytest.mark.parametrize("name", CARDS)
def test_every_card_states_its_tolerance(name):
    meta = _meta(name)
    reproduction = meta["reproduction"]
    assert reproduction["metric"] == "test_accuracy" and reproduction["metric"] in meta["metrics"]
    # Never below one test example, never below the default 0.3 points.
    assert reproduction["tolerance"] == zoo.default_tolerance(meta["data"]["test_examples"])
    assert reproduction["tolerance"] >= max(0.003, 1 / meta["data"]["test_examples"])
    assert f"within ±{100 * reproduction['tolerance']:.2f} points" in (ZOO / name / pretrained.CARD_FILE).read_text()


def test_default_tolerance_is_0_3_points_or_one_test_example():
    assert zoo.default_tolerance(10_000) == 0.003
    assert zoo.default_tolerance(250) == 0.004
    assert zoo.default_tolerance(None) == 0.003


def test_card_command_keeps_the_checkpoints_run_and_drops_the_machines_folders():
    meta = {"name": "cnn_prelu.spoken_digit", "activation": "prelu", "seed": 2,
            "command": "/opt/venv/bin/python3 /home/me/relu_zoo/train.py --preset spoken_digit --activations "
                       "relu,prelu,leaky_relu:negative_slope=0.2 --seeds 1,2 --data-dir /data/tfds "
                       "--out=/home/me/runs/sd --verbose 2 --jobs 2 --no-download --save-checkpoint"}
    command = zoo.card_command(meta)
    assert command == ("python train.py --preset spoken_digit --activations prelu --seeds 2, --save-checkpoint "
                       "--out runs/zoo/cnn_prelu.spoken_digit")
    assert zoo.card_command({**meta, "command": command}) == command
    config = spec.resolve("spoken_digit", None, {"activations": "prelu", "seeds": "2,"})
    assert config.seeds == [2] and config.activations == ["prelu"]
    # A parametrized activation keeps its parameters; a preset's list becomes the checkpoint's alone.
    leaky = {**meta, "name": "cnn_leaky_relu.spoken_digit", "activation": "leaky_relu:negative_slope=0.2", "seed": 0}
    assert "--activations leaky_relu:negative_slope=0.2 --seeds 1 " in zoo.card_command(leaky)
    assert zoo.card_command({**leaky, "command": "relu-zoo train --preset spoken_digit"}) == (
        "relu-zoo train --preset spoken_digit --activations leaky_relu:negative_slope=0.2 --seeds 1 "
        "--save-checkpoint --out runs/zoo/cnn_leaky_relu.spoken_digit")


@pytest.mark.parametrize("command, problem", [
    ("python train.py --config /home/me/sweep.yaml", "reads the config file"),
    ("python train.py --preset mnist --frobnicate 3", "'--frobnicate'"),
    ("python train.py --preset mnist --activations relu,elu", "trains relu, elu, not the checkpoint's 'prelu'"),
    ("python benchmarks/xu2015.py --regime short", "is not a `python train.py"),
])
def test_card_command_refuses_what_cannot_be_rewritten(command, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        zoo.card_command({"name": "cnn_prelu.mnist", "activation": "prelu", "seed": 0, "command": command})


def test_a_seed_list_of_one_needs_its_comma():
    assert spec.resolve(overrides={"seeds": "3"}).seeds == [0, 1, 2]
    assert spec.resolve(overrides={"seeds": "3,"}).seeds == [3]
    with pytest.raises(spec.ConfigError, match="one seed: 7,"):
        spec.resolve(overrides={"seeds": "x,"})


# -- relu-zoo reproduce: the verdict --------------------------------------------------------------------------

@pytest.fixture
def one_card_zoo(tmp_path, monkeypatch):
    """A zoo (RELU_ZOO_MODELS) holding the metadata of SPOKEN alone; returns a function that rewrites it."""
    folder = tmp_path / "zoo" / SPOKEN
    folder.mkdir(parents=True)
    shutil.copy2(ZOO / SPOKEN / pretrained.METADATA_FILE, folder)
    monkeypatch.setenv(pretrained.MODELS_ENV, str(tmp_path / "zoo"))

    def edit(change):
        meta = json.loads((folder / pretrained.METADATA_FILE).read_text())
        change(meta)
        (folder / pretrained.METADATA_FILE).write_text(json.dumps(meta))
    return edit


def _fake_training(monkeypatch, accuracy, status="ok"):
    """Replaces the re-run's training with a result of `accuracy`; returns the configs it was asked to train."""
    asked = []

    def train(config, run, command, log):
        asked.append((config, run, command))
        return {"status": status, "diverged_epoch": 3 if status == "diverged" else None,
                "test_accuracy": None if status == "diverged" else accuracy, "test_loss": 0.05,
                "test_examples": 250, "dtype_policy": "float32", "run_seconds": 12.0,
                "machine": {"model": "Test CPU", "flags": ["avx2"], "cores": 2}, "versions": {"keras": "x"}}

    monkeypatch.setattr(reproduce, "_train", train)
    return asked


@pytest.mark.parametrize("examples_off, status", [(0, 0), (1, 0), (-1, 0), (2, 1), (-2, 1)])
def test_exit_status_is_the_cards_tolerance_decision(one_card_zoo, monkeypatch, tmp_path, capsys, examples_off,
                                                     status):
    """spoken_digit's tolerance is one of its 250 test examples: a re-run one example off is within it, two are
    not."""
    recorded = _meta(SPOKEN)["metrics"]["test_accuracy"]
    asked = _fake_training(monkeypatch, recorded + examples_off / 250)
    out = tmp_path / "rerun"
    assert console.main(["reproduce", SPOKEN, "--out", str(out)]) == status
    (config, run, command), = asked
    assert config.out == str(out) and run.seed == 0 and run.label == "relu" and config.epochs == 12
    assert command == _meta(SPOKEN)["command"]
    printed = capsys.readouterr().out
    assert ("Reproduced:" if status == 0 else "Not reproduced:") in printed
    assert f"{100 * examples_off / 250:+.2f} points" in printed and "±0.40 points" in printed
    record = json.loads((out / reproduce.RECORD_FILE).read_text())
    assert record["within"] is (status == 0) and record["tolerance"] == 0.004
    assert record["recorded"] == recorded


def test_a_tolerance_stored_in_the_card_is_the_one_used(one_card_zoo, monkeypatch, tmp_path):
    recorded = _meta(SPOKEN)["metrics"]["test_accuracy"]
    _fake_training(monkeypatch, recorded + 2 / 250)
    one_card_zoo(lambda meta: meta["reproduction"].update(tolerance=0.01))
    assert console.main(["reproduce", SPOKEN, "--out", str(tmp_path / "a")]) == 0
    one_card_zoo(lambda meta: meta["reproduction"].update(tolerance=0.002))
    assert console.main(["reproduce", SPOKEN, "--out", str(tmp_path / "b")]) == 1


def test_a_diverged_rerun_is_not_reproduced(one_card_zoo, monkeypatch, tmp_path, capsys):
    _fake_training(monkeypatch, None, status="diverged")
    assert console.main(["reproduce", SPOKEN, "--out", str(tmp_path / "o")]) == 1
    assert "the re-run diverged at epoch 3" in capsys.readouterr().out


def test_record_stores_the_comparison_and_its_table(one_card_zoo, monkeypatch, tmp_path):
    recorded = _meta(SPOKEN)["metrics"]["test_accuracy"]
    _fake_training(monkeypatch, recorded - 1 / 250)
    records = tmp_path / "reports"
    assert console.main(["reproduce", SPOKEN, "--out", str(tmp_path / "o"), "--record", str(records)]) == 0
    stored = json.loads((records / f"{SPOKEN}.json").read_text())
    assert stored["name"] == SPOKEN and stored["machine"]["reproduced"]["flags"] == ["avx2"]
    table = (records / "README.md").read_text()
    assert f"| `{SPOKEN}` | {100 * recorded:.2f}% | {100 * (recorded - 0.004):.2f}% | -0.40 | ±0.40 | yes |" in table
    assert table == reproduce.report([stored])


# -- relu-zoo reproduce: bad input ----------------------------------------------------------------------------

def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_unknown_checkpoint_names_the_closest(tmp_path, capsys):
    out = tmp_path / "o"
    assert console.main(["reproduce", "cnn_relu.mnsit", "--out", str(out)]) == 2
    assert "Did you mean 'cnn_relu.mnist'?" in _one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("change, problem", [
    (lambda meta: meta.pop("command"), "records no command"),
    (lambda meta: meta.update(command="python train.py --preset spoken_digit --epochs 3"),
     "trains epochs 3 where the card records 12"),
    (lambda meta: meta.update(command="python train.py --config /home/me/sd.yaml"), "reads the config file"),
    (lambda meta: meta.update(params=meta["params"] + 384), "a default of the model changed"),
])
def test_a_card_that_cannot_be_rerun_is_refused(one_card_zoo, monkeypatch, tmp_path, capsys, change, problem):
    asked = _fake_training(monkeypatch, 0.99)
    one_card_zoo(change)
    out = tmp_path / "o"
    assert console.main(["reproduce", SPOKEN, "--out", str(out)]) == 2
    assert problem in _one_line_error(capsys)
    assert asked == [] and not out.exists()


def test_missing_data_offline_is_one_line_and_leaves_no_folder(one_card_zoo, monkeypatch, tmp_path, capsys):
    """The real sweep up to loading the data: an empty data folder and no network."""
    from relu_zoo.tasks import tfds_data

    monkeypatch.setattr(tfds_data, "unreachable", lambda addresses, timeout=None: [
        (host, port, "ConnectionRefusedError: refused") for host, port in addresses])
    out = tmp_path / "runs" / "reproduce"
    assert console.main(["reproduce", SPOKEN, "--out", str(out), "--data-dir", str(tmp_path / "data")]) == 2
    err = _one_line_error(capsys)
    assert "'spoken_digit'" in err and "no network" in err and "TFDS_DATA_DIR or --data-dir" in err
    assert not (tmp_path / "runs").exists()


def test_an_out_folder_of_another_sweep_is_refused(one_card_zoo, monkeypatch, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"sweep": {"tasks": ["mnist"], "models": ["cnn"]}}))
    assert console.main(["reproduce", SPOKEN, "--out", str(out)]) == 2
    assert "holds a different sweep" in _one_line_error(capsys)
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]


# -- a real checkpoint, exported and re-run ---------------------------------------------------------------------

@pytest.mark.slow
def test_an_exported_checkpoint_reproduces_from_its_card(tmp_path):
    """A tiny spoken_digit run saved as a checkpoint, then `relu-zoo reproduce` in another process from its card
    alone: the same accuracy (runs are deterministic on one machine), exit 0."""
    data_dir = os.environ.get("TFDS_DATA_DIR")
    if not (data_dir and (Path(data_dir) / "spoken_digit").is_dir()):
        if os.environ.get("CI"):
            pytest.fail("TFDS_DATA_DIR has no spoken_digit; CI must run the reproduce test")
        pytest.skip("spoken_digit not prepared in TFDS_DATA_DIR")
    tiny = ["--task", "spoken_digit", "--model", "cnn", "--activations", "relu,prelu", "--seeds", "1", "--epochs",
            "1", "--max-train-examples", "256", "--max-eval-examples", "128", "--model-kwargs",
            '{"filters": [8, 16], "dense_units": 16}', "--verbose", "0", "--save-checkpoint"]
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *tiny, "--out", str(tmp_path / "made")],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp_path / "zoo").mkdir()
    made = tmp_path / "made" / "runs" / "spoken_digit__cnn__prelu__seed0"
    name = zoo.export(made, root=tmp_path / "zoo")
    meta = pretrained.metadata(name, tmp_path / "zoo")
    assert "--activations prelu --seeds 1 " in meta["command"] and str(tmp_path) not in meta["command"]
    env = {**os.environ, pretrained.MODELS_ENV: str(tmp_path / "zoo")}
    proc = subprocess.run([sys.executable, "-m", "relu_zoo.console", "reproduce", name, "--out",
                           str(tmp_path / "rerun"), "--verbose", "0"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "rerun" / reproduce.RECORD_FILE).read_text())
    assert record["reproduced"] == record["recorded"] == meta["metrics"]["test_accuracy"]
    assert "Reproduced: test_accuracy within ±0.78 points of the card (+0.00 points)" in proc.stdout
    assert [p.name for p in (tmp_path / "rerun" / "runs").iterdir()] == ["spoken_digit__cnn__prelu__seed0"]


def test_the_stored_reruns_are_current_and_their_table_generated():
    """benchmarks/reports/reproduce: each record re-ran a card that still records the number it compared with, its
    verdict follows from its numbers, and README.md is `reproduce.report` of the records."""
    folder = ROOT / "benchmarks" / "reports" / "reproduce"
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    assert records, "store re-runs with `relu-zoo reproduce NAME --record benchmarks/reports/reproduce`"
    for record in records:
        meta = _meta(record["name"])
        assert record["recorded"] == meta["metrics"][meta["reproduction"]["metric"]]
        assert record["tolerance"] == meta["reproduction"]["tolerance"]
        assert record["within"] == (abs(record["reproduced"] - record["recorded"]) <= record["tolerance"] + 1e-6)
        assert record["command"] == meta["command"]
    assert (folder / "README.md").read_text() == reproduce.report(records)

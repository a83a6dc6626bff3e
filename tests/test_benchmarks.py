"""benchmarks/training.py on tiny real runs: it measures what it says (no timings are asserted)."""

import json
import subprocess
import sys

import pytest

from benchmarks import training
from relu_zoo.run import spec as config_lib

TINY = ["--epochs", "1", "--max-train-examples", "128", "--max-eval-examples", "64", "--model-kwargs",
        '{"filters": [4, 8], "dense_units": 8}']


@pytest.mark.parametrize("preset", config_lib.list_presets())
def test_every_preset_resolves(preset):
    config = config_lib.resolve(preset=preset)
    assert config.tasks and config.models and config.activations


def test_accuracy_targets_name_shipped_presets():
    assert set(training.ACCURACY_TARGETS) <= set(config_lib.list_presets())


@pytest.mark.slow
def test_speed_times_every_activation_in_every_repetition(real_tfds_dir):
    real_tfds_dir("mnist/3.0.1")
    report = training.speed(["relu", "prelu", "keras.PReLU"], steps=2, repeats=3, batch_size=16)
    relu, prelu, keras_prelu = report["rows"]
    assert relu["activation"] == "relu" and relu["ratio"] == 1.0  # the baseline against itself
    assert len(relu["times"]) == len(prelu["times"]) == 3 and min(relu["times"] + prelu["times"]) > 0
    assert prelu["ratio_min"] <= prelu["ratio"] <= prelu["ratio_max"] and prelu["target"] == 1.15
    assert "| prelu |" in training.markdown("speed", report)
    assert keras_prelu["activation"] == "keras.PReLU" and keras_prelu["target"] is None


@pytest.mark.slow
def test_profile_reports_each_stage(real_tfds_dir):
    real_tfds_dir("mnist/3.0.1")
    report = training.profile(["relu", "rrelu"], repeats=1, batch_size=8)
    assert [r["activation"] for r in report["rows"]] == ["relu", "rrelu"]
    for row in report["rows"]:
        assert set(row) == {"activation", "forward", "forward + backward", "train step"}
        assert all(row[k] > 0 for k in row if k != "activation")


@pytest.mark.slow
def test_accuracy_and_memory_run_train_py(real_tfds_dir, tmp_path):
    real_tfds_dir("spoken_digit/1.0.9")
    report = training.accuracy(["spoken_digit"], extra=TINY)
    (row,) = report["rows"]
    assert row["task"] == "spoken_digit" and row["epochs"] == 1 and 0 <= row["test_accuracy"] <= 1
    assert row["train_s"] > 0 and row["target_accuracy"] == 0.97 and row["target_s"] == 120
    assert row["met"] is False  # one epoch on 128 examples cannot reach 97%
    assert "MISS" in training.markdown("accuracy", report)

    # An earlier, bigger child process must not leak into the measurement (RUSAGE_CHILDREN would report it).
    subprocess.run([sys.executable, "-c", "block = b'x' * (4 << 30)"], check=True)
    out = tmp_path / "memory.json"
    assert training.main(["memory", "--json", str(out), "--", "--preset", "spoken_digit", "--seeds", "1",
                          "--activations", "relu", *TINY]) == 0
    measured = json.loads(out.read_text())
    assert "--preset spoken_digit" in measured["command"]
    assert 100 < measured["peak_rss_mb"] < 4096  # a small TensorFlow run, in MB (not KiB or bytes)


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        training.main(["speed", "--no-such-flag"])


def test_precision_times_both_policies_and_says_what_auto_picks():
    report = training.precision(widths=(4, 8, 8), batch_size=8, steps=1, repeats=2)
    assert set(report["step_s"]) == {"float32", "mixed_bfloat16"} and min(report["step_s"].values()) > 0
    assert len(report["times"]["float32"]) == 2
    assert report["auto"] in ("float32", "mixed_bfloat16", "mixed_float16")
    assert report["bf16_over_f32"] == report["step_s"]["mixed_bfloat16"] / report["step_s"]["float32"]
    assert "| mixed_bfloat16 |" in training.markdown("precision", report)

"""The benchmark scripts on tiny real runs: each measures what it says (no timings are asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import (epoch_speed, memory, mnist_time_to_99, precision, preset_accuracy, reporting, speed_targets,
                        step_stages, tf_settings, training)
from relu_zoo.run import spec as config_lib
from relu_zoo.run import stats

REPO = Path(__file__).resolve().parents[1]

TINY = ["--epochs", "1", "--max-train-examples", "128", "--max-eval-examples", "64", "--model-kwargs",
        '{"filters": [4, 8], "dense_units": 8}']


@pytest.mark.parametrize("preset", config_lib.list_presets())
def test_every_preset_resolves(preset):
    config = config_lib.resolve(preset=preset)
    assert config.tasks and config.models and config.activations


def test_accuracy_targets_name_shipped_presets():
    assert set(preset_accuracy.ACCURACY_TARGETS) <= set(config_lib.list_presets())


@pytest.mark.slow
def test_speed_times_every_activation_in_every_repetition(real_tfds_dir):
    real_tfds_dir("mnist/3.0.1")
    report = epoch_speed.speed(["relu", "prelu", "keras.PReLU"], steps=2, repeats=3, batch_size=16,
                               unfused_activations=["relu"])
    relu, prelu, keras_prelu, relu_unfused = report["rows"]
    assert relu_unfused["activation"] == "relu unfused" and len(relu_unfused["times"]) == 3
    assert relu["activation"] == "relu" and relu["ratio"] == 1.0  # the baseline against itself
    assert len(relu["times"]) == len(prelu["times"]) == 3 and min(relu["times"] + prelu["times"]) > 0
    assert prelu["ratio_min"] <= prelu["ratio"] <= prelu["ratio_max"] and prelu["target"] == 1.15
    assert "| prelu |" in epoch_speed.markdown(report)
    assert keras_prelu["activation"] == "keras.PReLU" and keras_prelu["target"] is None


@pytest.mark.slow
def test_profile_reports_each_stage(real_tfds_dir):
    real_tfds_dir("mnist/3.0.1")
    report = step_stages.profile(["relu", "rrelu"], repeats=1, batch_size=8)
    assert [r["activation"] for r in report["rows"]] == ["relu", "rrelu"]
    for row in report["rows"]:
        assert set(row) == {"activation", "forward", "forward + backward", "train step"}
        assert all(row[k] > 0 for k in row if k != "activation")


@pytest.mark.slow
def test_accuracy_and_memory_run_train_py(real_tfds_dir, tmp_path):
    real_tfds_dir("spoken_digit/1.0.9")
    report = preset_accuracy.accuracy(["spoken_digit"], extra=TINY)
    (row,) = report["rows"]
    assert row["task"] == "spoken_digit" and row["epochs"] == 1 and 0 <= row["test_accuracy"] <= 1
    assert row["train_s"] > 0 and row["target_accuracy"] == 0.97 and row["target_s"] == 120
    assert row["met"] is False  # one epoch on 128 examples cannot reach 97%
    assert "MISS" in preset_accuracy.markdown(report)

    # An earlier, bigger child process must not leak into the measurement (RUSAGE_CHILDREN would report it).
    subprocess.run([sys.executable, "-c", "block = b'x' * (4 << 30)"], check=True)
    out = tmp_path / "memory.json"
    assert memory.main(["--json", str(out), "--", "--preset", "spoken_digit", "--seeds", "1", "--activations",
                        "relu", *TINY]) == 0
    measured = json.loads(out.read_text())
    assert "--preset spoken_digit" in measured["train_command"] and measured["command"].startswith(
        "python benchmarks/memory.py --json ")
    assert 100 < measured["peak_rss_mb"] < 8192  # a small TensorFlow run, in MB (KiB or bytes would be 1000x more)


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        epoch_speed.main(["--no-such-flag"])


@pytest.mark.slow
def test_precision_times_both_policies_and_says_what_auto_picks():
    report = precision.precision(widths=(4, 8, 8), batch_size=8, steps=1, repeats=2)
    assert set(report["step_s"]) == {"float32", "mixed_bfloat16"} and min(report["step_s"].values()) > 0
    assert len(report["times"]["float32"]) == 2
    assert report["auto"] in ("float32", "mixed_bfloat16", "mixed_float16")
    assert report["bf16_over_f32"] == report["step_s"]["mixed_bfloat16"] / report["step_s"]["float32"]
    assert "| mixed_bfloat16 |" in precision.markdown(report)


def test_speed_targets_name_shipped_presets():
    presets = set(config_lib.list_presets())
    assert {t["preset"] for t in speed_targets.SPEED_TARGETS.values() if "preset" in t} <= presets
    assert set(speed_targets.BEFORE_PRESETS.values()) <= presets and set(speed_targets.BEFORE_PRESETS) <= set(
        speed_targets.SPEED_TARGETS)


def test_targets_refuses_unknown_rows():
    with pytest.raises(SystemExit):
        speed_targets.main(["--rows", "prelu_layer,no_such_row"])


def test_targets_markdown_states_every_row_against_its_target():
    rows = [speed_targets.row("prelu_layer", 1.3, True, "python benchmarks/layers.py",
                              spread={"min": 1.1, "max": 1.6}, before={"median": 1.9}),
            speed_targets.row("imdb_88", 55.0, False, "python train.py --preset imdb_fast", test_accuracy=0.885,
                              seeds=[{"test_accuracy": 0.885, "train_s": 55.0},
                                     {"test_accuracy": 0.89, "train_s": 50}]),
            speed_targets.row("cifar10_torch", None, None, "python benchmarks/speed_targets.py", skipped="no torch")]
    text = speed_targets.markdown({"rows": rows, "before": []})
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "1.30× (repetitions 1.10–1.60×); unfused 1.90×" in lines[2] and "≤ 1.5×" in lines[2] and "PASS" in lines[2]
    assert "55.0 s at 88.50% (2 seeds: 88.50–89.00%, 50–55 s)" in lines[3] and "≤ 40.0 s" in lines[3]
    assert "MISS" in lines[3] and "`python train.py --preset imdb_fast`" in lines[3]
    assert "skipped: no torch" in lines[4]


def test_cifar10_torch_row_is_skipped_without_pytorch(tmp_path):
    no_torch = tmp_path / "python"
    no_torch.write_text("#!/bin/sh\necho 'No module named torch' >&2\nexit 1\n")
    no_torch.chmod(0o755)
    row = speed_targets.cifar10_torch_row(str(no_torch))
    assert row["measured"] is None and row["met"] is None and "not importable" in row["skipped"]


@pytest.mark.slow
def test_targets_quick_layer_rows_measure_fused_and_unfused(tmp_path):
    out = tmp_path / "targets.json"
    assert speed_targets.main(["--quick", "--rows", "prelu_layer,rrelu_layer", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["key"] for r in report["rows"]] == ["prelu_layer", "rrelu_layer"] and report["quick"]
    for row in report["rows"]:
        assert row["measured"] > 0 and row["before"]["median"] > 0 and row["target"] in (1.5, 2.0)
        assert row["spread"]["min"] <= row["spread"]["max"] and isinstance(row["met"], bool)


def test_render_rewrites_the_markdown_of_a_stored_targets_report(tmp_path):
    stored = tmp_path / "targets.json"
    rows = [speed_targets.row("spoken_digit", 15.0, True, "python train.py --preset spoken_digit_fast",
                              test_accuracy=0.975)]
    stored.write_text(json.dumps({"rows": rows, "before": [], "complete": False, "command": "python x"}))
    assert speed_targets.main(["--render", str(stored)]) == 0
    text = (tmp_path / "targets.md").read_text()
    assert text.startswith("`python x`") and "Incomplete run" in text and "15.0 s at 97.50%" in text


def test_phase_clock_charges_nested_time_to_the_inner_phase_only():
    from benchmarks import phases

    now = [0.0]
    clock = phases.PhaseClock({"wall_s": lambda: now[0]})
    with clock.phase("outer"):
        now[0] += 1
        with clock.phase("inner"):
            now[0] += 5
        now[0] += 2
    first = clock.first_call_apart(lambda: now.__setitem__(0, now[0] + 3), "first call", "later calls")
    for _ in range(3):
        first()
    report = clock.report()
    seconds = {r["phase"]: r["wall_s"] for r in report["phases"]}
    assert seconds == {"outer": 3.0, "inner": 5.0, "first call": 3.0, "later calls": 6.0}
    assert report["total"]["wall_s"] == 17.0 and clock.calls["later calls"] == 2
    assert abs(sum(r["share"] for r in report["phases"]) - 1) < 1e-9


def test_ops_classifies_both_frameworks_ops_into_the_same_kinds():
    from benchmarks import ops

    assert ops.classify("Conv2DBackpropFilter", "gradient_tape/cnn/conv2d/Conv2D") == "conv backward: filter"
    assert ops.classify("Conv2D", "cnn/conv2d/convolution") == "conv forward"
    assert ops.classify("aten::mkldnn_convolution") == "conv forward"
    assert ops.classify("aten::convolution_backward") == "conv backward: input + filter"
    assert ops.classify("Mean", "cnn/batch_normalization/moments/mean") == "batch norm"
    assert ops.classify("aten::native_batch_norm_backward") == "batch norm"
    assert ops.classify("MaxPoolGrad", "gradient_tape/cnn/max_pooling2d/MaxPool") == "pooling"
    assert ops.classify("XLA cluster", "xla") == "activation"
    assert ops.classify("Mul", "cnn/leaky_re_lu/mul") == "activation"
    assert ops.classify("NoSuchOp", "cnn/flatten/Reshape") == "other"
    # oneDNN's kernels (TensorFlow on AVX-512 CPUs): the same kinds under their _Mkl / _MklNative names.
    assert ops.classify("_MklNativeConv2D", "cnn/conv2d/convolution") == "conv forward"
    assert ops.classify("_MklNativeConv2DBackpropFilter", "gradient_tape/cnn/conv2d") == "conv backward: filter"
    assert ops.classify("_MklNativeConv2DBackpropInput", "gradient_tape/cnn/conv2d") == "conv backward: input"
    assert ops.classify("_MklNativeFusedConv2D", "cnn/conv2d") == "conv forward"
    assert ops.classify("_MklNativeMaxPoolGrad", "gradient_tape/cnn/p") == "pooling"
    assert ops.classify("_MklNativeFusedBatchNormV3", "cnn/bn") == "batch norm"
    assert ops.classify("_MklMatMul", "cnn/dense/MatMul") == "dense / matmul"
    summary = ops.summarize([("StatefulPartitionedCall/cnn/conv2d/convolution", "Conv2D", 0.4),
                             ("StatefulPartitionedCall/gradient_tape/cnn/conv2d/Conv2D", "Conv2DBackpropInput", 0.2)],
                            steps=2)
    assert summary["by_kind"] == {"conv forward": 200.0, "conv backward: input": 100.0}
    assert summary["ops_ms"] == 300.0 and set(summary["by_layer"]) == {"conv2d", "conv2d (backward)"}


def test_ops_variants_split_environment_from_flags():
    assert tf_settings.parse_variant("TF_ENABLE_ONEDNN_OPTS=0 --inter 1") == ({"TF_ENABLE_ONEDNN_OPTS": "0"},
                                                                             ["--inter", "1"])
    assert tf_settings.parse_variant("") == ({}, [])


@pytest.mark.slow
def test_phases_split_a_tiny_train_py_run(real_tfds_dir, tmp_path):
    real_tfds_dir("spoken_digit/1.0.9")
    out = tmp_path / "phases.json"
    # In a child: the phases start with importing TensorFlow, which this test process has done already.
    subprocess.run([sys.executable, "benchmarks/phases.py", "--json", str(out), "--", "--preset",
                    "spoken_digit", "--seeds", "1", "--activations", "relu", *TINY], check=True, cwd=REPO)
    report = json.loads(out.read_text())
    names = {r["phase"] for r in report["phases"]}
    assert {"import TensorFlow, Keras, relu_zoo", "data loading", "model build + compile", "test evaluation",
            "first train step (tracing)", "validation batches", "report + plots"} <= names
    assert abs(sum(r["wall_s"] for r in report["phases"]) - report["total"]["wall_s"]) < 0.01
    assert report["pipeline_alone"]["batches"] > 0 and "plots/val_accuracy.png" in report["report_files"]
    from benchmarks import phases

    assert "| data loading |" in phases.markdown(report) and "--preset spoken_digit" in report["train_command"]


@pytest.mark.slow
def test_ops_profiles_and_interleaves_every_setting():
    report = tf_settings.ops("airbench", ["default", "RELU_ZOO_XLA=0 --inter 1"], steps=1, repeats=2, profile_steps=1,
                          batch_size=8, widths=[4, 8, 8])
    default, variant = report["rows"]
    assert default["ratio"] == 1.0 and len(variant["times"]) == 2 and variant["threads"]["inter"] == 1
    assert default["ops"]["by_kind"]["conv forward"] > 0 and "conv backward: filter" in default["ops"]["by_kind"]
    text = tf_settings.markdown(report)
    assert "| RELU_ZOO_XLA=0 --inter 1 |" in text and "| conv forward |" in text


def test_default_run_report_states_each_timing_against_the_target():
    from benchmarks import default_run

    row = {"cpu": {"model": "AMD EPYC", "flags": ["avx2", "fma"], "cores": 2}, "load_before": [0.1, 0.2, 0.3],
           "runs": 15, "mean_test_accuracy": {"relu": 0.97, "elu": 0.96}, "config": {"models": ["cnn_small"]}}
    older = {**row, "jobs": 1, "seconds": 600.0, "config": {"models": ["cnn"]}}
    text = default_run.markdown([older, {**row, "jobs": 1, "seconds": 240.0}, {**row, "jobs": 2, "seconds": 170.0}],
                                current={"models": ["cnn_small"]})
    lines = [line for line in text.splitlines() if line.startswith("| AMD EPYC")]
    assert len(lines) == 2, "a timing of an earlier default configuration is not a row"
    assert "| 1 | 15 | 4.0 min | missed | relu 97.00, elu 96.00 |" in lines[0]
    assert "| 2 | 15 | 2.8 min | met |" in lines[1] and "avx2, fma" in lines[1]
    assert "1 timing(s) of earlier defaults" in text


def test_standard_protocol_cost_counts_only_the_new_activation(tmp_path):
    from benchmarks import standard_protocol

    def run(cell, run_id, activation, seconds, restored):
        folder = tmp_path / cell / "runs" / run_id
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps({"activation": activation, "run_seconds": seconds}))
        if not restored:
            (folder / "history.csv").write_text("epoch\n")

    run("mnist_cnn", "relu0", "relu", 40.0, restored=True)
    run("mnist_cnn", "new0", "my_acts:swish2", 41.0, restored=False)
    run("mnist_cnn", "new1", "my_acts:swish2", 39.0, restored=False)
    run("imdb_transformer", "new0", "my_acts:swish2", 60.0, restored=False)
    assert standard_protocol.cell_seconds(tmp_path, "my_acts:swish2") == {
        "imdb_transformer": {"runs": 1, "seconds": 60.0}, "mnist_cnn": {"runs": 2, "seconds": 80.0}}
    assert standard_protocol.trained_baselines(tmp_path, "my_acts:swish2") == []
    run("imdb_transformer", "relu0", "relu", 55.0, restored=False)
    assert standard_protocol.trained_baselines(tmp_path, "my_acts:swish2") == ["relu0"]

    row = {"activation": "my_acts:swish2", "cpu": {"model": "AMD EPYC", "flags": ["avx2", "fma"], "cores": 2},
           "load_before": [0.2], "cells": {"mnist_cnn": {"runs": 3, "seconds": 120.0}}, "trained_baselines": []}
    text = standard_protocol.markdown([{**row, "seconds": 700.0}, {**row, "seconds": 1000.0},
                                       {**row, "seconds": 600.0, "trained_baselines": ["relu0"]}])
    lines = [line for line in text.splitlines() if line.startswith("| `my_acts:swish2`")]
    assert lines[0].endswith("| 11.7 min | mnist_cnn 3, 120 s | met |")
    assert lines[1].endswith("| missed |") and "not a cost: 1 baseline run(s) trained too" in lines[2]


def test_standard_protocol_precision_names_each_baseline_with_its_verdict(tmp_path):
    """From stored spoken_digit records (6 seeds of each baseline): every baseline's paired half-width and verdict
    against relu is listed, so a cell that misses the widest-half-width target says which baselines miss it."""
    import shutil

    from benchmarks import standard_protocol

    stored = REPO / "benchmarks" / "reports" / "standard" / "records"
    for path in stored.glob("spoken_digit__cnn__*__seed[0-5]__in__spoken_digit_cnn.json"):
        shutil.copy(path, tmp_path)
    cells = standard_protocol.precision(records_dir=tmp_path)
    cell = cells["spoken_digit_cnn"]
    assert cell["complete_seeds"] == 6 and cells["imdb_transformer"]["complete_seeds"] == 0
    assert set(cell["comparisons"]) == {"leaky_relu", "prelu", "rrelu", "elu", "gelu"}
    widest = max(d["half_width"] for d in cell["comparisons"].values())
    assert cell["widest_half_width"] == widest
    rows = [line for line in standard_protocol.precision_markdown(cells)
            if line.startswith("| spoken_digit_cnn | ") and line.split(" | ")[1] in cell["comparisons"]]
    assert len(rows) == 5 and all(row.split(" | ")[-1].rstrip(" |") for row in rows)
    elu = cell["comparisons"]["elu"]
    assert f"| spoken_digit_cnn | elu | {100 * elu['mean_diff']:+.2f} [" in "\n".join(rows)
    # Only spoken_digit has runs here: no CPU has timed every cell.
    assert standard_protocol.total_cost_line(cells) in standard_protocol.precision_markdown(cells)
    assert standard_protocol.total_cost_line(cells).startswith("No CPU has stored runs in every cell yet")
    assert standard_protocol.total_cost_line({"a": {"seeds": 2, "seconds_per_run": {"avx2": 60.0, "x": 1.0}},
                                              "b": {"seeds": 3, "seconds_per_run": {"avx2": 40.0}}}).startswith(
        "A new activation in every cell: 4 min of training on a CPU with avx2,")
    sizing = next(line for line in standard_protocol.precision_markdown(cells)
                  if line.startswith("| spoken_digit_cnn | 22 | 6 |"))
    assert sizing.split(" | ")[5] == str(stats.seeds_for(cell["median_paired_sd"], 0.005))


@pytest.mark.parametrize("argv,message", [
    (["--joining", "not_an_activation"], "--joining: Protocol 'standard', cell 'cifar10_airbench': "),
    (["--cells", "mnist_cnn"], "Unknown cell(s) mnist_cnn; the standard protocol's: cifar10_airbench,"),
])
def test_standard_baselines_refuse_bad_input_before_training(argv, message, capsys):
    from benchmarks import standard_protocol

    with pytest.raises(SystemExit) as exit_:
        standard_protocol.main(["baselines", *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1


def test_recorded_commands_hold_no_folder_of_this_machine(tmp_path):
    argv = ["--json", str(REPO / "benchmarks" / "reports" / "x.json"), "--torch-python", "/opt/torch/bin/python3",
            "--python", sys.executable, "--variants", "default;--inter 1"]
    assert reporting.command("speed_targets.py", argv) == (
        "python benchmarks/speed_targets.py --json benchmarks/reports/x.json --torch-python $TORCH_PYTHON "
        "--python python --variants 'default;--inter 1'")


def test_tables_align_and_escape_their_cells():
    text = reporting.table(["what", "s"], [["a|b", 1.5], ["", 2]])
    assert text.splitlines() == ["| what | s |", "|---|---:|", "| a\\|b | 1.5 |", "| | 2 |"]


def test_the_old_script_forwards_each_command_with_a_deprecation_warning():
    assert training.new_command(["targets", "--rows", "mnist"]) == ("speed_targets", ["--rows", "mnist"])
    assert training.new_command(["render", "--json", "F.json"]) == ("speed_targets", ["--render", "F.json"])
    assert set(training.SCRIPTS.values()) <= {p.stem for p in (REPO / "benchmarks").glob("*.py")}
    with pytest.warns(DeprecationWarning, match="benchmarks/epoch_speed.py"), pytest.raises(SystemExit):
        training.main(["speed", "--no-such-flag"])


def _mnist_report(accuracies, seconds, keras_seconds=100.0):
    seeds = [{"seed": i, "test_accuracy": a, "train_s": s} for i, (a, s) in enumerate(zip(accuracies, seconds))]
    return {"keras_mnist_convnet": {"epochs": [{"epoch": 1, "epoch_s": keras_seconds, "test_accuracy": 0.991}],
                                    "reached_epoch": 1, "seconds_to_target": keras_seconds},
            "preset_run": {"seeds": seeds}}


def test_mnist_target_needs_every_seed_at_99_and_the_median_ratio():
    def verdict(accuracies, seconds):
        report = _mnist_report(accuracies, seconds)
        return mnist_time_to_99.judge(report["keras_mnist_convnet"], report["preset_run"])

    assert verdict([0.991, 0.992, 0.990], [20, 25, 30]) == (0.25, True)
    assert verdict([0.991, 0.989, 0.995], [20, 25, 30]) == (0.25, False)  # one seed below 99%
    assert verdict([0.991, 0.992, 0.990], [20, 27, 30]) == (0.27, False)  # the median seed too slow
    assert verdict([0.991], [20]) == (0.2, True)


@pytest.mark.slow
def test_mnist_time_to_99_times_both_sides_the_same_way(real_tfds_dir, tmp_path):
    real_tfds_dir("mnist/3.0.1")
    out = tmp_path / "mnist.json"
    assert mnist_time_to_99.main(["--quick", "--seeds", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    example, run = report["keras_mnist_convnet"], report["preset_run"]
    assert [s["seed"] for s in run["seeds"]] == [0, 1] and run["epochs"] == 1
    assert len(example["epochs"]) == 1 and example["epochs"][0]["epoch_s"] > 0  # 99% is not reached on 2000 images
    assert example["seconds_to_target"] is None and report["ratio"] is None and report["met"] is False
    text = out.with_suffix(".md").read_text()
    assert text.startswith("`python benchmarks/mnist_time_to_99.py --quick") and "| seed |" in text

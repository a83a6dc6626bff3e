"""benchmarks/cifar10_epochs.py's report on synthetic run records: rows per budget and the goal judged on them."""

import json

import pytest

from benchmarks import cifar10_epochs
from relu_zoo.run import records


def _result(epochs, seed, test, tta, widths=(64, 256, 256)):
    return {"run_id": f"cifar10__airbench__relu__seed{seed}", "activation": "relu", "seed": seed,
            "test_accuracy": test, "test_accuracy_tta": tta, "epoch_times": [30.0] * epochs,
            "dtype_policy": "mixed_bfloat16", "machine": {"model": "Some CPU", "flags": ["avx512_bf16"], "cores": 2},
            "config": {"epochs": epochs, "model_kwargs": {"widths": list(widths)}}}


def _write(work, epochs, seed, test, tta):
    folder = work / cifar10_epochs.setting((64, 256, 256), epochs) / "runs" / f"cifar10__airbench__relu__seed{seed}"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(_result(epochs, seed, test, tta)))


def _args(tmp_path):
    class Args:
        work, dest = tmp_path / "work", tmp_path / "report"
    return Args


def test_the_report_gives_each_budget_and_the_fewest_epochs_to_the_goal(tmp_path):
    args = _args(tmp_path)
    _write(args.work, 10, 0, 0.915, 0.925)
    _write(args.work, 8, 0, 0.895, 0.905)
    _write(args.work, 6, 0, 0.87, 0.88)
    rows = cifar10_epochs.report(args)
    assert [r["epochs"] for r in rows] == [6, 8, 10] and rows[0]["train_seconds"] == [180.0]
    text = (args.dest / "README.md").read_text()
    assert "| 64/256/256 | relu | 8 | 0 | 89.50 | 90.50 | 240 | mixed_bfloat16 | Some CPU (avx512_bf16, 2 cores) |" in text
    assert "- with TTA, ≥ 90 %: 64/256/256 relu 8 epochs (met by every one)." in text
    assert "- without TTA, ≥ 90 %: 64/256/256 relu 10 epochs (met by every one)." in text
    measured, judged = cifar10_epochs.summary(rows)
    assert "relu 8 epochs 90.50 / 89.50" in measured and "Some CPU (avx512_bf16, 2 cores)" in measured
    assert judged.startswith("≥ 90 % in ≤ 10 epochs with TTA: met by relu; ≥ 90 % in ≤ 10 epochs without: met by relu")
    assert judged.endswith("92 % (ambition): reached by relu")
    assert "- without TTA, ≥ 92 %: 64/256/256 relu not reached." in text
    assert "- with TTA, ≥ 92 %: 64/256/256 relu 10 epochs." in text and "(up to 10 epochs)" in text


def test_records_carry_the_runs_to_another_machine(tmp_path):
    args = _args(tmp_path)
    _write(args.work, 10, 0, 0.915, 0.925)
    records.save(args.work, args.dest / "records")
    args.work = tmp_path / "elsewhere"  # a fresh work folder: the report restores the committed records
    (row,) = cifar10_epochs.report(args)
    assert row["setting"] == "w64-256-256_e10" and row["test_accuracy_tta"] == [0.925]


def test_a_report_without_runs_says_how_to_make_them(tmp_path):
    with pytest.raises(SystemExit, match="cifar10_epochs.py run"):
        cifar10_epochs.report(_args(tmp_path))


def test_the_command_keeps_the_presets_recipe_at_another_width():
    cmd = cifar10_epochs.command([64, 128, 128], 8, "relu", 1, "out")
    kwargs = json.loads(cmd[cmd.index("--model-kwargs") + 1])
    assert kwargs["widths"] == [64, 128, 128] and kwargs["whiten_bias_epochs"] == 3
    assert cmd[cmd.index("--epochs") + 1] == "8" and cmd[cmd.index("--preset") + 1] == "cifar10"

"""benchmarks/xu2015.py's report on synthetic run records: the comparison, the paper's table and the claims."""

import json

import numpy as np
import pytest

from benchmarks import xu2015
from relu_zoo.run import stats, store

ACTS = (xu2015.RELU, xu2015.LEAKY, xu2015.VERY_LEAKY, xu2015.PRELU, xu2015.RRELU)


def _record(act, seed, test, train, slopes=None):
    diagnostics = None
    if slopes is not None:
        layers = {f"p_re_lu_{i}": {"params": {"alpha": {"mean": s, "min": s, "max": s}}} for i, s in enumerate(slopes)}
        diagnostics = [{"epoch": -1, "layers": {}}, {"epoch": 1, "layers": layers}]
    return {"run_id": f"cifar10__airbench__{act}__seed{seed}".replace(":", "_").replace("'", "").replace("=", "-"),
            "task": "cifar10", "model": "airbench", "activation": act, "seed": seed, "status": "ok",
            "test_accuracy": test, "test_accuracy_tta": test + 0.005, "test_loss": 0.5, "params": 1000,
            "history": [{"epoch": 0, "accuracy": train - 0.1}, {"epoch": 1, "accuracy": train}],
            "diagnostics": diagnostics, "config": {"epochs": 2}, "command": "train.py --preset xu2015"}


def _sweep(tmp_path, shift):
    """Five seeds per activation; activation i scores `shift[i]` above ReLU, with small per-seed noise."""
    rng = np.random.default_rng(0)
    out = tmp_path / "sweep"
    for seed in range(5):
        base = 0.85 + 0.01 * rng.normal()
        for act, delta in zip(ACTS, shift):
            noise = 0.0005 * rng.normal()
            slopes = [0.4, 0.3, 0.2, 0.1] if act == xu2015.PRELU else None
            train = 0.95 if act != xu2015.RRELU else 0.90  # RReLU overfits less: its gap is smaller
            r = _record(act, seed, base + delta + noise, train + delta + noise, slopes)
            store.write_result(out / "runs" / r["run_id"], r)
    return out


def test_report_compares_with_the_paper_and_checks_its_claims(tmp_path):
    out = _sweep(tmp_path, shift=(0.0, 0.002, 0.01, 0.008, 0.012))
    dest = tmp_path / "report"
    comparison = xu2015.report(out, dest)
    rows = {r["activation"]: r for r in comparison["rows"]}
    assert rows[xu2015.RRELU]["paper_test_accuracy"] == pytest.approx(0.8881)  # PwC: 88.8 %
    assert all(rows[a]["vs_relu"]["verdict"] == "better" for a in ACTS[1:])
    assert comparison["our_order"][0] == xu2015.RRELU and comparison["our_order"][-1] == xu2015.RELU
    assert comparison["claims"]["rrelu_minus_prelu_test_accuracy"]["verdict"] == "better"
    assert comparison["claims"]["rrelu_minus_prelu_generalization_gap"]["verdict"] == "worse"  # smaller gap
    summary = (dest / "summary.md").read_text()
    assert "- **Precision.** Paired 95% half-widths against ReLU" in summary
    prelu = rows[xu2015.PRELU]["vs_relu"]["correlation"]
    assert f"| {prelu:+.2f} |" in next(line for line in summary.splitlines() if line.startswith("| PReLU |"))
    assert "holds here" in summary and "| Leaky ReLU (a = 5.5) | 5 |" in summary and "88.81" in summary
    assert xu2015.summary(comparison) == ("a non-zero slope improves on ReLU: holds here; RReLU beats the very "
                                          "leaky ReLU and PReLU: holds here, with a smaller train − test gap: holds "
                                          "here")
    stored = json.loads((dest / "results.json").read_text())
    assert stored["prelu_slopes_per_layer"]["0"] == [0.4, 0.3, 0.2, 0.1] and len(stored["runs"]) == 25
    assert (dest / "accuracy.png").stat().st_size > 0 and (dest / "prelu_slopes.png").stat().st_size > 0


def test_a_claim_the_data_does_not_support_is_said_so(tmp_path):
    out = _sweep(tmp_path, shift=(0.0, -0.003, -0.004, -0.006, -0.005))
    dest = tmp_path / "report"
    comparison = xu2015.report(out, dest)
    assert all(r["vs_relu"]["verdict"] == "worse" for r in comparison["rows"][1:])
    assert "not supported here" in (dest / "summary.md").read_text()
    assert xu2015.summary(comparison).startswith("a non-zero slope improves on ReLU: not supported here;")


def test_the_precision_against_its_target_is_stated():
    prelu = {"half_width": 0.0024, "sd": 0.004}
    met = xu2015._precision({"PReLU": prelu, "RReLU": {"half_width": 0.003049, "sd": 0.006}})
    assert met["missed"] == []  # 0.30 points as the page shows it
    assert xu2015.precision_line(met) == ("Paired 95% half-widths against ReLU 0.24–0.30 points, target ±0.30: met "
                                          "by every comparison")
    missed = xu2015._precision({"PReLU": prelu, "RReLU": {"half_width": 0.0031, "sd": 0.007}})
    assert missed["missed"] == ["RReLU"] and missed["seeds_needed"] == stats.seeds_for(0.007, 0.003) > 20
    assert xu2015.precision_line(missed).endswith(
        f"missed by RReLU (0.31); at the widest spread it needs about {missed['seeds_needed']} seeds")
    assert xu2015.precision_line(xu2015._precision({})) == "Too few seeds for an interval"


def test_report_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="No finished runs"):
        xu2015.report(tmp_path, tmp_path / "report")


def test_finished_runs_are_kept_as_records_and_restored_on_another_machine(tmp_path):
    from relu_zoo.run import records

    out = _sweep(tmp_path, shift=(0.0, 0.002, 0.01, 0.008, 0.012))
    dest = tmp_path / "reports" / "short"
    assert len(records.save(out, dest / "records")) == 25
    assert records.save(out, dest / "records") == []  # idempotent
    fresh = tmp_path / "elsewhere"
    assert records.restore(dest / "records", fresh) == 25
    assert {r["run_id"] for r in store.load_results(fresh)} == {r["run_id"] for r in store.load_results(out)}
    xu2015.report(tmp_path / "nothing_trained_here", dest)  # the report restores the records itself
    index = (tmp_path / "reports" / "README.md").read_text()
    assert "## short ([summary](short/summary.md))" in index and "Not run yet" in index


def test_the_training_accuracy_is_described_as_each_regime_measured_it():
    header, words = xu2015._train_accuracy_words({"task_kwargs": {"augmentation": None}, "label_smoothing": 0.0})
    assert "augmented" not in header + words and "smoothing" not in header + words
    header, words = xu2015._train_accuracy_words({"task_kwargs": {}, "label_smoothing": 0.2})
    assert "augmented, label smoothing 0.2" in header and "augmented batches with label smoothing 0.2" in words


def test_prelus_slopes_per_layer_are_checked_against_he_et_al():
    (line,) = xu2015.slope_lines({"0": [0.6, 0.4, 0.2, 0.1], "1": [0.5, 0.3, 0.2, 0.1]})
    assert "0.55, 0.35, 0.20, 0.10" in line and "seen here too" in line and "largest is layer 1's" in line
    (line,) = xu2015.slope_lines({"0": [0.0, 0.1, 0.2, 0.3]})
    assert "not seen here" in line and xu2015.slope_lines({}) == []

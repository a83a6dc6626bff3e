"""Statistics and the report, on synthetic results (no training)."""

import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from relu_zoo.run import report, stats
from relu_zoo.run.store import atomic_write_json


def test_describe_uses_student_t_interval():
    values = [0.97, 0.98, 0.985]
    d = stats.describe(values)
    half = scipy_stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert d["n"] == 3 and d["mean"] == pytest.approx(np.mean(values))
    assert d["ci95"] == pytest.approx([np.mean(values) - half, np.mean(values) + half])
    assert stats.describe([0.5])["ci95"] is None and stats.describe([])["mean"] is None


def test_paired_difference_matches_scipy_and_pairs_by_seed():
    a = {0: 0.90, 1: 0.92, 2: 0.95, 3: 0.91}
    b = {0: 0.89, 1: 0.90, 2: 0.94, 4: 0.99}  # seed 3/4 unpaired: ignored
    r = stats.paired_difference(a, b)
    assert r["n_pairs"] == 3
    assert r["mean_diff"] == pytest.approx(np.mean([0.01, 0.02, 0.01]))
    assert r["p_value"] == pytest.approx(scipy_stats.ttest_rel([0.90, 0.92, 0.95], [0.89, 0.90, 0.94]).pvalue)
    assert stats.paired_difference({0: 0.5}, {0: 0.4})["p_value"] is None


def test_detectable_difference_is_the_80_percent_power_shift():
    sd, n = 0.01, 10
    mde = stats.detectable(sd, n)
    # Simulated: a paired t-test at 0.05 detects a true shift of `mde` about 80 % of the time (the formula is
    # the usual normal-shift approximation of the noncentral t, so a little above or below).
    rng = np.random.default_rng(1)
    diffs = rng.normal(mde, sd, size=(20000, n))
    p = scipy_stats.ttest_1samp(diffs, 0.0, axis=1).pvalue
    assert 0.76 < np.mean(p < 0.05) < 0.84
    assert stats.detectable(sd, 40) < mde / 2 + 1e-3  # four times the seeds, about half the difference
    assert stats.detectable(None, 10) is None and stats.detectable(sd, 1) is None


def test_equivalence_tost_probability_of_improvement_and_correlation():
    base = {s: 0.9 + 0.01 * s for s in range(8)}
    same = {s: v + (0.0005 if s % 2 else -0.0005) for s, v in base.items()}
    r = stats.paired_difference(same, base, delta=0.005)
    assert r["p_equivalence"] < 0.001 and r["correlation"] > 0.99
    assert r["prob_improvement"] == 0.5 and r["prob_improvement_ci95"][0] < 0.5 < r["prob_improvement_ci95"][1]
    stats.adjust([r])
    assert r["verdict"] == "equivalent" and stats.verdict_text(r) == "equivalent within ±0.50 points"
    # The same spread around a 1-point shift is not equivalent within 0.5: it is better.
    better = stats.paired_difference({s: v + 0.01 for s, v in same.items()}, base)
    assert better["prob_improvement"] == 1.0 and stats.adjust([better])[0]["verdict"] == "better"
    # Wilson: 10 of 10 wins still leaves room below 1.
    assert stats.wilson(10, 10)[0] == pytest.approx(0.7225, abs=1e-3)


def test_claim_outcome_says_not_supported_only_where_detectable():
    assert stats.claim_outcome(["better", "better"], "better") == "holds here"
    assert stats.claim_outcome(["better", "inconclusive"], "better") == "holds in part"
    assert stats.claim_outcome(["equivalent", "worse"], "better") == "not supported here"
    assert stats.claim_outcome(["equivalent", "inconclusive"], "better") == "inconclusive"
    assert stats.claim_outcome(["too few seeds"], "better") == "too few seeds to tell"


def test_holm_adjustment():
    adjusted = stats.holm([0.01, None, 0.04, 0.03])
    # sorted: 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert adjusted == pytest.approx([0.03, None, 0.06, 0.06])
    assert adjusted[1] is None


def _result(act, seed, acc, status="ok", epoch_time=1.0):
    return {
        "run_id": f"mnist__cnn__{act}__seed{seed}", "task": "mnist", "model": "cnn", "activation": act,
        "seed": seed, "status": status, "diverged_epoch": 0 if status == "diverged" else None, "epochs": 1,
        "test_accuracy": None if status == "diverged" else acc, "test_loss": None if status == "diverged" else 1 - acc,
        "val_accuracy": acc, "params": 100, "mean_epoch_time": epoch_time, "peak_memory_mb": 10.0,
        "history": [{"epoch": 0, "val_accuracy": acc, "loss": 0.5}],
        "diagnostics": [{"epoch": 0, "layers": {"a": {"never_active_fraction": 0.5, "dead_fraction": 0.25,
                                                        "sparsity": 0.5, "grad_norm": 1.0}}}],
        "config": {"activations": ["relu", "prelu", "elu", "gelu"]},
    }


def _write_runs(out, results):
    for r in results:
        atomic_write_json(out / "runs" / r["run_id"] / "result.json", r)


def test_report_statistics_and_honest_verdicts(tmp_path):
    rng = np.random.default_rng(0)
    base = 0.95 + rng.normal(0, 0.001, 6)
    results = [_result("relu", s, base[s]) for s in range(6)]
    results += [_result("prelu", s, base[s] + 0.02 + rng.normal(0, 0.0005), epoch_time=1.5) for s in range(6)]
    results += [_result("elu", s, base[s] + rng.normal(0, 0.002)) for s in range(5)]
    results += [_result("elu", 5, None, status="diverged")]
    results += [_result("gelu", s, base[s] + rng.normal(0, 0.02)) for s in range(6)]  # too noisy to call
    _write_runs(tmp_path, results)
    path = report.write_report([tmp_path], tmp_path)
    text = path.read_text()
    summary = json.loads((tmp_path / "results.json").read_text())["summary"][0]
    rows = {r["activation"]: r for r in summary["rows"]}
    assert summary["baseline"] == "relu"
    assert rows["prelu"]["vs_baseline"]["verdict"] == "better"
    assert rows["elu"]["vs_baseline"]["verdict"] == "equivalent"  # within ±0.5 points, and that was detectable
    gelu = rows["gelu"]["vs_baseline"]
    assert gelu["verdict"] == "inconclusive" and gelu["mde"] > 0.02  # could not detect less than ~3 points
    assert rows["elu"]["diverged"] == [5] and rows["elu"]["accuracy"]["n"] == 5
    assert rows["prelu"]["time_ratio"] == pytest.approx(1.5)
    assert rows["relu"]["dead_fraction"] == pytest.approx(0.25)
    assert rows["relu"]["never_active_fraction"] == pytest.approx(0.5)
    assert "| 50.0% | 25.0% |" in text  # never active, then dead
    assert "Better than relu (Holm-adjusted p < 0.05): prelu." in text
    assert "Equivalent to relu within ±0.50 points: elu." in text
    assert f"inconclusive: could not detect less than {100 * gelu['mde']:.2f} points" in text
    assert f"Inconclusive: gelu ({100 * gelu['mde']:.2f})." in text
    assert "(1 diverged)" in text and "not significant" not in text
    for plot in ("val_accuracy.png", "activations.png", "dead_units.png"):
        assert (tmp_path / "plots" / plot).stat().st_size > 1000


def test_old_records_dead_fraction_is_read_as_never_active(tmp_path):
    # Runs stored before the metrics were split recorded `dead_fraction` meaning never > 0.
    old = [_result("relu", s, 0.9 + 0.01 * s) for s in range(2)]
    for r in old:
        r["diagnostics"][0]["layers"]["a"] = {"dead_fraction": 0.3, "sparsity": 0.5, "grad_norm": 1.0}
    _write_runs(tmp_path, old)
    text = report.write_report([tmp_path], tmp_path).read_text()
    row = json.loads((tmp_path / "results.json").read_text())["summary"][0]["rows"][0]
    assert row["never_active_fraction"] == pytest.approx(0.3) and row["dead_fraction"] is None
    assert "| 30.0% | – |" in text
    csv_rows = (tmp_path / "results.csv").read_text().splitlines()
    assert csv_rows[0].endswith("final_never_active_fraction,final_dead_fraction")
    assert csv_rows[1].endswith(",0.3,")
    assert (tmp_path / "plots" / "dead_units.png").stat().st_size > 1000


def test_time_column_is_marked_as_sequential_and_load_sensitive(tmp_path):
    _write_runs(tmp_path, [_result("relu", 0, 0.9), _result("prelu", 0, 0.95, epoch_time=1.5)])
    text = report.write_report([tmp_path], tmp_path).read_text()
    assert "| time/epoch vs baseline † |" in text and "| 1.50× |" in text
    note = next(line for line in text.splitlines() if line.startswith("† "))
    assert "one after another, not interleaved" in note and "benchmarks/training.py speed" in note


def test_no_dead_units_anywhere_is_said_in_words_not_drawn(tmp_path):
    results = [_result("relu", 0, 0.9), _result("prelu", 0, 0.95)]
    _write_runs(tmp_path, results)
    report.write_report([tmp_path], tmp_path)
    assert (tmp_path / "plots" / "dead_units.png").exists()
    for r in results:  # the same runs, with no never-active and no dead unit
        r["diagnostics"][0]["layers"]["a"].update(never_active_fraction=0.0, dead_fraction=0.0)
    _write_runs(tmp_path, results)
    text = report.write_report([tmp_path], tmp_path).read_text()
    assert not (tmp_path / "plots" / "dead_units.png").exists()  # the earlier report's figure is not left stale
    assert "dead_units.png" not in text
    section = text.split("### Never-active and dead units per layer", 1)[1].split("###", 1)[0]
    assert "No unit of any activation layer was never active or dead after training" in section


def test_no_ranking_without_evidence(tmp_path):
    _write_runs(tmp_path, [_result("relu", 0, 0.9), _result("prelu", 0, 0.95)])
    text = report.write_report([tmp_path], tmp_path).read_text()
    assert "too few seeds" in text and "does not support a ranking" in text


def test_merging_folders_equals_one_folder(tmp_path):
    results = [_result(a, s, 0.9 + 0.01 * s + (0.001 if a == "prelu" else 0)) for a in ("relu", "prelu")
               for s in range(3)]
    _write_runs(tmp_path / "single", results)
    _write_runs(tmp_path / "a", results[:2])
    _write_runs(tmp_path / "b", results[2:])
    report.write_report([tmp_path / "single"], tmp_path / "single")
    report.write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")
    single = json.loads((tmp_path / "single" / "results.json").read_text())
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert single == merged


def test_empty_report_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="No finished runs"):
        report.write_report([tmp_path], tmp_path)


def test_runs_without_validation_draw_no_curve_and_warn_nothing(tmp_path):
    # Trained on the whole training split (validation_every: null): no val_accuracy in any epoch.
    import warnings

    from relu_zoo.run import plots

    results = [{"task": "cifar10", "model": "airbench", "status": "ok", "activation": act,
                "history": [{"loss": 1.0}, {"loss": 0.5}]} for act in ("relu", "elu")]
    summary = [{"task": "cifar10", "model": "airbench", "rows": [{"activation": "relu"}, {"activation": "elu"}]}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.validation_curves(results, summary, tmp_path / "val.png")
    assert (tmp_path / "val.png").is_file()


def test_no_time_ratio_for_runs_not_timed_together(tmp_path):
    # Stored baselines (relu-zoo compare) were timed in another session, at another load: no ratio.
    results = [_result("relu", s, 0.9) for s in range(3)] + [_result("elu", s, 0.9, epoch_time=2.0) for s in range(3)]
    _write_runs(tmp_path, results)
    for together, expected in ((True, 2.0), (False, None)):
        report.write_report([tmp_path], tmp_path, timed_together=together)
        rows = {r["activation"]: r for r in json.loads((tmp_path / "results.json").read_text())["summary"][0]["rows"]}
        assert rows["elu"]["time_ratio"] == (pytest.approx(expected) if expected else None)


def test_a_stored_report_is_rebuilt_from_its_own_records(tmp_path):
    results = [_result("relu", s, 0.9 + 0.01 * s) for s in range(3)]
    results += [_result("prelu", s, 0.91 + 0.01 * s) for s in range(3)]
    _write_runs(tmp_path / "sweep", results)
    first = report.write_report([tmp_path / "sweep"], tmp_path / "stored").read_text()
    # The stored folder has no runs/: its results.json is the record, and the rebuilt report is the same.
    assert report.write_report([tmp_path / "stored"], tmp_path / "stored").read_text() == first
    assert report.collect([tmp_path / "stored"]) == report.collect([tmp_path / "sweep"])

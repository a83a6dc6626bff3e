"""relu_zoo.studies: the machinery, the analyses on synthetic records, and the born-dead prediction."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from scipy import stats as scipy_stats

import relu_zoo
from relu_zoo import models, tasks
from relu_zoo import console
from relu_zoo.run.spec import ConfigError
from relu_zoo.studies import (born_dead, common, dying, get, init, list_studies, restate_study, run_study, sparsity,
                              trains_faster, vanishing)

STORED = Path(__file__).resolve().parents[1] / "benchmarks" / "reports" / "studies"


def _stored_analysis(name):
    return json.loads((STORED / name / "results.json").read_text())["analysis"]


def _result(act, seed, acc, layers_by_epoch, status="ok"):
    """A run record as the runner writes it, with diagnostics {epoch: [per-layer entries]}."""
    return {"run_id": f"mnist__mlp__{act}__seed{seed}", "activation": act, "seed": seed, "status": status,
            "diverged_epoch": None, "test_accuracy": acc, "history": [{"epoch": 0, "val_accuracy": acc}],
            "mean_epoch_time": 1.0,
            "diagnostics": [{"epoch": e, "layers": {f"l{i}": entry for i, entry in enumerate(entries)}}
                            for e, entries in layers_by_epoch.items()]}


def test_every_study_has_the_interface():
    assert set(list_studies()) == {"vanishing", "init", "dying", "born_dead", "sparsity", "trains_faster",
                                   "glu_variants", "squared_relu"}
    for name in list_studies():
        module = get(name)
        for attr in ("TITLE", "CLAIM", "cells", "setup", "analyze", "figures", "findings", "verdict"):
            assert hasattr(module, attr), (name, attr)
        for quick in (True, False):
            ids = [cell_id for cell_id, _ in module.cells(quick)]
            assert len(ids) == len(set(ids))


def test_full_grids_have_three_seeds_and_quick_ones_are_small():
    assert len(common.BASE["seeds"]) >= 3
    assert common.QUICK["max_train_examples"] <= 512
    # Every cell validates as a sweep config (names, model kwargs) before anything trains.
    for name in list_studies():
        for cell_id, overrides in get(name).cells(False):
            config = common.cell_config(overrides, False, "/tmp/unused", cell_id)
            assert config.seeds == [0, 1, 2]


def test_vanishing_trains_every_depth_once():
    assert sorted(vanishing.RUN_ORDER) == vanishing.DEPTHS
    assert [overrides["model_kwargs"]["depth"] for _, overrides in vanishing.cells(False)] == vanishing.RUN_ORDER


def test_dying_trains_the_reference_and_the_extremes_first():
    ids = [cell_id for cell_id, _ in dying.cells(False)]
    assert ids[:3] == ["lr0.01__bias0", "lr1__bias0", "lr0.01__bias-3"]
    assert sorted(ids) == sorted({f"lr{lr:g}__bias0" for lr in dying.LEARNING_RATES} | {"lr0.01__bias-1",
                                                                                         "lr0.01__bias-3"})


def test_unknown_study_is_refused():
    with pytest.raises(SystemExit) as e:
        console.main(["study", "nope"])
    assert e.value.code == 2
    with pytest.raises(ValueError, match="Unknown study 'vanish'. Did you mean 'vanishing'?"):
        get("vanish")


def test_the_study_baselines_are_the_classics_every_comparison_names():
    # sigmoid and tanh are relu_zoo.classics, not zoo layers: outside the layer tests' list, yet always nameable.
    assert "sigmoid" not in relu_zoo.list_activations() and "tanh" not in relu_zoo.list_activations()
    layer = relu_zoo.get("tanh")
    assert np.allclose(np.asarray(layer(np.array([[0.5, -2.0]], "float32"))), np.tanh([[0.5, -2.0]]), atol=1e-6)
    assert isinstance(relu_zoo.get("sigmoid"), keras.layers.Activation)  # so the diagnostics probe it


def test_mlp_takes_the_initializer_and_bias_of_a_study():
    spec = tasks.get("mnist").spec
    model = models.create_model("mlp", task=spec, activation="relu", depth=2, width=8,
                                kernel_initializer="lecun_uniform", bias_init=-2.0)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert len(dense) == 2
    for layer in dense:
        assert np.all(np.asarray(layer.bias) == -2.0)
        assert type(layer.kernel_initializer).__name__ == "LecunUniform"
    default = models.create_model("mlp", task=spec, activation="relu", depth=1, width=8)
    assert type(default.layers[2].kernel_initializer).__name__ == "HeNormal"


def test_vanishing_ratio_is_first_over_last_layer():
    runs = [_result("sigmoid", s, 0.5, {-1: [{"grad_norm": 1e-3}, {"grad_norm": 1.0}],
                                        0: [{"grad_norm": 1e-2}, {"grad_norm": 1.0}]}) for s in range(3)]
    runs += [_result("relu", s, 0.9, {-1: [{"grad_norm": 2.0}, {"grad_norm": 1.0}],
                                      0: [{"grad_norm": 1.0}, {"grad_norm": 1.0}]}) for s in range(3)]
    analysis = vanishing.analyze({"depth2": runs}, False, None)
    cell = analysis["by_depth"]["2"]
    assert cell["sigmoid"]["log10_ratio_init"]["mean"] == pytest.approx(-3.0)
    assert cell["sigmoid"]["log10_ratio_after"]["mean"] == pytest.approx(-2.0)
    assert cell["relu"]["log10_ratio_init"]["mean"] == pytest.approx(np.log10(2.0))
    assert cell["relu"]["test_accuracy"]["n"] == 3
    text = "\n".join(vanishing.findings(analysis))
    assert "- sigmoid: 10^-3.0 at initialization, 10^-2.0 after the epoch" in text and "**supported**" in text


def test_dying_separates_dead_from_never_active_and_skips_diverged_runs():
    def entry(dead, never):
        return {"dead_fraction": dead, "never_active_fraction": never}

    runs = [_result("relu", s, 0.2, {-1: [entry(0.0, 0.0)], 1: [entry(0.8, 0.8)]}) for s in range(2)]
    runs += [_result("leaky_relu", s, 0.9, {-1: [entry(0.0, 0.0)], 1: [entry(0.0, 0.7)]}) for s in range(2)]
    runs.append(_result("relu", 2, None, {-1: [entry(0.0, 0.0)]}, status="diverged"))
    analysis = dying.analyze({"lr1__bias0": runs}, False, None)
    relu, leaky = analysis["cells"]["relu__lr1__bias0"], analysis["cells"]["leaky_relu__lr1__bias0"]
    assert relu["diverged"] == 1 and relu["test_accuracy"]["n"] == 2
    assert dying._final(relu["dead"])["mean"] == pytest.approx(0.8)
    assert dying._final(leaky["dead"])["mean"] == 0.0
    assert dying._final(leaky["never_active"])["mean"] == pytest.approx(0.7)


def test_sparsity_asks_whether_the_sparsest_wins():
    runs = [_result("relu", s, 0.90 + 0.001 * s, {-1: [{"sparsity": 0.5}], 2: [{"sparsity": 0.6}]}) for s in range(3)]
    runs += [_result("elu", s, 0.95 + 0.001 * s, {-1: [{"sparsity": 0.0}], 2: [{"sparsity": 0.0}]}) for s in range(3)]
    analysis = sparsity.analyze({"mlp": runs}, False, None)
    assert analysis["spearman"]["rho"] < 0 and analysis["spearman"]["n"] == 6
    text = "\n".join(sparsity.findings(analysis))
    assert "Sparsest: relu" in text and "Most accurate: elu" in text and "**Not supported here**" in text


def test_dead_at_one_input_matches_the_prediction():
    measured = born_dead.born_dead(widths=[2, 3], depths=[1, 4], trials=3000, seed=1)
    for b in measured.values():
        assert b["dead_at_input"] == pytest.approx(born_dead.predicted_dead_at_input(b["width"], b["depth"]), abs=0.04)
        # Dead over the whole input set implies dead at the first input.
        assert b["born_dead"] <= b["dead_at_input"]
    assert born_dead.predicted_dead_at_input(2, 1) == 0.25


def test_a_study_writes_results_figures_and_readme(tmp_path):
    # born_dead trains nothing, so this runs the whole writing path in seconds.
    path = run_study("born_dead", out=tmp_path / "out", work=tmp_path / "work", quick=True, log=lambda *_: None)
    text = path.read_text()
    assert "## Finding" in text and "relu-zoo study born_dead --quick" in text
    assert "![Born dead: measured vs predicted](figures/born_dead.png)" in text
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["study"] == "born_dead" and results["quick"] is True
    assert results["verdict"] == born_dead.verdict(results["analysis"])
    assert f"## Finding\n\n{results['verdict']}\n\n" in text  # the verdict leads the finding
    assert set(results["analysis"]["born_dead"]) == {"2x1", "2x5", "4x1", "4x5"}
    assert (tmp_path / "out" / "figures" / "born_dead.png").stat().st_size > 1000
    cached = (tmp_path / "work" / "born_dead.json").read_text()
    run_study("born_dead", out=tmp_path / "out", work=tmp_path / "work", quick=True, log=lambda *_: None)
    assert (tmp_path / "work" / "born_dead.json").read_text() == cached  # resumed, not recomputed


@pytest.mark.slow
def test_quick_training_study_runs_and_resumes(tmp_path):
    log = []
    run_study("sparsity", out=tmp_path / "out", work=tmp_path / "work", quick=True, log=log.append)
    assert sum("test accuracy" in line for line in log) == 4  # relu, leaky_relu x 2 seeds
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["activation"] for r in results["runs"]["mlp"]} == {"relu", "leaky_relu"}
    assert results["analysis"]["activations"]["relu"]["test_accuracy"]["n"] == 2
    log.clear()
    run_study("sparsity", out=tmp_path / "out", work=tmp_path / "work", quick=True, log=log.append)
    assert not any("test accuracy" in line for line in log)  # every run was already recorded


def test_report_only_writes_partial_results_and_says_so(tmp_path):
    from relu_zoo.run.store import atomic_write_json

    for seed in (0, 1):
        r = _result("relu", seed, 0.9 + 0.01 * seed, {-1: [{"sparsity": 0.5}], 0: [{"sparsity": 0.6}]})
        r.update(task="mnist", model="mlp", test_loss=0.3, params=10)
        atomic_write_json(tmp_path / "work" / "mlp" / "runs" / r["run_id"] / "result.json", r)
    path = run_study("sparsity", out=tmp_path / "out", work=tmp_path / "work", quick=True, train=False,
                     log=lambda *_: None)
    assert "**Partial: 2 of the grid's 4 runs had finished" in path.read_text()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert (results["finished_runs"], results["expected_runs"]) == (2, 4)
    assert results["analysis"]["activations"]["relu"]["test_accuracy"]["mean"] == pytest.approx(0.905)
    assert not (tmp_path / "work" / "mlp" / "config.json").exists()  # nothing was trained or prepared
    with pytest.raises(Exception, match="nothing to report"):
        run_study("sparsity", out=tmp_path / "o2", work=tmp_path / "empty", quick=True, train=False)


def test_layers_are_read_in_call_order_not_sorted_key_order():
    from relu_zoo.run.store import ordered_layers

    # JSON written with sorted keys puts "sigmoid_10" before "sigmoid_8".
    old = {"sigmoid_10": {"grad_norm": 3.0}, "sigmoid_12": {"grad_norm": 4.0}, "sigmoid_8": {"grad_norm": 2.0},
           "sigmoid": {"grad_norm": 1.0}}
    assert list(ordered_layers(old)) == ["sigmoid", "sigmoid_8", "sigmoid_10", "sigmoid_12"]
    new = {"b_1": {"index": 1}, "a_7": {"index": 0}}
    assert list(ordered_layers(new)) == ["a_7", "b_1"]
    record = _result("sigmoid", 0, 0.1, {-1: [{"grad_norm": 1.0}]})
    record["diagnostics"][0]["layers"] = old
    assert common.layer_series(record, -1, "grad_norm") == [1.0, 2.0, 3.0, 4.0]


def _curve_result(act, seed, train_errors, val_accuracies, epoch_time=10.0):
    history = [{"epoch": e, "accuracy": 1 - t, "val_accuracy": v, "epoch_time": epoch_time}
               for e, (t, v) in enumerate(zip(train_errors, val_accuracies))]
    return {"run_id": f"cifar10__cnn__{act}__seed{seed}", "activation": act, "seed": seed, "status": "ok",
            "test_accuracy": 0.6, "history": history, "epochs": len(history)}


def test_trains_faster_counts_epochs_to_the_error_level_and_never_invents_one(tmp_path):
    relu = [_curve_result("relu", s, [0.6, 0.4, 0.24, 0.1], [0.4, 0.5, 0.56, 0.6]) for s in range(3)]
    tanh = [_curve_result("tanh", 0, [0.7, 0.5, 0.4, 0.3], [0.3, 0.4, 0.5, 0.52], epoch_time=12.0),
            _curve_result("tanh", 1, [0.7, 0.5, 0.4, 0.25], [0.3, 0.4, 0.5, 0.55], epoch_time=12.0),
            _curve_result("tanh", 2, [0.7, 0.5, 0.3, 0.2], [0.3, 0.4, 0.5, 0.55], epoch_time=12.0)]
    (tmp_path / "step_times.json").write_text(json.dumps({"median_s": {"relu": 0.01, "tanh": 0.012}}))
    analysis = trains_faster.analyze({"cifar10_cnn": relu + tanh}, False, tmp_path)
    a = analysis["activations"]
    assert a["relu"]["epochs_to_train_error"] == [3, 3, 3] and a["relu"]["seconds_to_train_error"] == [30.0] * 3
    assert a["tanh"]["epochs_to_train_error"] == [None, 4, 4]  # seed 0 never got to 25 %: not reached
    assert a["tanh"]["median_epochs_to_train_error"] == 4 and a["tanh"]["epochs_ratio_to_relu"] == pytest.approx(4 / 3)
    assert a["tanh"]["seconds_ratio_to_relu"] == pytest.approx(48 / 30)
    assert a["relu"]["epochs_to_val_accuracy"] == [3, 3, 3] and a["tanh"]["epochs_to_val_accuracy"] == [None, 4, 4]
    text = "\n".join(trains_faster.findings(analysis))
    assert "tanh took 1.33× ReLU's epochs" in text and "Krizhevsky et al. report 6×" in text
    assert "| tanh | not reached, 4, 4 | 4 | 1.33× |" in text and "| 12.0 |" in text
    # Most seeds never reaching the level leaves no median, and the finding says it was not reached.
    slow = [_curve_result("tanh", s, [0.7] * 4, [0.3] * 4) for s in range(3)]
    analysis = trains_faster.analyze({"cifar10_cnn": relu + slow}, False, tmp_path)
    assert analysis["activations"]["tanh"]["median_epochs_to_train_error"] is None
    text = "\n".join(trains_faster.findings(analysis))
    # 4 epochs over ReLU's 3 bound the factor below by 1.3 only: no claim about the paper's 6x.
    assert "tanh did not reach it within 4 epochs" in text and "at least 1.3× faster" in text
    assert "cannot be told from runs of 4 epochs" in text
    assert trains_faster.verdict(analysis).startswith("**Supported in direction**: tanh did not reach 25 % training")


def test_trains_faster_times_steps_round_robin_and_caches_them(tmp_path):
    times = trains_faster.step_times(["relu", "tanh"], tmp_path, quick=True)
    assert set(times["median_s"]) == {"relu", "tanh"} and all(t > 0 for t in times["median_s"].values())
    assert trains_faster.step_times(["relu", "tanh"], tmp_path, quick=True) == json.loads(
        (tmp_path / "step_times.json").read_text())


def test_every_stored_study_has_a_bold_one_line_verdict():
    stored = [name for name in list_studies() if (STORED / name / "results.json").is_file()]
    assert {"born_dead", "vanishing", "dying", "init", "sparsity"} <= set(stored)
    for name in stored:
        text = get(name).verdict(_stored_analysis(name))
        assert text.startswith("**") and text.count("**") >= 2 and "\n" not in text and "|" not in text, (name, text)


def test_stored_verdicts_state_what_they_could_detect():
    # The stored studies' verdicts, restated from their results.json (`relu-zoo study NAME --restate`).
    expected = {
        "born_dead": "**Supported**: at depth 50, 100.0% of width-2 nets are born dead, 11.5% of width-8 ones",
        "dying": "**Supported for the bias, inconclusive for the learning rate**: relu's dead units after training",
        "init": "**Supported at depth 20, inconclusive at depth 5**: relu's test accuracy",
        "sparsity": "**Inconclusive**: the sparsest (relu, 67.6% zeros",
        "trains_faster": "**Not supported here**: tanh took 0.83× ReLU's epochs",
        "vanishing": "**Supported for sigmoid, inconclusive for tanh**: at depth 50",
    }
    for name, start in expected.items():
        text = get(name).verdict(_stored_analysis(name))
        assert text.startswith(start), (name, text)
        assert "detectable" in text or "could not detect" in text, (name, text)
        if "nconclusive" in text.split("**")[1]:
            assert "could not detect less than" in text, (name, text)


def test_stored_comparisons_are_current():
    # Each stored analysis' comparisons are what its study computes from the stored analysis and runs now.
    for name in list_studies():
        if not (STORED / name / "results.json").is_file():  # not run at full size yet
            continue
        stored = json.loads((STORED / name / "results.json").read_text())
        assert get(name).compare(stored["analysis"], stored["runs"]) == stored["analysis"]["comparisons"], name


def test_restate_recomputes_a_stored_study_without_runs(tmp_path):
    stored = json.loads((STORED / "sparsity" / "results.json").read_text())
    del stored["analysis"]["comparisons"]
    stored["verdict"] = "stale"
    (tmp_path / "results.json").write_text(json.dumps(stored))
    path = restate_study("sparsity", out=tmp_path)
    restated = json.loads((tmp_path / "results.json").read_text())
    assert restated["verdict"] == sparsity.verdict(restated["analysis"]) != "stale"
    assert restated["verdict"] in path.read_text()
    # Paired by seed from the runs' scalars results.json keeps; the runs and their versions stay as they were.
    assert restated["analysis"]["comparisons"]["versus"]["elu"]["test"] == "paired"
    assert restated["runs"] == stored["runs"] and restated["versions"] == stored["versions"]
    assert not (tmp_path / "figures").exists()  # the figures are left as the runs drew them
    with pytest.raises(ConfigError, match="nothing to restate"):
        restate_study("sparsity", out=tmp_path / "none")
    assert console.main(["study", "sparsity", "--restate", "--out", str(tmp_path)]) == 0


# -- the comparisons every verdict rests on ---------------------------------------------------------------------

def test_welch_matches_scipy_and_difference_pairs_only_where_both_keep_seeds():
    a, b = [0.90, 0.93, 0.91, 0.95], [0.88, 0.89, 0.90]
    w = common.difference(common.ci(a), common.ci(b))
    assert w["test"] == "welch" and w["mean_diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert w["p_value"] == pytest.approx(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)
    paired = common.difference(common.seeded(dict(enumerate(a))), common.seeded(dict(enumerate(b))))
    assert paired["test"] == "paired" and paired["n_pairs"] == 3
    assert paired["p_value"] == pytest.approx(scipy_stats.ttest_rel(a[:3], b).pvalue)
    assert common.difference(common.seeded({0: 0.9}), common.ci(b))["p_value"] is None  # one value: too few


def test_adjust_gives_unpaired_comparisons_their_detectable_difference():
    a, b = common.ci([0.90, 0.93, 0.91]), common.ci([0.88, 0.89, 0.90])
    w, other = common.difference(a, b), common.difference(b, a)
    common.adjust([w, other])
    level = 0.05 / 2  # Bonferroni over the two, as stats.adjust does for paired comparisons
    assert w["mde"] == pytest.approx((scipy_stats.t.ppf(1 - level / 2, w["df"]) + scipy_stats.t.ppf(0.8, w["df"]))
                                     * w["se"])
    assert w["verdict"] in ("better", "inconclusive") and "detectable" in f"detectable: {common.detectable(w)}"


def _cmp(verdict, mean, ci95, mde, delta=0.005):
    return {"verdict": verdict, "mean_diff": mean, "ci95": ci95, "mde": mde, "delta": delta}


def test_outcome_says_not_supported_only_where_the_claim_could_be_detected():
    assert common.outcome(_cmp("better", 0.02, [0.01, 0.03], 0.01)) == "holds"
    assert common.outcome(_cmp("equivalent", 0.0, [-0.001, 0.001], 0.002)) == "not supported"
    assert common.outcome(_cmp("worse", -0.02, [-0.03, -0.01], 0.01)) == "not supported"
    assert common.outcome(_cmp("inconclusive", 0.01, [-0.02, 0.04], 0.05)) == "inconclusive"
    assert common.outcome(_cmp("worse", -0.02, [-0.03, -0.01], 0.01), want="worse") == "holds"
    assert common.outcome({"verdict": "too few seeds"}) == "too few seeds"
    # A claim with a size: detected but smaller; ruled out where a difference of that size was detectable ...
    assert common.outcome(_cmp("better", 0.5, [0.3, 0.7], 0.3), size=1.0) == "smaller"
    assert common.outcome(_cmp("inconclusive", 0.1, [-0.2, 0.4], 0.6), size=1.0) == "not supported"
    # ... and inconclusive where it was not, or where the interval still reaches the claimed size.
    assert common.outcome(_cmp("inconclusive", 0.1, [-0.2, 0.4], 1.5), size=1.0) == "inconclusive"
    assert common.outcome(_cmp("inconclusive", 0.5, [-0.2, 1.2], 0.9), size=1.0) == "inconclusive"


def test_claim_words_use_the_words_of_claim_outcome():
    assert common.claim_words([("a", "holds"), ("b", "holds")]) == "**Supported**"
    assert common.claim_words([("a", "not supported")]) == "**Not supported here**"
    assert common.claim_words([("a", "inconclusive")]) == "**Inconclusive**"
    assert common.claim_words([("a", "too few seeds")]) == "**Too few seeds to tell**"
    assert (common.claim_words([("tanh", "inconclusive"), ("sigmoid", "holds"), ("gelu", "not supported")])
            == "**Supported for sigmoid, not for gelu, inconclusive for tanh**")


# -- each study's verdict: supported, not supported where detectable, inconclusive -------------------------------

def _vanishing_runs(act, log_ratios, acc=0.5):
    """Runs whose log10 gradient ratio (first / last layer) is `log_ratios[seed]`, at init and after the epoch."""
    return [_result(act, s, acc, {e: [{"grad_norm": 10.0 ** r}, {"grad_norm": 1.0}] for e in (-1, 0)})
            for s, r in enumerate(log_ratios)]


def test_vanishing_verdict_needs_ten_times_more_lost_to_be_detectable():
    relu = [0.0, 0.1, -0.1]

    def verdict(tanh_loss):
        runs = _vanishing_runs("relu", relu, 0.9) + _vanishing_runs("sigmoid", [r - 30 - 0.1 * s for s, r in
                                                                                enumerate(relu)])
        runs += _vanishing_runs("tanh", [r - d for r, d in zip(relu, tanh_loss)])
        return vanishing.verdict(vanishing.analyze({"depth50": runs}, False, None))

    assert verdict([2.0, 2.1, 1.9]).startswith("**Supported**: at depth 50")
    # tanh loses as much as relu, and a factor of 10^0.2 would have been detected: not the claimed 10 times.
    text = verdict([0.05, -0.05, 0.0])
    assert text.startswith("**Supported for sigmoid, not for tanh**") and "detectable: a factor of 10^0.2" in text
    # Seeds too spread to tell a factor of 10 from none.
    text = verdict([2.0, -1.0, 0.5])
    assert text.startswith("**Supported for sigmoid, inconclusive for tanh**")
    assert "times more than tanh (inconclusive: could not detect less than a factor of 10^" in text


def _dying_runs(act, dead, acc=(0.9, 0.9, 0.9)):
    def entry(fraction):
        return {"dead_fraction": fraction, "never_active_fraction": fraction}
    return [_result(act, s, a, {-1: [entry(0.0)], 1: [entry(d)]}) for s, (d, a) in enumerate(zip(dead, acc))]


def test_dying_verdict_says_inconclusive_where_the_dead_units_could_not_be_told_apart():
    def verdict(dead_at_bias):
        results = {"lr0.01__bias0": _dying_runs("relu", [0.02, 0.03, 0.01]) + _dying_runs("leaky_relu", [0.0] * 3),
                   "lr0.01__bias-3": _dying_runs("relu", dead_at_bias, (0.1, 0.1, 0.1))
                   + _dying_runs("leaky_relu", [0.0] * 3, (0.85, 0.86, 0.87))}
        return dying.verdict(dying.analyze(results, False, None))

    text = verdict([0.80, 0.81, 0.79])
    assert text.startswith("**Supported**: relu's dead units after training: 80.0% at bias -3 vs 2.0% at bias 0 "
                           "(detectable: ")
    assert "the variants remove them" in text and "all of them train there" in text
    # As many dead units at bias -3 as at 0, within 2 points of the units, detectably: not supported.
    assert verdict([0.02, 0.035, 0.01]).startswith("**Not supported here**: relu's dead units after training")
    text = verdict([0.5, 0.0, 0.2])
    assert text.startswith("**Inconclusive**: relu's dead units after training: 23.3% at bias -3 vs 2.0% at bias 0 "
                           "(inconclusive: could not detect less than ")


def test_init_verdict_pairs_the_initializers_by_seed():
    def verdict(he, glorot):
        results = {}
        for init_name, accs in (("he_normal", he), ("glorot_uniform", glorot)):
            results[f"{init_name}__depth5"] = [
                _result("relu", s, a, {-1: [{"variance": 1.0}, {"variance": 0.5}]}) for s, a in enumerate(accs)]
        return init.verdict(init.analyze(results, False, None))

    assert verdict([0.95, 0.96, 0.97], [0.90, 0.905, 0.91]).startswith("**Supported**: relu's test accuracy")
    text = verdict([0.90, 0.92, 0.91], [0.901, 0.919, 0.91])
    assert text.startswith("**Not supported here**") and "equivalent within ±0.50 points" in text
    text = verdict([0.95, 0.90, 0.93], [0.90, 0.94, 0.91])
    assert text.startswith("**Inconclusive**") and "could not detect less than" in text


def test_sparsity_verdict_needs_the_sparsest_detectably_ahead_or_behind():
    def verdict(relu, elu):
        runs = [_result("relu", s, a, {-1: [{"sparsity": 0.5}], 2: [{"sparsity": 0.6}]}) for s, a in enumerate(relu)]
        runs += [_result("elu", s, a, {-1: [{"sparsity": 0.0}], 2: [{"sparsity": 0.0}]}) for s, a in enumerate(elu)]
        return sparsity.verdict(sparsity.analyze({"mlp": runs}, False, None))

    assert verdict([0.95, 0.96, 0.97], [0.90, 0.905, 0.91]).startswith("**Supported**: the sparsest activation "
                                                                       "(relu, 60.0% zeros) is detectably more")
    assert verdict([0.90, 0.91, 0.92], [0.95, 0.96, 0.97]).startswith(
        "**Not supported here**: the sparsest (relu, 60.0% zeros, 91.0% test accuracy) is detectably less accurate "
        "than elu")
    text = verdict([0.95, 0.90, 0.93], [0.90, 0.94, 0.91])
    assert text.startswith("**Inconclusive**: the sparsest (relu") and "could not detect less than" in text
    assert "could not detect a correlation weaker than ρ = ±" in text


def _born(width, depth, fraction, trials=2000):
    return {"width": width, "depth": depth, "trials": trials, "born_dead": fraction, "born_dead_ci95": [0, 1],
            "dead_at_input": fraction, "dead_at_input_ci95": [0, 1], "predicted_dead_at_input": 0.5}


def test_born_dead_verdict_compares_the_frequencies_over_the_trials():
    def verdict(narrow_deep, wide_deep, narrow_shallow, trials=2000):
        born = {f"{w}x{d}": _born(w, d, f, trials) for w, d, f in
                ((2, 50, narrow_deep), (8, 50, wide_deep), (2, 1, narrow_shallow), (8, 1, 0.0))}
        analysis = {"born_dead": born}
        analysis["comparisons"] = born_dead.compare(analysis, {})
        return born_dead.verdict(analysis)

    assert verdict(1.0, 0.1, 0.0).startswith("**Supported**: at depth 50, 100.0% of width-2 nets")
    # 2,000 trials each tell frequencies within 5 % of the nets apart: the same frequency is detectably no more.
    assert verdict(0.3, 0.3, 0.3).startswith("**Not supported here**")
    text = verdict(0.3, 0.2, 0.25, trials=20)
    assert text.startswith("**Inconclusive**") and "could not detect less than" in text


def test_trains_faster_verdict_is_the_epoch_ratio_beside_krizhevskys(tmp_path):
    (tmp_path / "step_times.json").write_text(json.dumps({"median_s": {"relu": 0.01, "tanh": 0.012}}))

    def verdict(relu_epoch, tanh_epoch, epochs=8):
        def errors(reached):  # 25 % training error first reached at epoch `reached` (1-based), or never
            return [0.2 if reached is not None and e + 1 >= reached else 0.5 for e in range(epochs)]

        def each(reached):  # one epoch for every seed, or one per seed
            return reached if isinstance(reached, list) else [reached] * 3

        runs = [_curve_result("relu", s, errors(r), [0.5] * epochs) for s, r in enumerate(each(relu_epoch))]
        runs += [_curve_result("tanh", s, errors(t), [0.5] * epochs) for s, t in enumerate(each(tanh_epoch))]
        return trains_faster.verdict(trains_faster.analyze({"cifar10_cnn": runs}, False, tmp_path))

    assert verdict(1, 6) == ("**Supported**: tanh took 6.00× ReLU's epochs to 25 % training error (medians 6 vs 1; "
                             "6.00× [6.00×, 6.00×] over 3 paired seeds, detectable: a factor of 1.00×; Krizhevsky et "
                             "al.: 6×)")
    assert verdict(2, 5).startswith("**Partly supported**: tanh took 2.50× ReLU's epochs")
    assert verdict(3, 3).startswith("**Not supported here**: tanh took 1.00×")
    # Seeds too spread to tell: tanh 1.5× slower in the median, but no factor below 6 could be detected.
    text = verdict([2, 4, 3], [6, 3, 4])
    assert text.startswith("**Inconclusive**: tanh took 1.33× ReLU's epochs")
    assert "inconclusive: could not detect less than a factor of" in text
    # tanh never there: the run's length over ReLU's epochs bounds the factor from below, nothing more.
    assert verdict(1, None) == ("**Supported**: tanh did not reach 25 % training error in 8 epochs, ReLU in 1 "
                                "(median), at least 8.0× faster (Krizhevsky et al.: 6×)")
    assert verdict(2, None) == ("**Supported in direction**: tanh did not reach 25 % training error in 8 epochs, "
                                "ReLU in 2 (median): at least 4.0× faster; the paper's factor is not testable in 8 "
                                "epochs (Krizhevsky et al.: 6×)")
    assert verdict(None, 2).startswith("**Not measured here**: ReLU did not reach 25 % training error")

"""Sparsity: is the sparsest activation the most accurate?

Glorot et al. 2011 credit part of ReLU's success to sparse representations (exact zeros); Xu et al. 2015
("Empirical Evaluation of Rectified Activations in Convolutional Network") find the non-sparse leaky
variants at least as good. Measured here: the fraction of exact zeros in the hidden layers' outputs on a
fixed probe batch, at initialization and after each epoch, against test accuracy, across activations.
"""

import math

import numpy as np
from scipy import stats as scipy_stats

from relu_zoo.run import stats
from relu_zoo.studies import common

TITLE = "Sparsity: activation sparsity vs accuracy"
CLAIM = "Sparse activations are why ReLU works: the sparser network is the better one."
SHORT_CLAIM = "Sparse activations are why ReLU works"
# Sparse (relu: exact zeros) against non-sparse relatives: leaky/parametric (Xu et al. 2015), ELU, GELU, and softplus,
# the smooth non-sparse ReLU Glorot et al. 2011 compared it with; tanh as a saturating baseline.
ACTIVATIONS = ["relu", "leaky_relu", "prelu", "elu", "gelu", "softplus", "tanh"]
WIDTH, DEPTH, EPOCHS = 128, 3, 2
# The significance level below which the rank correlation of sparsity and accuracy counts as a ranking.
ALPHA = 0.05


def cells(quick):
    acts = ["relu", "leaky_relu"] if quick else ACTIVATIONS
    return [("mlp", {"activations": acts, "epochs": EPOCHS, "learning_rate": 0.05,
                     "model_kwargs": {"depth": DEPTH, "width": WIDTH}})]


def setup(quick):
    return [f"- mnist (real), first 10,000 training images (`--quick`: 256), `mlp` depth {DEPTH} width {WIDTH}, the "
            "zoo's default initializer per activation.",
            f"- SGD, Nesterov momentum 0.9, learning rate 0.05, batch 128, {EPOCHS} epochs (`--quick`: 1); "
            "seeds 0, 1, 2.",
            "- Sparsity: fraction of the hidden layers' outputs that are exactly 0 on 256 validation images (mean "
            "over layers), at initialization and after each epoch (relu_zoo.diagnostics).",
            "- Rank correlation: Spearman's ρ between final sparsity and test accuracy over every run."]


def analyze(results, quick, work):
    analysis = {"activations": {}}
    pairs = []
    for runs in results.values():
        for act, rs in common.by_activation(runs).items():
            ok = [r for r in rs if r["status"] == "ok"]
            epochs = sorted({rec["epoch"] for r in ok for rec in (r.get("diagnostics") or [])})
            series = {}
            for epoch in epochs:
                series[str(epoch)] = common.ci([float(np.mean(common.layer_series(r, epoch, "sparsity")))
                                                if common.layer_series(r, epoch, "sparsity") else None for r in ok])
            for r in ok:
                final = common.layer_series(r, epochs[-1], "sparsity") if epochs else []
                if final:
                    pairs.append((float(np.mean(final)), r["test_accuracy"]))
            analysis["activations"][act] = {
                "n": len(rs), "diverged": sum(r["status"] == "diverged" for r in rs),
                "test_accuracy": common.ci([r["test_accuracy"] for r in ok]), "sparsity": series,
            }
    if len(pairs) >= 3 and len({p[0] for p in pairs}) > 1:
        rho, p = scipy_stats.spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
        analysis["spearman"] = {"rho": float(rho), "p_value": float(p), "n": len(pairs)}
    else:
        analysis["spearman"] = None
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def _sparsest(analysis):
    """The activation with the most exact zeros after training; None without one that has both sparsity and test
    accuracy."""
    scored = [act for act, a in analysis["activations"].items()
              if _final(a["sparsity"]) and _final(a["sparsity"])["mean"] is not None and a["test_accuracy"]["mean"]]
    return max(scored, key=lambda act: _final(analysis["activations"][act]["sparsity"])["mean"], default=None)


def rho_detectable(n, alpha=ALPHA, power=stats.POWER):
    """The smallest |Spearman ρ| a two-sided test at `alpha` detects with `power` over `n` runs: Fisher's z with
    the variance 1.06 / (n - 3) of Spearman's ρ (Fieller, Hartley & Pearson 1957); None below 4 runs."""
    if n is None or n < 4:
        return None
    z = (scipy_stats.norm.ppf(1 - alpha / 2) + scipy_stats.norm.ppf(power)) * math.sqrt(1.06 / (n - 3))
    return float(math.tanh(z))


def compare(analysis, runs):
    """The sparsest activation's test accuracy minus every other's, paired by seed, Holm over them (the claim:
    each is positive), and the smallest rank correlation of sparsity and accuracy the runs could detect."""
    sparsest = _sparsest(analysis)
    versus = {}
    if sparsest is not None:
        cell = [r for rs in runs.values() for r in rs]
        acts = analysis["activations"]
        mine = common.with_seeds(acts[sparsest]["test_accuracy"], cell, sparsest)
        versus = {act: common.difference(mine, common.with_seeds(a["test_accuracy"], cell, act))
                  for act, a in acts.items() if act != sparsest and a["test_accuracy"]["mean"] is not None}
        common.adjust(list(versus.values()))
    spearman = analysis.get("spearman")
    return {"sparsest": sparsest, "versus": versus,
            "rho_detectable": rho_detectable(spearman["n"]) if spearman else None}


def _final(series):
    return series[max(series, key=int)] if series else None


def figures(analysis, dest):
    plt = common.pyplot()
    acts = analysis["activations"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for act, a in acts.items():
        s, acc = _final(a["sparsity"]), a["test_accuracy"]
        if not s or s["mean"] is None or acc["mean"] is None:
            continue
        xerr = [[100 * (s["mean"] - s["ci95"][0])], [100 * (s["ci95"][1] - s["mean"])]] if s.get("ci95") else None
        yerr = ([[100 * (acc["mean"] - acc["ci95"][0])], [100 * (acc["ci95"][1] - acc["mean"])]]
                if acc.get("ci95") else None)
        axes[0].errorbar([100 * s["mean"]], [100 * acc["mean"]], xerr=xerr, yerr=yerr, marker="o", capsize=3,
                         label=act)
        epochs = sorted(a["sparsity"], key=int)
        axes[1].plot([int(e) + 1 for e in epochs], [100 * a["sparsity"][e]["mean"] for e in epochs], marker=".",
                     label=act)
    axes[0].set_xlabel("sparsity after training: % of hidden outputs exactly 0 (probe batch)")
    axes[0].set_ylabel("test accuracy %")
    axes[0].set_title("Sparsity vs accuracy (mean, 95% CI over seeds)")
    axes[1].set_xlabel("epoch (0 = initialization)")
    axes[1].set_ylabel("% of hidden outputs exactly 0")
    axes[1].set_title("Sparsity over training (mean over seeds)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    common.save_figure(fig, dest / "sparsity_vs_accuracy.png")
    return [("Sparsity vs accuracy, and sparsity over training", "sparsity_vs_accuracy.png")]


def findings(analysis):
    acts = analysis["activations"]
    rows = sorted(acts.items(), key=lambda kv: -(kv[1]["test_accuracy"]["mean"] or 0))
    lines = ["Sparsity after training (% exact zeros, mean over hidden layers) and test accuracy %, mean [95% CI] "
             "over seeds, most accurate first:", "", "| activation | sparsity at init | sparsity after training | "
             "test accuracy % | diverged |", "|---|---|---|---|---|"]
    for act, a in rows:
        lines.append(f"| {act} | {common.fmt_ci(a['sparsity'].get('-1'))} | {common.fmt_ci(_final(a['sparsity']))} | "
                     f"{common.fmt_ci(a['test_accuracy'])} | {a['diverged']}/{a['n']} |")
    lines.append("")
    c = _comparison(analysis)
    if c is not None:
        sparsest, best = c["sparsest"], c["best"]
        lines.append(f"Sparsest: {sparsest[0]} ({100 * sparsest[1]['mean']:.1f}% zeros, test accuracy "
                     f"{common.fmt_ci(sparsest[2])}%). Most accurate: {best[0]} ({100 * best[1]['mean']:.1f}% zeros, "
                     f"{common.fmt_ci(best[2])}%).")
        sp = analysis.get("spearman")
        if sp:
            least = c.get("rho_detectable")
            weakest = "" if least is None else f"; the weakest correlation detectable: ρ = ±{least:.2f}"
            lines.append(f"Spearman ρ(final sparsity, test accuracy) over {sp['n']} runs: {sp['rho']:.2f} "
                         f"(p = {sp['p_value']:.3g}{weakest}).")
        lines += ["", f"{sparsest[0]}'s test accuracy minus each other activation's (points [95% CI], "
                  "Holm-adjusted verdict, the difference it could detect):", ""]
        for act, x in c["versus"].items():
            lines.append(f"- {act}: {common.fmt_difference(x)}")
        better = [act for act, x in c["versus"].items() if x.get("verdict") == "better"]
        lines += ["", {
            "holds here": "**Supported here**: the sparsest activation is detectably more accurate than every other.",
            "holds in part": f"**Partly supported**: the sparsest activation is detectably more accurate than "
                             f"{', '.join(better)} only.",
            "not supported here": f"**Not supported here**: {', '.join(c['beaten_by'])} "
                                  f"{'is' if len(c['beaten_by']) == 1 else 'are'} detectably more accurate than the "
                                  "sparsest activation." if c["beaten_by"] else
                                  "**Not supported here**: the sparsest activation is equivalent to or less accurate "
                                  "than every other, detectably.",
            "inconclusive": "**Inconclusive**: no comparison detects a difference, and they could not detect less "
                            f"than {_detectable(c)}.",
            "too few seeds to tell": "**Too few seeds to tell.**"}[c["outcome"]]]
    return lines


def _comparison(analysis):
    """The sparsest and the most accurate activation after training, each `(name, sparsity, test accuracy)`, the
    sparsest's comparisons with every other activation (`compare`, from the analysis' own `comparisons` where it
    has them: those pair the seeds) and the claim's outcome; None without a run that has both."""
    comparisons = analysis.get("comparisons") or compare(analysis, {})
    sparsest = comparisons["sparsest"]
    if sparsest is None:
        return None
    acts = analysis["activations"]

    def scored(act):
        return act, _final(acts[act]["sparsity"]), acts[act]["test_accuracy"]

    best = max((act for act, a in acts.items() if a["test_accuracy"]["mean"] is not None),
               key=lambda act: acts[act]["test_accuracy"]["mean"])
    versus = comparisons["versus"]
    beaten = [act for act, c in versus.items() if c.get("verdict") == "worse"]
    # The claim is about every pair ("the sparser network is the better one"): one activation detectably more
    # accurate than the sparsest is a counterexample, whatever the other comparisons could tell.
    outcome = ("not supported here" if beaten else
               stats.claim_outcome([c.get("verdict") for c in versus.values()], "better") if versus else
               "too few seeds to tell")
    return {"sparsest": scored(sparsest), "best": scored(best), "versus": versus, "beaten_by": beaten,
            "outcome": outcome, "rho_detectable": comparisons.get("rho_detectable")}


_WORD = {"holds here": "**Supported**", "holds in part": "**Partly supported**",
         "not supported here": "**Not supported here**", "inconclusive": "**Inconclusive**",
         "too few seeds to tell": "**Too few seeds to tell**"}


def _detectable(c):
    """The differences the sparsest's inconclusive comparisons could detect, in points: "5.9–31.3 points" from
    the most to the least sensitive."""
    mdes = [x["mde"] for x in c["versus"].values() if x.get("verdict") == "inconclusive" and x.get("mde") is not None]
    if not mdes:
        return "not computable"
    low, high = 100 * min(mdes), 100 * max(mdes)
    return f"{high:.1f} points" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f} points"


def _spearman(analysis, c):
    sp = analysis.get("spearman")
    if not sp:
        return ""
    numbers = f"Spearman ρ = {sp['rho']:.2f}, p = {sp['p_value']:.2g} over {sp['n']} runs"
    if sp["p_value"] < ALPHA:
        return (f"; sparser runs are more accurate ({numbers})" if sp["rho"] > 0 else
                f"; sparser runs are less accurate ({numbers})")
    least = c.get("rho_detectable")
    return (f"; sparsity does not detectably rank accuracy ({numbers}"
            + ("" if least is None else f"; could not detect a correlation weaker than ρ = ±{least:.2f}") + ")")


def verdict(analysis):
    c = _comparison(analysis)
    if c is None:
        return "**Inconclusive**: no finished run with both sparsity and test accuracy"
    (sparse, s_zeros, s_acc), (best, b_zeros, b_acc) = c["sparsest"], c["best"]
    word = _WORD[c["outcome"]]
    if c["outcome"] == "holds here":
        text = (f"{word}: the sparsest activation ({sparse}, {100 * s_zeros['mean']:.1f}% zeros) is detectably more "
                f"accurate than every other ({100 * s_acc['mean']:.1f}% test accuracy)")
    elif c["beaten_by"]:
        text = (f"{word}: the sparsest ({sparse}, {100 * s_zeros['mean']:.1f}% zeros, {100 * s_acc['mean']:.1f}% "
                f"test accuracy) is detectably less accurate than {', '.join(c['beaten_by'])}; {best} "
                f"({100 * b_zeros['mean']:.1f}% zeros) reaches {100 * b_acc['mean']:.1f}%")
    else:
        detail = {"holds in part": f"more accurate than some, not all, of the others; {best}",
                  "not supported here": f"no more accurate than the others (equivalent within "
                                        f"±{100 * stats.DELTA:.1f} points or less accurate); {best}",
                  "inconclusive": "not detectably more or less accurate than the others (could not detect less "
                                  f"than {_detectable(c)}); {best}",
                  "too few seeds to tell": f"compared over too few seeds; {best}"}[c["outcome"]]
        text = (f"{word}: the sparsest ({sparse}, {100 * s_zeros['mean']:.1f}% zeros, {100 * s_acc['mean']:.1f}% "
                f"test accuracy) is {detail} ({100 * b_zeros['mean']:.1f}% zeros) reaches {100 * b_acc['mean']:.1f}%")
    return text + _spearman(analysis, c)

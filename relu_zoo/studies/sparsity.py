"""Sparsity: is the sparsest activation the most accurate?

Glorot et al. 2011 credit part of ReLU's success to sparse representations (exact zeros); Xu et al. 2015
("Empirical Evaluation of Rectified Activations in Convolutional Network") find the non-sparse leaky
variants at least as good. Measured here: the fraction of exact zeros in the hidden layers' outputs on a
fixed probe batch, at initialization and after each epoch, against test accuracy, across activations.
"""

import numpy as np
from scipy import stats as scipy_stats

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
    return analysis


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
            lines.append(f"Spearman ρ(final sparsity, test accuracy) over {sp['n']} runs: {sp['rho']:.2f} "
                         f"(p = {sp['p_value']:.3g}).")
        lines.append("")
        if c["outcome"] == "supported":
            lines.append("**Supported here**: the sparsest activation is also the most accurate.")
        elif c["outcome"] == "apart":
            lines.append(f"**Not supported here**: the sparsest activation ({sparsest[0]}) is significantly less "
                         f"accurate than {best[0]} (non-overlapping 95% intervals).")
        else:
            lines.append(f"**Not supported here**: the sparsest activation ({sparsest[0]}) is not the most accurate "
                         f"({best[0]}), though their 95% intervals overlap.")
    return lines


def _comparison(analysis):
    """The sparsest and the most accurate activation after training, each `(name, sparsity, test accuracy)`, and
    the outcome: "supported" (they are one), "apart" (the most accurate's 95% interval lies above the sparsest's)
    or "overlap"; None without a run that has both."""
    scored = [(act, _final(a["sparsity"]), a["test_accuracy"]) for act, a in analysis["activations"].items()
              if _final(a["sparsity"]) and _final(a["sparsity"])["mean"] is not None and a["test_accuracy"]["mean"]]
    if not scored:
        return None
    sparsest = max(scored, key=lambda t: t[1]["mean"])
    best = max(scored, key=lambda t: t[2]["mean"])
    outcome = ("supported" if best[0] == sparsest[0] else "apart" if common.above(best[2], sparsest[2])
               else "overlap")
    return {"sparsest": sparsest, "best": best, "outcome": outcome}


def verdict(analysis):
    c = _comparison(analysis)
    if c is None:
        return "**Inconclusive**: no finished run with both sparsity and test accuracy"
    (sparse, s_zeros, s_acc), (best, b_zeros, b_acc) = c["sparsest"], c["best"]
    if c["outcome"] == "supported":
        text = (f"**Supported**: the sparsest activation ({sparse}, {100 * s_zeros['mean']:.1f}% zeros) is also the "
                f"most accurate ({100 * s_acc['mean']:.1f}% test accuracy)")
    else:
        text = (f"**Not supported here**: the sparsest ({sparse}, {100 * s_zeros['mean']:.1f}% zeros, "
                f"{100 * s_acc['mean']:.1f}% test accuracy) is "
                + ("significantly less accurate than" if c["outcome"] == "apart" else "not the most accurate;")
                + f" {best} ({100 * b_zeros['mean']:.1f}% zeros) reaches {100 * b_acc['mean']:.1f}%")
    sp = analysis.get("spearman")
    if sp:
        numbers = f"Spearman ρ = {sp['rho']:.2f}, p = {sp['p_value']:.2g} over {sp['n']} runs"
        text += (f"; sparsity does not rank accuracy ({numbers})" if not sp["p_value"] < ALPHA else
                 f"; sparser runs are more accurate ({numbers})" if sp["rho"] > 0 else
                 f"; sparser runs are less accurate ({numbers})")
    return text

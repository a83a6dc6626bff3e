"""Initialization: He vs Glorot vs LeCun (normal / uniform) for ReLU-family MLPs across depth.

He et al. 2015 (§2.2) derive Var(W) = 2 / fan_in for rectifiers so that the variance of the activations
neither shrinks nor grows with depth; Glorot (2 / (fan_in + fan_out)) and LeCun (1 / fan_in) were derived
for symmetric, unit-slope activations, and with ReLU halve it layer after layer. Measured here: the
variance of each activation layer's output at initialization, and trainability (test accuracy, the epoch
at which validation accuracy first reaches the target).
"""

import numpy as np

from relu_zoo.run import stats
from relu_zoo.studies import common

TITLE = "Initialization: He vs Glorot vs LeCun for the ReLU family"
CLAIM = ("ReLU networks need He initialization: with Glorot or LeCun the activations shrink with depth and deep "
         "nets train worse.")
SHORT_CLAIM = "ReLU networks need He initialization"
INITIALIZERS = ["he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal", "lecun_uniform"]
# relu only: 6 initializers x 2 depths x 3 seeds already fill the 30-minute budget of a study.
ACTIVATIONS = ["relu"]
DEPTHS = [5, 20]
TARGET = 0.90
WIDTH = 64


def cells(quick):
    inits = INITIALIZERS[::3] if quick else INITIALIZERS  # he_normal, glorot_uniform
    depths = DEPTHS[:1] if quick else DEPTHS
    acts = ACTIVATIONS[:1] if quick else ACTIVATIONS
    return [(f"{init}__depth{d}", {"activations": acts, "model_kwargs": {
        "depth": d, "width": WIDTH, "kernel_initializer": init}}) for init in inits for d in depths]


def setup(quick):
    return ["- mnist (real), first 10,000 training images (`--quick`: 256), `mlp` width 64, depths 5 and 20, "
            "activation relu, biases 0.",
            "- Kernel initializers (Keras): " + ", ".join(INITIALIZERS) + " in every hidden layer.",
            "- SGD, Nesterov momentum 0.9, learning rate 0.01, batch 128, 2 epochs; seeds 0, 1, 2.",
            f"- Variance: of each activation layer's outputs over 256 validation images at initialization. "
            f"Epochs to target: the first epoch whose validation accuracy (2,000 images) is ≥ {TARGET:.0%}; "
            "runs that never reach it count as not reached."]


def analyze(results, quick, work):
    analysis = {"target": TARGET, "cells": {}}
    for cell_id, runs in results.items():
        init, depth = cell_id.split("__depth")
        for act, rs in common.by_activation(runs).items():
            ok = [r for r in rs if r["status"] == "ok"]
            variances = [common.layer_series(r, -1, "variance") for r in rs]
            reached = [common.first_epoch_reaching(r, TARGET) for r in ok]
            analysis["cells"][f"{act}__{init}__depth{depth}"] = {
                "activation": act, "initializer": init, "depth": int(depth), "n": len(rs),
                "diverged": sum(r["status"] == "diverged" for r in rs),
                "test_accuracy": common.ci([r["test_accuracy"] for r in ok]),
                "epochs_to_target": common.ci([e for e in reached if e is not None]),
                "reached_target": sum(e is not None for e in reached),
                "variance_per_layer": np.exp(np.mean(np.log(np.maximum(variances, 1e-300)), axis=0)).tolist()
                if variances and all(variances) else [],
                # log10(variance of the last activation layer / the first one), per seed.
                "log10_variance_ratio": common.ci([
                    float(np.log10(v[-1] / v[0])) if v and v[0] > 0 and v[-1] > 0 else None for v in variances]),
            }
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def _best(analysis, depth):
    """relu at `depth`: the He and the non-He initializer with the best mean test accuracy (cells); None
    without both."""
    relu = {c["initializer"]: c for c in sorted(analysis["cells"].values(), key=lambda c: c["initializer"])
            if c["activation"] == "relu" and c["depth"] == depth}
    he = [relu[i] for i in ("he_normal", "he_uniform") if i in relu and relu[i]["test_accuracy"]["mean"] is not None]
    other = [relu[i] for i in relu if not i.startswith("he") and relu[i]["test_accuracy"]["mean"] is not None]
    if not (he and other):
        return None
    return max(he, key=lambda c: c["test_accuracy"]["mean"]), max(other, key=lambda c: c["test_accuracy"]["mean"])


def compare(analysis, runs):
    """Per depth, relu's test accuracy with the best He initializer minus with the best other one, paired by
    seed (the cells share their seeds), Holm over the depths: {depth: comparison with its `he` and `other`}."""
    compared = {}
    for depth in sorted({c["depth"] for c in analysis["cells"].values()}):
        best = _best(analysis, depth)
        if best is None:
            continue
        he, other = (common.with_seeds(c["test_accuracy"], runs.get(f"{c['initializer']}__depth{depth}"), "relu")
                     for c in best)
        compared[str(depth)] = {"he": best[0]["initializer"], "other": best[1]["initializer"],
                                **common.difference(he, other)}
    common.adjust(list(compared.values()))
    return compared


def _cells_for(analysis, act, depth):
    return {c["initializer"]: c for c in analysis["cells"].values() if c["activation"] == act and c["depth"] == depth}


def figures(analysis, dest):
    plt = common.pyplot()
    made = []
    acts = list(dict.fromkeys(c["activation"] for c in analysis["cells"].values()))
    depths = sorted({c["depth"] for c in analysis["cells"].values()})
    deepest = depths[-1]
    fig, axes = plt.subplots(1, len(acts), figsize=(6 * len(acts), 4), squeeze=False, sharey=True)
    for ax, act in zip(axes[0], acts):
        for init, c in _cells_for(analysis, act, deepest).items():
            v = c["variance_per_layer"]
            if v:
                ax.plot(np.arange(1, len(v) + 1), v, marker=".", label=init,
                        linestyle="-" if "normal" in init else "--")
        ax.set_yscale("log")
        ax.set_xlabel("activation layer (1 = next to the input)")
        ax.set_ylabel("variance of the layer's outputs at init")
        ax.set_title(f"{act}, depth {deepest}: activation variance per layer at init\n(geometric mean over seeds)")
        ax.grid(alpha=0.3)
        ax.tick_params(labelleft=True)
        ax.legend(fontsize=8)
    common.save_figure(fig, dest / "variance_per_layer.png")
    made.append((f"Activation variance per layer at initialization (depth {deepest})", "variance_per_layer.png"))

    fig, axes = plt.subplots(1, len(acts), figsize=(6 * len(acts), 4), squeeze=False, sharey=True)
    inits = list(dict.fromkeys(c["initializer"] for c in analysis["cells"].values()))
    for ax, act in zip(axes[0], acts):
        for k, depth in enumerate(depths):
            cells = _cells_for(analysis, act, depth)
            common.errorbar(ax, np.arange(len(inits)) + 0.1 * k, [cells.get(i, {}).get("test_accuracy") for i in inits],
                            f"depth {depth}", linestyle="none")
        ax.set_xticks(np.arange(len(inits)))
        ax.set_xticklabels(inits, rotation=30)
        ax.set_ylabel("test accuracy % after 2 epochs")
        ax.set_title(f"{act}: test accuracy by initializer (mean, 95% CI over seeds)")
        ax.grid(alpha=0.3)
        ax.tick_params(labelleft=True)
        ax.legend(fontsize=8)
    common.save_figure(fig, dest / "accuracy_by_init.png")
    made.append(("Test accuracy by initializer and depth", "accuracy_by_init.png"))
    return made


def findings(analysis):
    lines = [f"Test accuracy % (mean [95% CI] over seeds), runs reaching {analysis['target']:.0%} validation "
             "accuracy within 2 epochs, and log10(variance of the last activation layer / the first) at init:", "",
             "| activation | depth | initializer | test accuracy % | reached target | log10 variance ratio |",
             "|---|---|---|---|---|---|"]
    cells = sorted(analysis["cells"].values(), key=lambda c: (c["activation"], c["depth"], c["initializer"]))
    for c in cells:
        lines.append(f"| {c['activation']} | {c['depth']} | {c['initializer']} | {common.fmt_ci(c['test_accuracy'])} "
                     f"| {c['reached_target']}/{c['n']} | "
                     f"{common.fmt_ci(c['log10_variance_ratio'], scale=1.0, digits=2)} |")
    lines.append("")
    for depth in sorted({c["depth"] for c in cells}):
        c = _comparison(analysis, depth)
        if c is None:
            continue
        best_he, best_other = c["he"], c["other"]
        if lines[-1]:
            lines.append("")
        lines.append(f"relu at depth {depth}: He variance ratio (last / first layer) "
                     f"{_power(best_he['log10_variance_ratio'])}, {best_other['initializer']} "
                     f"{_power(best_other['log10_variance_ratio'])}; test accuracy best He "
                     f"({best_he['initializer']}) {common.fmt_ci(best_he['test_accuracy'])}%, best other "
                     f"({best_other['initializer']}) {common.fmt_ci(best_other['test_accuracy'])}%: He minus other "
                     f"{_difference(c)}, {common.how_compared(c['comparison'])}. " + {
                         "holds": "**Supported here** at this depth: He trains detectably better than the best "
                                  "other initializer.",
                         "not supported": "**Not supported here** at this depth: He is detectably no better than the "
                                          "best other initializer (equivalent, or worse).",
                         "inconclusive": "**Inconclusive** at this depth: no difference is detected, and this study "
                                         "could not have detected one smaller than the one stated (the variance "
                                         "figure shows whether the activations shrink).",
                         "too few seeds": "**Too few seeds to tell** at this depth."}[c["outcome"]])
    return lines


def _power(summary):
    """"10^-5.94" from a `ci()` summary of log10 values, "–" where it has no mean (no variance recorded)."""
    return "–" if summary.get("mean") is None else f"10^{summary['mean']:.2f}"


def _comparison(analysis, depth):
    """relu at `depth`: the He and the non-He initializer with the best mean test accuracy, their comparison
    (`compare`, from the analysis' own `comparisons` where it has them: those pair the seeds) and its outcome
    for the claim that He trains better; None without both."""
    comparisons = analysis.get("comparisons") or compare(analysis, {})
    c = comparisons.get(str(depth))
    if c is None:
        return None
    cells = {cell["initializer"]: cell for cell in analysis["cells"].values()
             if cell["activation"] == "relu" and cell["depth"] == depth}
    return {"he": cells[c["he"]], "other": cells[c["other"]], "comparison": c, "outcome": common.outcome(c)}


def _difference(c):
    """"+58.7 [+34.5, +82.8] points (detectable: 24.5 points)", or with "inconclusive: could not detect less
    than ..." where the comparison could not tell."""
    cmp = c["comparison"]
    if cmp.get("ci95") is None:
        return "too few seeds to compare"
    lo, hi = cmp["ci95"]
    could = (f"inconclusive: could not detect less than {common.detectable(cmp)}" if c["outcome"] == "inconclusive"
             else stats.verdict_text(cmp) if cmp["verdict"] == "equivalent"
             else f"detectable: {common.detectable(cmp)}")
    return f"{100 * cmp['mean_diff']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points ({could})"


def verdict(analysis):
    depths = sorted({c["depth"] for c in analysis["cells"].values()})
    compared = {d: _comparison(analysis, d) for d in depths}
    compared = {d: c for d, c in compared.items() if c is not None}
    if not compared:
        return "**Inconclusive**: no relu run with both a He and a non-He initializer"
    word = common.claim_words([(f"depth {d}", c["outcome"]) for d, c in compared.items()], preposition="at")
    return f"{word}: relu's test accuracy, best He vs best other initializer, " + "; ".join(
        f"at depth {d} {c['he']['initializer']} {common.fmt_ci(c['he']['test_accuracy'])}% vs "
        f"{c['other']['initializer']} {common.fmt_ci(c['other']['test_accuracy'])}%, {_difference(c)}"
        for d, c in compared.items())

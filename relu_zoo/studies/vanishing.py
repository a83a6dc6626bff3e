"""Vanishing gradients: plain MLPs of depth 2 … 50 on mnist, sigmoid and tanh against the ReLU family.

Per run, the diagnostics record the norm of d(loss)/d(activation output) for every hidden layer at
initialization and after each epoch (relu_zoo.diagnostics, on a fixed probe batch). The study reports the
ratio of the first layer's gradient norm to the last one's (how much of the gradient reaching the top
survives to the bottom) and the test accuracy, per activation and depth, over seeds.
"""

import math

import numpy as np

from relu_zoo.studies import common

TITLE = "Vanishing gradients: gradient norm per layer across depth"
CLAIM = "ReLU avoids the vanishing gradients of sigmoid and tanh."
ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu"]
DEPTHS = [2, 5, 10, 20, 50]
QUICK_DEPTHS = [2, 5]
QUICK_ACTIVATIONS = ["sigmoid", "relu"]
SATURATING = ["sigmoid", "tanh"]
RELU_FAMILY = ["relu", "leaky_relu", "elu", "selu", "gelu"]
WIDTH = 64
# The claim's size, in log10 of the gradient ratio: a saturating activation loses at least ten times more of the
# gradient between the last layer and the first than relu does.
SIZE = 1.0
# Attenuations within a factor of about 3 (10^0.5) of each other count as the same (equivalence margin).
DELTA = 0.5


# The diagnostics record gradient norms at a layer's output on TensorFlow only (relu_zoo.diagnostics).
NEEDS_TENSORFLOW = "its measure, the gradient norm at each layer's output, is recorded on TensorFlow only"

# Training order: depth 10 last, so that a study cut short (`--report-only`) already spans the depth range.
RUN_ORDER = [2, 5, 20, 50, 10]


def cells(quick):
    depths, acts = (QUICK_DEPTHS, QUICK_ACTIVATIONS) if quick else (RUN_ORDER, ACTIVATIONS)
    # One epoch: "after one epoch" and "final" coincide, which keeps depth 50 x 7 activations x 3 seeds in budget.
    return [(f"depth{d}", {"activations": acts, "epochs": 1, "model_kwargs": {"depth": d, "width": WIDTH}})
            for d in depths]


def setup(quick):
    depths = QUICK_DEPTHS if quick else DEPTHS
    return [f"- mnist (real, first {common.QUICK['max_train_examples'] if quick else common.BASE['max_train_examples']}"
            " training images), `mlp` width 64, depths " + ", ".join(map(str, depths)) + "; the zoo's default "
            "initializer per activation (He normal for relu/leaky_relu, LeCun normal for selu, Glorot uniform "
            "otherwise: `relu_zoo.models.common.kernel_initializer_for`).",
            "- SGD, Nesterov momentum 0.9, learning rate 0.01, batch 128, 1 epoch; seeds 0, 1, 2.",
            "- Gradient norm: L2 norm of d(loss)/d(output of activation layer i) per probe example, mean over 256 "
            "validation images, at initialization and after the epoch. Ratio = layer 1 / last layer, reported as "
            "log10 (−3 means the first layer gets 1/1000 of the gradient the last one gets)."]


def _log_ratio(norms):
    if len(norms) < 2 or norms[0] is None or norms[-1] is None or not norms[-1] > 0 or not norms[0] > 0:
        return None
    return math.log10(norms[0] / norms[-1])


def analyze(results, quick, work):
    analysis = {"depths": [], "activations": [], "by_depth": {}}
    for cell_id, runs in results.items():
        depth = int(cell_id.removeprefix("depth"))
        analysis["depths"].append(depth)
        cell = {}
        for act, rs in common.by_activation(runs).items():
            if act not in analysis["activations"]:
                analysis["activations"].append(act)
            ok = [r for r in rs if r["status"] == "ok"]
            init = [common.layer_series(r, -1, "grad_norm") for r in rs]
            after = [common.layer_series(r, 0, "grad_norm") for r in ok]
            cell[act] = {
                "n": len(rs), "diverged": sum(r["status"] == "diverged" for r in rs),
                "test_accuracy": common.ci([r["test_accuracy"] for r in ok]),
                # By seed, so that the comparisons pair relu's seeds with sigmoid's.
                "log10_ratio_init": common.seeded({r["seed"]: _log_ratio(n) for r, n in zip(rs, init)}),
                "log10_ratio_after": common.seeded({r["seed"]: _log_ratio(n) for r, n in zip(ok, after)}),
                # Per layer, the mean over seeds (for the profile figure).
                "grad_norm_init": np.mean(init, axis=0).tolist() if init and all(init) else [],
                "grad_norm_after": np.mean(after, axis=0).tolist() if after and all(after) else [],
            }
        analysis["by_depth"][str(depth)] = cell
    analysis["depths"].sort()
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def _base(cell):
    """The ReLU-family activation the saturating ones are compared with in a depth's cell: relu, or without it its
    most attenuated relative; None without any."""
    relus = [a for a in RELU_FAMILY if (cell.get(a, {}).get("log10_ratio_init") or {}).get("mean") is not None]
    if not relus:
        return None
    return "relu" if "relu" in relus else min(relus, key=lambda a: cell[a]["log10_ratio_init"]["mean"])


def compare(analysis, runs):
    """At the greatest depth: the base's log10 gradient ratio at initialization minus each saturating
    activation's (the claim: at least SIZE, Holm over the saturating ones), and the base's test accuracy at the
    shallowest depth minus at the greatest (paired by seed: the depths' cells share their seeds)."""
    depths = analysis["depths"]
    deepest, shallowest = str(depths[-1]), str(depths[0])
    cell = analysis["by_depth"][deepest]
    base = _base(cell)
    if base is None:
        return {"base": None, "gradient": {}, "accuracy": None}
    gradient = {act: common.difference(cell[base]["log10_ratio_init"], cell[act]["log10_ratio_init"], DELTA)
                for act in SATURATING if (cell.get(act, {}).get("log10_ratio_init") or {}).get("mean") is not None}
    common.adjust(list(gradient.values()))
    accuracy = None
    if deepest != shallowest and base in analysis["by_depth"][shallowest]:
        accuracy = common.difference(
            common.with_seeds(analysis["by_depth"][shallowest][base]["test_accuracy"], runs.get(f"depth{shallowest}"),
                              base),
            common.with_seeds(cell[base]["test_accuracy"], runs.get(f"depth{deepest}"), base))
        common.adjust([accuracy])
    return {"base": base, "gradient": gradient, "accuracy": accuracy}


def figures(analysis, dest):
    plt = common.pyplot()
    made = []
    acts, depths = analysis["activations"], analysis["depths"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for key, ax, when in (("log10_ratio_init", axes[0], "at initialization"),
                          ("log10_ratio_after", axes[1], "after 1 epoch")):
        for act in acts:
            common.errorbar(ax, depths, [analysis["by_depth"][str(d)].get(act, {}).get(key) for d in depths], act,
                            scale=1.0)
        ax.set_xscale("log")
        ax.set_xticks(depths)
        ax.set_xticklabels(depths)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("depth (hidden layers)")
        ax.set_ylabel("log10(‖grad‖ first layer / ‖grad‖ last layer)")
        ax.set_title(f"Gradient reaching layer 1 vs the last layer, {when}\n(mean, 95% CI over seeds)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    common.save_figure(fig, dest / "grad_ratio_vs_depth.png")
    made.append(("Gradient ratio (first / last layer) vs depth", "grad_ratio_vs_depth.png"))

    deepest = str(depths[-1])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for key, ax, when in (("grad_norm_init", axes[0], "at initialization"),
                          ("grad_norm_after", axes[1], "after 1 epoch")):
        for act in acts:
            norms = analysis["by_depth"][deepest].get(act, {}).get(key) or []
            if norms:
                ax.plot(np.arange(1, len(norms) + 1), norms, marker=".", label=act)
        ax.set_yscale("log")
        ax.set_xlabel("activation layer (1 = next to the input)")
        ax.set_ylabel("‖d loss / d layer output‖ (mean over probe examples)")
        ax.set_title(f"Depth {deepest}: gradient norm per layer, {when}\n(mean over seeds)")
        ax.grid(alpha=0.3)
        ax.tick_params(labelleft=True)
    axes[0].legend(fontsize=8)
    common.save_figure(fig, dest / "grad_norm_per_layer.png")
    made.append((f"Gradient norm per layer at depth {deepest}", "grad_norm_per_layer.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    for act in acts:
        common.errorbar(ax, depths, [analysis["by_depth"][str(d)].get(act, {}).get("test_accuracy") for d in depths],
                        act)
    ax.set_xscale("log")
    ax.set_xticks(depths)
    ax.set_xticklabels(depths)
    ax.set_xlabel("depth (hidden layers)")
    ax.set_ylabel("test accuracy % (mnist, 2,000 test images)")
    ax.set_title("Test accuracy after 1 epoch (mean, 95% CI over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    common.save_figure(fig, dest / "accuracy_vs_depth.png")
    made.append(("Test accuracy vs depth", "accuracy_vs_depth.png"))
    return made


def findings(analysis):
    depths, acts = analysis["depths"], analysis["activations"]
    lines = ["log10 of the gradient-norm ratio layer 1 / last layer at initialization, and test accuracy %, "
             "mean [95% CI] over seeds:", "",
             "| activation | " + " | ".join(f"depth {d}: log10 ratio at init | acc %" for d in depths) + " |",
             "|---|" + "---|---|" * len(depths)]
    for act in acts:
        cells = []
        for d in depths:
            e = analysis["by_depth"][str(d)].get(act, {})
            cells.append(f"{common.fmt_ci(e.get('log10_ratio_init'), scale=1.0, digits=2)} | "
                         f"{common.fmt_ci(e.get('test_accuracy'))}")
        lines.append(f"| {act} | " + " | ".join(cells) + " |")
    lines.append("")
    c = _comparison(analysis)
    if c is not None:
        lines.append(f"At depth {c['depth']}, at initialization, the first layer receives 10^{c['floor']:.1f} of the "
                     f"last layer's gradient norm with {c['base']} (test accuracy "
                     f"{common.fmt_ci(c['base_accuracy'])}%); the most attenuated of relu's relatives here is "
                     f"{c['worst_relu']}, 10^{c['worst_ratio']:.1f}.")
        lines.append("")
        for act, s in c["saturating"].items():
            claim = {"holds": f"**supported**: at least ten times more gradient lost than with {c['base']}",
                     "smaller": f"**partly**: more gradient lost than with {c['base']}, by less than ten times",
                     "not supported": f"**not supported here**: it loses less than ten times more gradient than "
                                      f"{c['base']}, and a factor of {_power(s['comparison']['mde'] or 0)} "
                                      "would have been detected",
                     "inconclusive": f"**inconclusive**: this study could not detect less than a factor of "
                                     f"{_power(s['comparison']['mde'] or 0)}, the claim is {10 ** SIZE:g} times",
                     "too few seeds": "**too few seeds to tell**"}[s["outcome"]]
            lines.append(f"- {act}: {_power(s['ratio'])} at initialization"
                         + (f", {_power(s['after'])} after the epoch" if s["after"] is not None else "")
                         + f"; test accuracy {common.fmt_ci(s['accuracy'])}%. {c['base']} keeps {_evidence(act, s)}, "
                         f"{common.how_compared(s['comparison'])}. Claim for {act}: {claim}.")
        if c["accuracy"] is not None:
            lines += ["", f"{c['base']}'s test accuracy at depth {c['shallowest']} minus at depth {c['depth']}: "
                      f"{common.fmt_difference(c['accuracy'])}."]
    return lines


def _comparison(analysis):
    """At the greatest depth: the log10 gradient ratio at initialization of relu (or, without it, of its most
    attenuated relative) and of each saturating activation, with its comparison (`compare`, from the analysis'
    own `comparisons` where it has them: those pair the seeds) and its outcome for the claim that it loses at
    least SIZE more powers of ten; None without both kinds of runs."""
    depths = analysis["depths"]
    deepest = str(depths[-1])
    cell = analysis["by_depth"][deepest]

    def mean(act, key):
        return (cell.get(act, {}).get(key) or {}).get("mean")

    comparisons = analysis.get("comparisons") or compare(analysis, {})
    base, gradient = comparisons["base"], comparisons["gradient"]
    if not (base and gradient):
        return None
    relus = [a for a in RELU_FAMILY if mean(a, "log10_ratio_init") is not None]
    worst_relu = min(relus, key=lambda a: mean(a, "log10_ratio_init"))
    return {
        "depth": depths[-1], "base": base, "floor": mean(base, "log10_ratio_init"), "worst_relu": worst_relu,
        "worst_ratio": mean(worst_relu, "log10_ratio_init"),
        "base_accuracy": cell.get(base, {}).get("test_accuracy"),
        "shallowest": depths[0],
        "base_accuracy_shallowest": analysis["by_depth"][str(depths[0])].get(base, {}).get("test_accuracy"),
        "accuracy": comparisons.get("accuracy"),
        "saturating": {act: {"ratio": mean(act, "log10_ratio_init"), "after": mean(act, "log10_ratio_after"),
                             "accuracy": cell[act]["test_accuracy"], "comparison": c,
                             "outcome": common.outcome(c, "better", SIZE)} for act, c in gradient.items()},
    }


def _power(x):
    return f"10^{x:.1f}"


def _evidence(act, s):
    """How many times more of the gradient the base keeps than `act`, with its interval and what the comparison
    could detect: "10^0.8 [10^-0.7, 10^2.3] times more than tanh (inconclusive: could not detect less than a
    factor of 10^2.6)"."""
    c = s["comparison"]
    if c.get("ci95") is None:
        return f"too few seeds to compare with {act}"
    lo, hi = c["ci95"]
    could = (f"inconclusive: could not detect less than a factor of {_power(c['mde'])}"
             if s["outcome"] == "inconclusive" else f"detectable: a factor of {_power(c['mde'])}")
    return f"{_power(c['mean_diff'])} [{_power(lo)}, {_power(hi)}] times more than {act} ({could})"


def verdict(analysis):
    c = _comparison(analysis)
    if c is None:
        return (f"**Inconclusive**: no sigmoid or tanh run beside a ReLU-family one at depth "
                f"{analysis['depths'][-1]}")
    sat = c["saturating"]
    word = common.claim_words([(act, s["outcome"]) for act, s in sat.items()])
    text = (f"{word}: at depth {c['depth']}, layer 1 gets " + ", ".join(
        f"{_power(s['ratio'])}" + (" of the last layer's gradient norm at initialization" if i == 0 else "")
        + f" with {act}" for i, (act, s) in enumerate(sat.items())) + f", {_power(c['floor'])} with {c['base']}; "
        f"{c['base']} keeps " + " and ".join(_evidence(act, s) for act, s in sat.items())
        + f"; the claim is {10 ** SIZE:g} times or more")
    deep, shallow = c["base_accuracy"], c["base_accuracy_shallowest"]
    if c["accuracy"] is not None and common.outcome(c["accuracy"], "better") == "holds":
        text += (f"; keeping it is not enough to train depth {c['depth']} in one epoch ({c['base']}: "
                 f"{100 * deep['mean']:.1f}% test accuracy, {100 * shallow['mean']:.1f}% at depth {c['shallowest']})")
    return text

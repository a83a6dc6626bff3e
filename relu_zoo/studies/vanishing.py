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
WIDTH = 64


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
                "log10_ratio_init": common.ci([_log_ratio(n) for n in init]),
                "log10_ratio_after": common.ci([_log_ratio(n) for n in after]),
                # Per layer, the mean over seeds (for the profile figure).
                "grad_norm_init": np.mean(init, axis=0).tolist() if init and all(init) else [],
                "grad_norm_after": np.mean(after, axis=0).tolist() if after and all(after) else [],
            }
        analysis["by_depth"][str(depth)] = cell
    analysis["depths"].sort()
    return analysis


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
            claim = (f"**supported**: at least ten times more gradient lost than with {c['base']}"
                     if s["supported"] else
                     f"**not supported here**: it loses less than ten times more gradient than {c['base']}")
            lines.append(f"- {act}: 10^{s['ratio']:.1f} at initialization"
                         + (f", 10^{s['after']:.1f} after the epoch" if s["after"] is not None else "")
                         + f"; test accuracy {common.fmt_ci(s['accuracy'])}%. Claim for {act}: {claim}.")
    return lines


def _comparison(analysis):
    """At the greatest depth: the log10 gradient ratio at initialization of relu (or, without it, of its most
    attenuated relative) and of each saturating activation, which holds the claim when it loses at least ten
    times more gradient; None without both kinds of runs."""
    depths = analysis["depths"]
    deepest = str(depths[-1])

    def mean(act, key, depth=deepest):
        e = analysis["by_depth"][depth].get(act, {}).get(key) or {}
        return e.get("mean")

    sat = [a for a in ("sigmoid", "tanh") if mean(a, "log10_ratio_init") is not None]
    relus = [a for a in ("relu", "leaky_relu", "elu", "selu", "gelu") if mean(a, "log10_ratio_init") is not None]
    if not (sat and relus):
        return None
    worst_relu = min(relus, key=lambda a: mean(a, "log10_ratio_init"))
    base = "relu" if "relu" in relus else worst_relu
    floor = mean(base, "log10_ratio_init")
    return {
        "depth": depths[-1], "base": base, "floor": floor, "worst_relu": worst_relu,
        "worst_ratio": mean(worst_relu, "log10_ratio_init"),
        "base_accuracy": analysis["by_depth"][deepest].get(base, {}).get("test_accuracy"),
        "shallowest": depths[0],
        "base_accuracy_shallowest": analysis["by_depth"][str(depths[0])].get(base, {}).get("test_accuracy"),
        "saturating": {act: {"ratio": mean(act, "log10_ratio_init"), "after": mean(act, "log10_ratio_after"),
                             "accuracy": analysis["by_depth"][deepest][act]["test_accuracy"],
                             "supported": mean(act, "log10_ratio_init") < floor - 1} for act in sat},
    }


def verdict(analysis):
    c = _comparison(analysis)
    if c is None:
        return (f"**Inconclusive**: no sigmoid or tanh run beside a ReLU-family one at depth "
                f"{analysis['depths'][-1]}")
    sat = c["saturating"]
    word = common.verdict_words([a for a, s in sat.items() if s["supported"]],
                                [a for a, s in sat.items() if not s["supported"]])
    text = (f"{word}: at depth {c['depth']}, layer 1 gets " + ", ".join(
        f"10^{s['ratio']:.1f}" + (" of the last layer's gradient norm at initialization" if i == 0 else "")
        + f" with {act}" for i, (act, s) in enumerate(sat.items())) + f", 10^{c['floor']:.1f} with {c['base']}")
    deep, shallow = c["base_accuracy"], c["base_accuracy_shallowest"]
    if c["depth"] != c["shallowest"] and common.above(shallow, deep):
        text += (f"; keeping it is not enough to train depth {c['depth']} in one epoch ({c['base']}: "
                 f"{100 * deep['mean']:.1f}% test accuracy, {100 * shallow['mean']:.1f}% at depth {c['shallowest']})")
    return text

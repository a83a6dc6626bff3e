"""Dying ReLU: MLPs on mnist swept over learning rate and bias initialization.

Trained part: the fraction of dead units (no gradient through the unit for any probe input:
relu_zoo.diagnostics `dead_fraction`) and of never-active units (output never > 0) at initialization and
after each epoch, and test accuracy, for relu and the variants said to fix it.


The nets dead at initialization (Lu et al. 2019) are the `born_dead` study.
"""

import numpy as np

from relu_zoo.studies import common

TITLE = "Dying ReLU: learning rate and bias initialization"
CLAIM = "ReLU units die under a high learning rate or a large negative bias, and leaky / parametric variants fix it."
ACTIVATIONS = ["relu", "leaky_relu", "prelu", "elu", "rrelu"]
LEARNING_RATES = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
BIASES = [0.0, -1.0, -3.0]
BIAS_LR = 1e-2
WIDTH, DEPTH = 128, 3


def cells(quick):
    acts = ["relu", "leaky_relu"] if quick else ACTIVATIONS
    lrs = [1e-2, 1.0] if quick else LEARNING_RATES
    biases = [-3.0] if quick else BIASES[1:]
    grid = {f"lr{lr:g}__bias0": {"activations": acts, "learning_rate": lr,
                                 "model_kwargs": {"depth": DEPTH, "width": WIDTH, "bias_init": 0.0}} for lr in lrs}
    grid.update({f"lr{BIAS_LR:g}__bias{b:g}": {"activations": acts, "learning_rate": BIAS_LR,
                                               "model_kwargs": {"depth": DEPTH, "width": WIDTH, "bias_init": b}}
                 for b in biases})
    # Training order: the reference setting, then the extremes, so that a study cut short (`--report-only`)
    # already holds the settings the claim is about.
    first = [f"lr{BIAS_LR:g}__bias0", f"lr{max(lrs):g}__bias0", f"lr{BIAS_LR:g}__bias{min(biases):g}",
             f"lr{sorted(lrs)[-2]:g}__bias0", f"lr{BIAS_LR:g}__bias{max(biases):g}"]
    order = list(dict.fromkeys([c for c in first if c in grid] + list(grid)))
    return [(cell_id, grid[cell_id]) for cell_id in order]


def setup(quick):
    return [f"- mnist (real), first 10,000 training images (`--quick`: 256), `mlp` depth {DEPTH} width {WIDTH}, "
            "the zoo's initializers (He normal for the ReLU family, Glorot uniform for elu), hidden biases "
            "starting at the given constant.",
            "- SGD, Nesterov momentum 0.9, batch 128, 2 epochs; learning rates " +
            ", ".join(f"{lr:g}" for lr in LEARNING_RATES) + f" at bias 0; biases {', '.join(f'{b:g}' for b in BIASES)}"
            f" at learning rate {BIAS_LR:g}; seeds 0, 1, 2. A run whose loss becomes non-finite is recorded as "
            "diverged and left out of the unit fractions and accuracies.",
            "- Dead: units (of all hidden layers) with d out / d in = 0 at every one of 256 validation images; never "
            "active: output never > 0 on them (relu_zoo.diagnostics)."]


def _unit_series(runs, key):
    """{epoch: ci over seeds of the mean over layers of `key`} for the runs that finished."""
    epochs = sorted({rec["epoch"] for r in runs for rec in (r.get("diagnostics") or [])})
    series = {}
    for epoch in epochs:
        values = []
        for r in runs:
            layer_values = [v for v in common.layer_series(r, epoch, key) if v is not None]
            values.append(float(np.mean(layer_values)) if layer_values else None)
        series[str(epoch)] = common.ci(values)
    return series


def analyze(results, quick, work):
    analysis = {"cells": {}}
    for cell_id, runs in results.items():
        lr_text, bias_text = cell_id.split("__")
        lr, bias = float(lr_text.removeprefix("lr")), float(bias_text.removeprefix("bias"))
        for act, rs in common.by_activation(runs).items():
            ok = [r for r in rs if r["status"] == "ok"]
            analysis["cells"][f"{act}__{cell_id}"] = {
                "activation": act, "learning_rate": lr, "bias_init": bias, "n": len(rs),
                "diverged": sum(r["status"] == "diverged" for r in rs),
                "test_accuracy": common.ci([r["test_accuracy"] for r in ok]),
                "dead": _unit_series(ok, "dead_fraction"),
                "never_active": _unit_series(ok, "never_active_fraction"),
                "dead_at_init": _unit_series(rs, "dead_fraction").get("-1"),
            }
    return analysis


def _final(series):
    if not series:
        return None
    return series[max(series, key=int)]


def _cells(analysis, **match):
    return [c for c in analysis["cells"].values() if all(c[k] == v for k, v in match.items())]


def figures(analysis, dest):
    plt = common.pyplot()
    made = []
    acts = list(dict.fromkeys(c["activation"] for c in analysis["cells"].values()))
    lrs = sorted({c["learning_rate"] for c in _cells(analysis, bias_init=0.0)})
    fig, axes = plt.subplots(1, 3, figsize=(18, 4))
    for act in acts:
        by_lr = {c["learning_rate"]: c for c in _cells(analysis, activation=act, bias_init=0.0)}
        common.errorbar(axes[0], lrs, [_final(by_lr[lr]["dead"]) if lr in by_lr else None for lr in lrs], act)
        common.errorbar(axes[1], lrs, [_final(by_lr[lr]["never_active"]) if lr in by_lr else None for lr in lrs], act)
        common.errorbar(axes[2], lrs, [by_lr[lr]["test_accuracy"] if lr in by_lr else None for lr in lrs], act)
    for ax, label in zip(axes, ("dead units % after training\n(d out/d in = 0 at every probe input)",
                                "never-active units % after training\n(output never > 0 on the probe batch)",
                                "test accuracy %")):
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (SGD, Nesterov 0.9), bias init 0")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title("Dead units vs learning rate (mean, 95% CI)")
    axes[1].set_title("Never-active units vs learning rate")
    axes[2].set_title("Test accuracy vs learning rate (diverged runs left out)")
    axes[0].legend(fontsize=8)
    common.save_figure(fig, dest / "learning_rate.png")
    made.append(("Dead units, never-active units and accuracy vs learning rate", "learning_rate.png"))

    biases = sorted({c["bias_init"] for c in analysis["cells"].values()
                     if c["learning_rate"] == BIAS_LR or c["bias_init"] != 0.0}, reverse=True)
    fig, axes = plt.subplots(1, 3, figsize=(18, 4))
    for act in acts:
        by_b = {c["bias_init"]: c for c in _cells(analysis, activation=act) if c["learning_rate"] == BIAS_LR}
        common.errorbar(axes[0], biases, [by_b[b]["dead_at_init"] if b in by_b else None for b in biases],
                        f"{act} at init", linestyle=":")
        common.errorbar(axes[1], biases, [_final(by_b[b]["dead"]) if b in by_b else None for b in biases],
                        f"{act} after training")
        common.errorbar(axes[2], biases, [by_b[b]["test_accuracy"] if b in by_b else None for b in biases], act)
    for ax, label in zip(axes, ("dead units % at initialization", "dead units % after training",
                                "test accuracy %")):
        ax.set_xlabel(f"bias initialization (learning rate {BIAS_LR:g})")
        ax.set_ylabel(label)
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0].set_title("Dead units at init vs bias (mean, 95% CI)")
    axes[1].set_title("Dead units after training vs bias")
    axes[2].set_title("Test accuracy vs bias")
    axes[0].legend(fontsize=8)
    common.save_figure(fig, dest / "bias.png")
    made.append(("Dead units and accuracy vs bias initialization", "bias.png"))

    return made


def findings(analysis):
    lines = ["Dead (d out/d in = 0 everywhere) and never-active units after training, % (mean [95% CI] over "
             "seeds, mean over the hidden layers), test accuracy %, and runs that diverged:", "",
             "| activation | lr | bias init | dead at init | dead after | never active after | test accuracy % | "
             "diverged |", "|---|---|---|---|---|---|---|---|"]
    cells = sorted(analysis["cells"].values(), key=lambda c: (c["activation"], -c["bias_init"], c["learning_rate"]))
    for c in cells:
        lines.append(f"| {c['activation']} | {c['learning_rate']:g} | {c['bias_init']:g} | "
                     f"{common.fmt_ci(c['dead_at_init'])} | {common.fmt_ci(_final(c['dead']))} | "
                     f"{common.fmt_ci(_final(c['never_active']))} | {common.fmt_ci(c['test_accuracy'])} | "
                     f"{c['diverged']}/{c['n']} |")
    lines.append("")

    def dead_after(act, **match):
        found = _cells(analysis, activation=act, **match)
        return _final(found[0]["dead"]) if found else None

    relu_worst = max((c for c in cells if c["activation"] == "relu" and _final(c["dead"]) and
                      _final(c["dead"])["mean"] is not None), key=lambda c: _final(c["dead"])["mean"], default=None)
    if relu_worst is not None:
        others = []
        for act in ("leaky_relu", "prelu", "elu", "rrelu"):
            d = dead_after(act, learning_rate=relu_worst["learning_rate"], bias_init=relu_worst["bias_init"])
            if d and d["mean"] is not None:
                others.append(f"{act} {100 * d['mean']:.1f}%")
        lines.append(f"Most dead relu units: {100 * _final(relu_worst['dead'])['mean']:.1f}% at learning rate "
                     f"{relu_worst['learning_rate']:g}, bias {relu_worst['bias_init']:g} (test accuracy "
                     f"{common.fmt_ci(relu_worst['test_accuracy'])}%); same setting: " + (", ".join(others) or "–") +
                     ".")
    return lines

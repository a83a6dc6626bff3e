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
SHORT_CLAIM = "ReLU units die under a high learning rate or a large negative bias; leaky / parametric variants fix it"
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
    s = _summary(analysis)
    worst = s["relu_worst"]
    if worst is not None:
        others = [f"{act} {100 * _dead(c)['mean']:.1f}%" for act, c in s["variants"].items()]
        lines.append(f"Most dead relu units: {100 * _dead(worst)['mean']:.1f}% at learning rate "
                     f"{worst['learning_rate']:g}, bias {worst['bias_init']:g} (test accuracy "
                     f"{common.fmt_ci(worst['test_accuracy'])}%); same setting: " + (", ".join(others) or "–") +
                     ".")
    return lines


def _dead(cell):
    """The dead fraction after training of a cell (ci over seeds), None when no run finished."""
    final = _final(cell["dead"])
    return final if final and final["mean"] is not None else None


def _effect(high, low):
    """How much more relu dies in cell `high` than in `low`: "yes" (the 95% intervals are apart), "weak" (more on
    average, overlapping intervals) or "no"."""
    if common.above(_dead(high), _dead(low)):
        return "yes"
    return "weak" if _dead(high)["mean"] > _dead(low)["mean"] else "no"


def _summary(analysis):
    """What the finding rests on: relu's dead units at the most negative bias against bias 0 (at BIAS_LR) and at
    the highest learning rate that trained against the lowest (bias 0), each with its `_effect`, and at the
    setting with relu's most dead units, the variants' cells."""
    cells = sorted(analysis["cells"].values(), key=lambda c: (c["activation"], -c["bias_init"], c["learning_rate"]))
    relu = [c for c in cells if c["activation"] == "relu" and _dead(c)]
    relu_worst = max(relu, key=lambda c: _dead(c)["mean"], default=None)
    variants = {}
    if relu_worst is not None:
        for act in ACTIVATIONS[1:]:
            found = _cells(analysis, activation=act, learning_rate=relu_worst["learning_rate"],
                           bias_init=relu_worst["bias_init"])
            if found and _dead(found[0]):
                variants[act] = found[0]
    by_bias = sorted((c for c in relu if c["learning_rate"] == BIAS_LR), key=lambda c: c["bias_init"])
    by_lr = sorted((c for c in relu if c["bias_init"] == 0.0), key=lambda c: c["learning_rate"])
    factors = {}
    if len(by_bias) > 1 and by_bias[-1]["bias_init"] == 0.0:
        factors["the bias"] = (by_bias[0], by_bias[-1], f"bias {by_bias[0]['bias_init']:g}",
                               f"bias {by_bias[-1]['bias_init']:g}")
    if len(by_lr) > 1:
        factors["the learning rate"] = (by_lr[-1], by_lr[0], f"learning rate {by_lr[-1]['learning_rate']:g}",
                                        f"{by_lr[0]['learning_rate']:g}")
    return {"relu_worst": relu_worst, "variants": variants,
            "factors": {name: {"high": high, "low": low, "high_label": hi, "low_label": lo,
                               "effect": _effect(high, low)} for name, (high, low, hi, lo) in factors.items()}}


def _and(names):
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def verdict(analysis):
    s = _summary(analysis)
    factors, worst = s["factors"], s["relu_worst"]
    if not factors:
        return "**Inconclusive**: no two settings of the learning rate or of the bias where relu trained"
    effects = [f["effect"] for f in factors.values()]
    if len(set(effects)) == 1:
        word = {"yes": "**Supported**", "weak": "**Weakly supported**", "no": "**Not supported here**"}[effects[0]]
    else:
        lead = {"yes": "Supported", "weak": "Weakly supported", "no": "Not supported"}
        then = {"yes": "supported", "weak": "weakly", "no": "not"}
        word = "**" + ", ".join((lead if i == 0 else then)[f["effect"]] + " for " + name
                                for i, (name, f) in enumerate(factors.items())) + "**"
    text = f"{word}: relu's dead units after training: " + ", ".join(
        f"{100 * _dead(f['high'])['mean']:.1f}% at {f['high_label']} vs {100 * _dead(f['low'])['mean']:.1f}% at "
        f"{f['low_label']}" + (" (95% intervals overlap)" if f["effect"] == "weak" else "")
        for f in factors.values())
    variants = s["variants"]
    if variants:
        removed = [a for a, c in variants.items() if common.above(_dead(worst), _dead(c))]
        trained = [a for a, c in variants.items() if common.above(c["test_accuracy"], worst["test_accuracy"])]
        most = max(100 * _dead(c)["mean"] for c in variants.values())
        text += f"; at learning rate {worst['learning_rate']:g}, bias {worst['bias_init']:g} " + (
            f"the variants remove them (at most {most:.1f}% dead)" if len(removed) == len(variants) else
            f"only {_and(removed)} remove them" if removed else f"the variants do not remove them (up to {most:.1f}%)")
        accuracy = _and([f"{100 * variants[a]['test_accuracy']['mean']:.1f}%" for a in trained])
        relu_accuracy = (f"relu's {100 * worst['test_accuracy']['mean']:.1f}%"
                         if worst["test_accuracy"]["mean"] is not None else "relu")
        text += (f", and all of them train there ({accuracy} test accuracy vs {relu_accuracy})"
                 if len(trained) == len(variants) else
                 f", but only {_and(trained)} also train there ({accuracy} test accuracy vs {relu_accuracy})"
                 if trained else ", but none of them trains better there than relu")
    return text

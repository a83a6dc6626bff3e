"""Dying ReLU: MLPs on mnist swept over learning rate and bias initialization, and nets "born dead".

Trained part: the fraction of dead units (no gradient through the unit for any probe input:
relu_zoo.diagnostics `dead_fraction`) and of never-active units (output never > 0) at initialization and
after each epoch, and test accuracy, for relu and the variants said to fix it.

Born dead (Lu et al. 2019, "Dying ReLU and Initialization: Theory and Numerical Examples"): a deep, narrow
ReLU net at initialization whose output is constant over its inputs. With zero biases (the zoo's default)
and weights from a symmetric continuous distribution, each unit of a layer is positive at a given input
with probability 1/2 independently of the others, given a nonzero input to the layer, and a layer that
outputs all zeros stays zero above. So at one input the net is dead with probability exactly
    p(N, L) = 1 - (1 - 2^-N)^L        (N units per layer, L hidden layers),
and being dead over a whole input set can only be rarer; Lu et al. prove that the born-dead probability
goes to 1 as L grows at fixed N. Both are measured with NumPy forward passes (no training).
"""

import json
import math

import numpy as np

from relu_zoo.run import store
from relu_zoo.studies import common

TITLE = "Dying ReLU: learning rate, bias initialization, and nets born dead"
CLAIM = ("ReLU units die under a high learning rate or a large negative bias, and leaky / parametric variants fix "
         "it; deep narrow ReLU nets can be dead at initialization.")
ACTIVATIONS = ["relu", "leaky_relu", "prelu", "elu", "rrelu"]
LEARNING_RATES = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
BIASES = [0.0, -1.0, -3.0]
BIAS_LR = 1e-2
WIDTH, DEPTH = 128, 3
BORN_WIDTHS = [2, 3, 4, 5, 8]
BORN_DEPTHS = [1, 2, 5, 10, 20, 50]
BORN_TRIALS = 2000
BORN_INPUTS = 256
BORN_INPUT_DIM = 2


def cells(quick):
    acts = ["relu", "leaky_relu"] if quick else ACTIVATIONS
    lrs = [1e-2, 1.0] if quick else LEARNING_RATES
    biases = [-3.0] if quick else BIASES[1:]
    grid = [(f"lr{lr:g}__bias0", {"activations": acts, "learning_rate": lr,
                                    "model_kwargs": {"depth": DEPTH, "width": WIDTH, "bias_init": 0.0}}) for lr in lrs]
    grid += [(f"lr{BIAS_LR:g}__bias{b:g}", {"activations": acts, "learning_rate": BIAS_LR,
                                           "model_kwargs": {"depth": DEPTH, "width": WIDTH, "bias_init": b}})
             for b in biases]
    return grid


def setup(quick):
    return [f"- mnist (real), first 10,000 training images (`--quick`: 256), `mlp` depth {DEPTH} width {WIDTH}, "
            "the zoo's initializers (He normal for the ReLU family, Glorot uniform for elu), hidden biases "
            "starting at the given constant.",
            "- SGD, Nesterov momentum 0.9, batch 128, 2 epochs; learning rates " +
            ", ".join(f"{lr:g}" for lr in LEARNING_RATES) + f" at bias 0; biases {', '.join(f'{b:g}' for b in BIASES)}"
            f" at learning rate {BIAS_LR:g}; seeds 0, 1, 2. A run whose loss becomes non-finite is recorded as "
            "diverged and left out of the unit fractions and accuracies.",
            "- Dead: units (of all hidden layers) with d out / d in = 0 at every one of 256 validation images; never "
            "active: output never > 0 on them (relu_zoo.diagnostics).",
            f"- Born dead: {BORN_TRIALS} nets per (width, depth), He-normal weights, zero biases, "
            f"{BORN_INPUTS} inputs uniform in [-√3, √3]^{BORN_INPUT_DIM}; dead at one input = some hidden layer is "
            "all zero there; born dead = the output is the same for every input. 95% Wilson intervals."]


def predicted_dead_at_input(width, depth):
    """Probability that a ReLU net (zero biases, symmetric weights) outputs a constant at one given input."""
    return 1.0 - (1.0 - 2.0 ** -width) ** depth


def wilson(k, n, z=1.96):
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def born_dead(widths=BORN_WIDTHS, depths=BORN_DEPTHS, trials=BORN_TRIALS, seed=0):
    """Measured frequencies of nets dead at one input and born dead over the input set, per (width, depth)."""
    rng = np.random.default_rng(seed)
    out = {}
    for width in widths:
        for depth in depths:
            x = rng.uniform(-math.sqrt(3), math.sqrt(3), size=(trials, BORN_INPUTS, BORN_INPUT_DIM))
            h = x
            for _ in range(depth):
                w = rng.normal(0.0, math.sqrt(2.0 / h.shape[-1]), size=(trials, h.shape[-1], width))
                h = np.maximum(np.einsum("tbi,tij->tbj", h, w), 0.0)
            w = rng.normal(0.0, math.sqrt(1.0 / width), size=(trials, width, 1))
            y = np.einsum("tbi,tij->tbj", h, w)[..., 0]
            at_input = int(np.sum(np.all(h[:, 0, :] == 0, axis=-1)))
            born = int(np.sum(np.ptp(y, axis=1) == 0))
            out[f"{width}x{depth}"] = {
                "width": width, "depth": depth, "trials": trials,
                "dead_at_input": at_input / trials, "dead_at_input_ci95": wilson(at_input, trials),
                "born_dead": born / trials, "born_dead_ci95": wilson(born, trials),
                "predicted_dead_at_input": predicted_dead_at_input(width, depth),
            }
    return out


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
    cache = work.parent / "born_dead.json" if not quick else None
    if cache is not None and cache.exists():
        analysis["born_dead"] = json.loads(cache.read_text())
    else:
        analysis["born_dead"] = (born_dead(widths=[2, 4], depths=[1, 5], trials=200) if quick else born_dead())
        if cache is not None:
            store.atomic_write_json(cache, analysis["born_dead"])
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

    born = analysis["born_dead"]
    widths = sorted({b["width"] for b in born.values()})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for width in widths:
        rows = sorted((b for b in born.values() if b["width"] == width), key=lambda b: b["depth"])
        depths = [b["depth"] for b in rows]
        for ax, key in ((axes[0], "dead_at_input"), (axes[1], "born_dead")):
            mean = np.array([b[key] for b in rows])
            lo = np.array([b[f"{key}_ci95"][0] for b in rows])
            hi = np.array([b[f"{key}_ci95"][1] for b in rows])
            line = ax.errorbar(depths, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3,
                               label=f"width {width} measured")
            ax.plot(depths, [b["predicted_dead_at_input"] for b in rows], linestyle="--",
                    color=line[0].get_color(), label=f"width {width}: 1-(1-2^-N)^L")
    axes[0].set_title("Dead at one input: measured vs 1-(1-2^-N)^L")
    axes[1].set_title("Born dead (constant output over 256 inputs)\nvs the one-input probability (an upper bound)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("depth L (hidden layers)")
        ax.set_ylabel("probability over random initializations")
        ax.grid(alpha=0.3)
        ax.tick_params(labelleft=True)
    axes[0].legend(fontsize=7)
    common.save_figure(fig, dest / "born_dead.png")
    made.append(("Born dead: deep narrow ReLU nets at initialization", "born_dead.png"))
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
    born = analysis["born_dead"]
    deepest = max(b["depth"] for b in born.values())
    narrow = min(b["width"] for b in born.values())
    b = born[f"{narrow}x{deepest}"]
    worst_gap = max(abs(x["dead_at_input"] - x["predicted_dead_at_input"]) for x in born.values())
    lines += ["", f"Born dead: width {narrow}, depth {deepest}: dead at one input {100 * b['dead_at_input']:.1f}% "
              f"(predicted {100 * b['predicted_dead_at_input']:.1f}%), dead over all {BORN_INPUTS} inputs "
              f"{100 * b['born_dead']:.1f}% of {b['trials']} nets. Largest |measured − predicted| over the grid "
              f"(dead at one input): {100 * worst_gap:.1f} points."]
    return lines

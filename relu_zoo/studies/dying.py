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
# Dead fractions within 2 % of the units of each other count as the same (equivalence margin): less than one
# unit in 50, below what any account of dying ReLU is about.
DEAD_DELTA = 0.02


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
    """{epoch: ci over seeds of the mean over layers of `key`, with its values by seed} for the given runs."""
    epochs = sorted({rec["epoch"] for r in runs for rec in (r.get("diagnostics") or [])})
    series = {}
    for epoch in epochs:
        values = {}
        for r in runs:
            layer_values = [v for v in common.layer_series(r, epoch, key) if v is not None]
            values[r["seed"]] = float(np.mean(layer_values)) if layer_values else None
        series[str(epoch)] = common.seeded(values)
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
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def _cell_id(cell):
    """The grid cell (`cells()`) an analysis cell comes from."""
    return f"lr{cell['learning_rate']:g}__bias{cell['bias_init']:g}"


def _key(cell):
    return f"{cell['activation']}__{_cell_id(cell)}"


def compare(analysis, runs):
    """relu's dead units after training at the most negative bias minus at bias 0 (at BIAS_LR), and at the
    highest learning rate that trained minus at the lowest (bias 0), Holm over the two; at the setting with
    relu's most dead units, each variant's dead units and test accuracy minus relu's there (Holm over the
    variants, each). Cells are named by their analysis keys."""
    cells = sorted(analysis["cells"].values(), key=lambda c: (c["activation"], -c["bias_init"], c["learning_rate"]))
    relu = [c for c in cells if c["activation"] == "relu" and _dead(c)]
    by_bias = sorted((c for c in relu if c["learning_rate"] == BIAS_LR), key=lambda c: c["bias_init"])
    by_lr = sorted((c for c in relu if c["bias_init"] == 0.0), key=lambda c: c["learning_rate"])
    pairs = {}
    if len(by_bias) > 1 and by_bias[-1]["bias_init"] == 0.0:
        pairs["the bias"] = (by_bias[0], by_bias[-1])
    if len(by_lr) > 1:
        pairs["the learning rate"] = (by_lr[-1], by_lr[0])
    factors = {name: {"high": _key(high), "low": _key(low), **common.difference(_dead(high), _dead(low), DEAD_DELTA)}
               for name, (high, low) in pairs.items()}
    common.adjust(list(factors.values()))
    worst = max(relu, key=lambda c: _dead(c)["mean"], default=None)
    dead, accuracy = {}, {}
    if worst is not None:
        here = runs.get(_cell_id(worst))
        relu_accuracy = common.with_seeds(worst["test_accuracy"], here, "relu")
        for act in ACTIVATIONS[1:]:
            found = analysis["cells"].get(f"{act}__{_cell_id(worst)}")
            if found and _dead(found):
                dead[act] = common.difference(_dead(found), _dead(worst), DEAD_DELTA)
                accuracy[act] = common.difference(common.with_seeds(found["test_accuracy"], here, act), relu_accuracy)
        common.adjust(list(dead.values()))
        common.adjust(list(accuracy.values()))
    return {"factors": factors, "worst": None if worst is None else _key(worst), "variants_dead": dead,
            "variants_accuracy": accuracy}


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
    if s["factors"]:
        lines += ["", "Comparisons (difference in points [95% CI], Holm-adjusted verdict, the difference each could "
                  "detect):", ""]
        for name, f in s["factors"].items():
            lines.append(f"- {name}, relu's dead units at {f['high_label']} minus at {f['low_label']}: "
                         + common.fmt_difference(f["comparison"]))
        for act, c in s["dead_comparisons"].items():
            lines.append(f"- {act}'s dead units minus relu's there: " + common.fmt_difference(c))
        for act, c in s["accuracy_comparisons"].items():
            lines.append(f"- {act}'s test accuracy minus relu's there: " + common.fmt_difference(c))
    return lines


def _dead(cell):
    """The dead fraction after training of a cell (ci over seeds), None when no run finished."""
    final = _final(cell["dead"])
    return final if final and final["mean"] is not None else None


def _summary(analysis):
    """What the finding rests on (`compare`, from the analysis' own `comparisons` where it has them: those pair
    the seeds): relu's dead units at the most negative bias against bias 0 (at BIAS_LR) and at the highest
    learning rate that trained against the lowest (bias 0), each with its outcome for the claim that relu dies
    more there; at the setting with relu's most dead units, the variants' cells, whether they have fewer dead
    units and whether they train better."""
    comparisons = analysis.get("comparisons") or compare(analysis, {})
    cells = analysis["cells"]
    factors = {}
    for name, c in comparisons["factors"].items():
        high, low = cells[c["high"]], cells[c["low"]]
        labels = ((f"bias {high['bias_init']:g}", f"bias {low['bias_init']:g}") if name == "the bias" else
                  (f"learning rate {high['learning_rate']:g}", f"{low['learning_rate']:g}"))
        factors[name] = {"high": high, "low": low, "high_label": labels[0], "low_label": labels[1],
                         "comparison": c, "outcome": common.outcome(c, "better")}
    worst = cells[comparisons["worst"]] if comparisons["worst"] else None
    variants = {act: cells[f"{act}__{_cell_id(worst)}"] for act in comparisons["variants_dead"]}
    return {"relu_worst": worst, "variants": variants, "factors": factors,
            "removed": {act: common.outcome(c, "worse") for act, c in comparisons["variants_dead"].items()},
            "trained": {act: common.outcome(c, "better") for act, c in comparisons["variants_accuracy"].items()},
            "dead_comparisons": comparisons["variants_dead"], "accuracy_comparisons": comparisons["variants_accuracy"]}


def _and(names):
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _could(comparison, result):
    """What a comparison could detect, in points, as the verdict says it beside its numbers."""
    if result == "inconclusive":
        return f"inconclusive: could not detect less than {common.detectable(comparison)}"
    return f"detectable: {common.detectable(comparison)}"


def _parts(outcomes, comparisons, every, held, not_held, unsure):
    """The variants' outcomes in words: `every` where all hold, else "prelu and rrelu <held>, leaky_relu
    <not_held> and it is inconclusive whether elu <unsure> (could not detect less than 8.6 points)"; `held`,
    `not_held` and `unsure` are each (singular, plural)."""
    groups = {}
    for act, result in outcomes.items():
        groups.setdefault(result, []).append(act)
    if set(groups) == {"holds"}:
        return every
    clauses = [f"{_and(acts)} {words[len(acts) > 1]}" for acts, words in
               ((groups.get("holds"), held), (groups.get("smaller"), held), (groups.get("not supported"), not_held))
               if acts]
    acts = groups.get("inconclusive", []) + groups.get("too few seeds", [])
    if acts:
        could = ", ".join((f"{a}: " if len(acts) > 1 else "") + common.detectable(comparisons[a]) for a in acts)
        clauses.append(f"it is inconclusive whether {_and(acts)} {unsure[len(acts) > 1]} (could not detect less "
                       f"than {could})")
    return _and(clauses)


def verdict(analysis):
    s = _summary(analysis)
    factors, worst = s["factors"], s["relu_worst"]
    if not factors:
        return "**Inconclusive**: no two settings of the learning rate or of the bias where relu trained"
    word = common.claim_words([(name, f["outcome"]) for name, f in factors.items()])
    text = f"{word}: relu's dead units after training: " + ", ".join(
        f"{100 * _dead(f['high'])['mean']:.1f}% at {f['high_label']} vs {100 * _dead(f['low'])['mean']:.1f}% at "
        f"{f['low_label']} ({_could(f['comparison'], f['outcome'])})" for f in factors.values())
    variants = s["variants"]
    if variants:
        most = max(100 * _dead(c)["mean"] for c in variants.values())
        text += f"; at learning rate {worst['learning_rate']:g}, bias {worst['bias_init']:g}: " + _parts(
            s["removed"], s["dead_comparisons"], f"the variants remove them (at most {most:.1f}% dead)",
            ("removes them", "remove them"), ("does not", "do not"), ("removes them", "remove them"))
        trained = [a for a, o in s["trained"].items() if o == "holds"]
        accuracy = _and([f"{100 * variants[a]['test_accuracy']['mean']:.1f}%" for a in trained])
        relu_accuracy = (f"relu's {100 * worst['test_accuracy']['mean']:.1f}%"
                         if worst["test_accuracy"]["mean"] is not None else "relu")
        there = f"({accuracy} test accuracy vs {relu_accuracy})"
        text += "; " + _parts(s["trained"], s["accuracy_comparisons"], f"all of them train there {there}",
                              (f"also trains there {there}", f"also train there {there}"),
                              ("does not train better there", "do not train better there"),
                              ("trains better there", "train better there"))
    return text

"""Born dead: deep, narrow ReLU nets at initialization whose output is constant over their inputs.

Lu et al. 2019 ("Dying ReLU and Initialization: Theory and Numerical Examples") prove that a ReLU net whose
weights and biases are drawn from symmetric distributions is born dead with a probability that goes to 1 as
its depth grows at fixed width. With zero biases (the zoo's default) and weights from a symmetric continuous
distribution, each unit of a layer is positive at a given input with probability 1/2, independently of the
others given a nonzero input to the layer, and a layer that outputs all zeros stays zero above. So at one
input the net is dead with probability exactly

    p(N, L) = 1 - (1 - 2^-N)^L        (N units per layer, L hidden layers),

and being dead over a whole input set can only be rarer (p is an upper bound for it). Both are measured with
NumPy forward passes: no training, so this study has no runs, only Monte Carlo trials (each trial a fresh
random net, i.e. a seed).
"""

import json
import math
from pathlib import Path

import numpy as np

from relu_zoo.run import stats, store
from relu_zoo.studies import common

TITLE = "Born dead: deep narrow ReLU nets at initialization"
CLAIM = ("Deep, narrow ReLU nets can be dead at initialization (Lu et al. 2019), with a probability that grows "
         "with depth and falls with width.")
SHORT_CLAIM = "Deep, narrow ReLU nets can be dead at initialization (Lu et al. 2019)"
BORN_WIDTHS = [2, 3, 4, 5, 8]
BORN_DEPTHS = [1, 2, 5, 10, 20, 50]
BORN_TRIALS = 2000
BORN_INPUTS = 256
BORN_INPUT_DIM = 2
# Born-dead frequencies within 5 % of the nets of each other count as the same (equivalence margin).
DELTA = 0.05


def cells(quick):
    return []


def setup(quick):
    trials = 200 if quick else BORN_TRIALS
    return [f"- {trials} nets per (width N, depth L): L hidden ReLU layers of N units, He-normal weights "
            f"(N(0, 2/fan_in)), zero biases, a linear output; {BORN_INPUTS} inputs uniform in "
            f"[-√3, √3]^{BORN_INPUT_DIM}; NumPy, seed 0.",
            "- Dead at one input: some hidden layer is all zero at the first input. Born dead: the output is the "
            "same for all inputs. 95% Wilson intervals over the trials."]


def predicted_dead_at_input(width, depth):
    """Probability that a ReLU net (zero biases, symmetric weights) outputs a constant at one given input."""
    return 1.0 - (1.0 - 2.0 ** -width) ** depth


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
                "dead_at_input": at_input / trials, "dead_at_input_ci95": stats.wilson(at_input, trials),
                "born_dead": born / trials, "born_dead_ci95": stats.wilson(born, trials),
                "predicted_dead_at_input": predicted_dead_at_input(width, depth),
            }
    return out



def analyze(results, quick, work):
    cache = Path(work) / "born_dead.json"
    if cache.exists():
        measured = json.loads(cache.read_text())
    else:
        measured = born_dead(widths=[2, 4], depths=[1, 5], trials=200) if quick else born_dead()
        store.atomic_write_json(cache, measured)
    analysis = {"born_dead": measured}
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def _trials(cell):
    """The cell's trials as `common.ci()` of 0/1 values (born dead or not), what `common.difference` compares,
    with one born-dead and one living net added (Agresti & Caffo 2000): a frequency of 0 or 1 then keeps a
    spread, and the unpaired interval of the difference its coverage."""
    dead = round(cell["born_dead"] * cell["trials"])
    return common.ci([1.0] * (dead + 1) + [0.0] * (cell["trials"] - dead + 1))


def compare(analysis, runs):
    """The born-dead frequency of the narrowest nets minus the widest at the greatest depth ("width"), and of the
    deepest narrowest nets minus the shallowest ("depth"), Holm over the two; each trial is a fresh net, so
    nothing is paired (Welch's test on the 0/1 outcomes, `_trials`)."""
    born = analysis["born_dead"]
    deepest, shallowest = max(b["depth"] for b in born.values()), min(b["depth"] for b in born.values())
    narrow, wide = min(b["width"] for b in born.values()), max(b["width"] for b in born.values())
    pairs = {"width": (f"{narrow}x{deepest}", f"{wide}x{deepest}"),
             "depth": (f"{narrow}x{deepest}", f"{narrow}x{shallowest}")}
    compared = {name: {"cells": [a, b], **common.difference(_trials(born[a]), _trials(born[b]), DELTA)}
                for name, (a, b) in pairs.items() if a != b and a in born and b in born}
    common.adjust(list(compared.values()))
    return compared


def figures(analysis, dest):
    plt = common.pyplot()
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
                               label=f"N={width} measured")
            ax.plot(depths, [b["predicted_dead_at_input"] for b in rows], linestyle="--",
                    color=line[0].get_color(), label=f"N={width}: 1-(1-2^-N)^L")
    axes[0].set_title("Dead at one input: measured vs 1-(1-2^-N)^L")
    axes[1].set_title(f"Born dead (constant output over {BORN_INPUTS} inputs)\nvs the one-input probability "
                      "(an upper bound)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("depth L (hidden layers)")
        ax.set_ylabel("fraction of random initializations")
        ax.grid(alpha=0.3)
        ax.tick_params(labelleft=True)
    axes[0].legend(fontsize=7)
    common.save_figure(fig, dest / "born_dead.png")
    return [("Born dead: measured vs predicted", "born_dead.png")]


def _summary(analysis):
    """What the finding rests on: the (width, depth) cells whose measured interval holds the prediction, the
    born-dead fractions of the narrowest and the widest nets at the greatest depth and of the narrowest at the
    smallest depth, and the comparisons (`compare`) with their outcomes for the claim (more die narrower, and
    deeper)."""
    born = analysis["born_dead"]
    inside = sum(b["dead_at_input_ci95"][0] <= b["predicted_dead_at_input"] <= b["dead_at_input_ci95"][1]
                 for b in born.values())
    deepest, shallowest = max(b["depth"] for b in born.values()), min(b["depth"] for b in born.values())
    narrow = min(b["width"] for b in born.values())
    wide = max(b["width"] for b in born.values())
    comparisons = analysis.get("comparisons") or compare(analysis, {})
    return {"inside": inside, "cells": len(born), "deepest": deepest, "shallowest": shallowest, "narrow": narrow,
            "wide": wide, "narrow_cell": born[f"{narrow}x{deepest}"], "wide_cell": born[f"{wide}x{deepest}"],
            "shallow_cell": born[f"{narrow}x{shallowest}"], "comparisons": comparisons,
            "outcomes": {name: common.outcome(c, "better") for name, c in comparisons.items()}}


def _could(c, result):
    if result == "inconclusive":
        return f"inconclusive: could not detect less than {common.detectable(c)}"
    return f"detectable: {common.detectable(c)}"


def findings(analysis):
    born = analysis["born_dead"]
    lines = ["Fraction of random nets (95% Wilson interval) dead at one input, its prediction 1-(1-2^-N)^L, and born "
             "dead over all inputs, %:", "", "| width N | depth L | dead at one input | predicted | born dead |",
             "|---|---|---|---|---|"]
    for b in sorted(born.values(), key=lambda b: (b["width"], b["depth"])):
        lo, hi = b["dead_at_input_ci95"]
        blo, bhi = b["born_dead_ci95"]
        lines.append(f"| {b['width']} | {b['depth']} | {100 * b['dead_at_input']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] "
                     f"| {100 * b['predicted_dead_at_input']:.1f} | {100 * b['born_dead']:.1f} [{100 * blo:.1f}, "
                     f"{100 * bhi:.1f}] |")
    s = _summary(analysis)
    n, w = s["narrow_cell"], s["wide_cell"]
    lines += ["", f"The prediction lies inside the measured 95% interval in {s['inside']} of {s['cells']} (width, "
              f"depth) cells. At depth {s['deepest']}, width {s['narrow']}: {100 * n['born_dead']:.1f}% of nets are "
              f"born dead (dead at one input {100 * n['dead_at_input']:.1f}%, predicted "
              f"{100 * n['predicted_dead_at_input']:.1f}%); width {s['wide']}: {100 * w['born_dead']:.1f}% born dead.",
              ""]
    for name, c in s["comparisons"].items():
        a, b = c["cells"]
        if c.get("ci95") is None:
            lines.append(f"- {name}: too few trials to compare")
            continue
        lo, hi = c["ci95"]
        lines.append(f"- {name}: born dead at {a} minus at {b} (width x depth): {100 * c['mean_diff']:+.1f} "
                     f"[{100 * lo:+.1f}, {100 * hi:+.1f}] points, {stats.verdict_text(c)} "
                     f"({_could(c, s['outcomes'][name])}; unpaired (Welch), {born[a]['trials']} and "
                     f"{born[b]['trials']} nets, one born dead and one living added to each).")
    lines.append("")
    outcomes = set(s["outcomes"].values())
    lines.append("**Supported here**: narrow ReLU nets die at initialization more often the deeper they are, as "
                 "predicted; width protects them." if outcomes == {"holds"} else
                 "**Not supported here**: the narrow deep nets are not born dead more often than the wide or the "
                 "shallow ones, and the trials could have detected it." if outcomes == {"not supported"} else
                 "Each part of the claim as the verdict above says: " + ", ".join(
                     f"{name} {result}" for name, result in s["outcomes"].items()) + ".")
    return lines


def verdict(analysis):
    s = _summary(analysis)
    n, w, shallow = s["narrow_cell"], s["wide_cell"], s["shallow_cell"]
    word = common.claim_words(list(s["outcomes"].items()))
    comparisons = s["comparisons"]
    width = (f" ({_could(comparisons['width'], s['outcomes']['width'])})" if "width" in comparisons else "")
    depth = (f"; width-{s['narrow']} nets: {100 * shallow['born_dead']:.1f}% at depth {s['shallowest']} "
             f"({_could(comparisons['depth'], s['outcomes']['depth'])})" if "depth" in comparisons else "")
    return (f"{word}: at depth {s['deepest']}, {100 * n['born_dead']:.1f}% of width-{s['narrow']} nets are born "
            f"dead, {100 * w['born_dead']:.1f}% of width-{s['wide']} ones{width}{depth}; the predicted 1-(1-2^-N)^L "
            f"lies inside the measured 95% interval in {s['inside']} of {s['cells']} (width, depth) cells")

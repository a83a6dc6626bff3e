"""Trains faster: epochs and seconds to 25 % training error on CIFAR-10, ReLU against tanh, sigmoid and the
smooth relatives.

Krizhevsky et al. 2012 (Fig. 1): a four-layer convolutional network with ReLUs reached 25 % training error on
CIFAR-10 six times faster, in epochs, than the same network with tanh units. Measured here with a four-layer
conv net of that era (three 3x3 convolutions and one hidden dense layer, no batch norm, no dropout, no
augmentation, plain SGD with momentum): per activation and seed, the first epoch whose running training
error is at most 25 %, the first whose validation accuracy reaches 55 %, the seconds until then, and the
train step's time per activation measured interleaved (so the seconds can be told apart from load).
"""

import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

from relu_zoo.studies import common

TITLE = "Trains faster: epochs to 25 % training error on CIFAR-10"
CLAIM = ("ReLU networks train faster: a conv net with ReLUs reaches 25 % training error on CIFAR-10 six times "
         "faster than with tanh (Krizhevsky et al. 2012).")
SHORT_CLAIM = ("ReLU networks train faster: 25 % training error on CIFAR-10 six times sooner than tanh (Krizhevsky et "
               "al. 2012)")
ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"]
QUICK_ACTIVATIONS = ["relu", "tanh"]
TRAIN_ERROR, VAL_ACCURACY = 0.25, 0.55
EPOCHS, TRAIN_EXAMPLES = 15, 10000
KRIZHEVSKY_RATIO = 6.0
# Epoch counts within 20 % of each other (one epoch in five) count as the same (equivalence margin, in log units).
DELTA = math.log(1.2)
MODEL_KWARGS = {"filters": [32, 64, 64], "convs_per_block": 1, "dense_units": 64, "batch_norm": False,
                "head_norm": False, "dropout_rate": 0.0}


def cells(quick):
    return [("cifar10_cnn", {
        "tasks": ["cifar10"], "models": ["cnn"], "activations": QUICK_ACTIVATIONS if quick else ACTIVATIONS,
        "epochs": EPOCHS, "learning_rate": 0.01, "momentum": 0.9, "batch_size": 128,
        "max_train_examples": TRAIN_EXAMPLES, "max_eval_examples": 5000, "diagnostics": False,
        "task_kwargs": {"augmentation": None}, "model_kwargs": MODEL_KWARGS})]


def setup(quick):
    return [f"- CIFAR-10 (the JPEG copy), the first {TRAIN_EXAMPLES:,} training images (`--quick`: "
            f"{common.QUICK['max_train_examples']}), no augmentation; 5,000 validation images.",
            "- `cnn` with three 3x3 conv layers (32, 64, 64 filters, each followed by 2x2 max pooling), one hidden "
            "dense layer of 64 units, no batch norm, no dropout: four layers with weights below the logits, like "
            "Krizhevsky et al.'s network of Fig. 1; the zoo's default initializer per activation.",
            f"- SGD, Nesterov momentum 0.9, learning rate 0.01, batch 128, {EPOCHS} epochs; seeds 0, 1, 2.",
            f"- Per run: the first epoch whose running training error is ≤ {100 * TRAIN_ERROR:.0f} % (Krizhevsky's "
            f"level), the first whose validation accuracy is ≥ {100 * VAL_ACCURACY:.0f} %, and the training "
            "seconds until then (sum of the epoch times). A run that never gets there is counted as not reached, "
            "never as the last epoch.",
            "- Step time: one train step of batch 128 per activation, repetitions of 5 steps taken in turn (round "
            "robin, 5 rounds), medians; on the machine that ran the study, in the same process."]


def _reached(result, key, level, below=False):
    """(epochs, seconds) until `key` first reaches `level` (at or below it with `below`); None when never."""
    seconds = 0.0
    for h in result.get("history", []):
        seconds += h.get("epoch_time") or 0.0
        value = h.get(key)
        if value is not None and ((1 - value) <= level if below else value >= level):
            return int(h["epoch"]) + 1, seconds
    return None


def step_times(activations, work, quick, steps=5, rounds=5):
    """Median seconds of one train step per activation, measured round robin; cached in `work`."""
    path = Path(work) / "step_times.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if sorted(cached["median_s"]) == sorted(activations):
            return cached
    import keras

    from relu_zoo import _logs, models, tasks
    from relu_zoo.run.precision import cpu_flags

    spec = tasks.get("cifar10").spec
    rng = np.random.default_rng(0)
    batch = 16 if quick else 128
    x = rng.normal(size=(batch,) + spec.input_shape).astype("float32")
    y = rng.integers(0, spec.num_classes, size=batch)
    built = {}
    with _logs.new_models_traced():  # one train step traced per model is not retracing
        for name in activations:
            keras.utils.set_random_seed(0)
            model = models.create_model("cnn", task=spec, activation=name, **MODEL_KWARGS)
            model.compile(keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.train_on_batch(x, y)  # traces outside the timing
            built[name] = model
    times = {name: [] for name in activations}
    for _ in range(1 if quick else rounds):
        for name, model in built.items():
            start = time.perf_counter()
            for _ in range(1 if quick else steps):
                model.train_on_batch(x, y)
            times[name].append((time.perf_counter() - start) / (1 if quick else steps))
    result = {"median_s": {k: statistics.median(v) for k, v in times.items()}, "times": times, "batch_size": batch,
              "cpu_flags": sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def analyze(results, quick, work):
    runs = [r for rs in results.values() for r in rs]
    acts = list(common.by_activation(runs))
    analysis = {"activations": {}, "train_error": TRAIN_ERROR, "val_accuracy": VAL_ACCURACY,
                "epochs": max((r["epochs"] for r in runs), default=EPOCHS)}
    for act, rs in common.by_activation(runs).items():
        ok = [r for r in rs if r["status"] == "ok"]
        train = [_reached(r, "accuracy", TRAIN_ERROR, below=True) for r in ok]
        val = [_reached(r, "val_accuracy", VAL_ACCURACY) for r in ok]
        analysis["activations"][act] = {
            "seeds": [r["seed"] for r in ok],
            "epochs_to_train_error": [t[0] if t else None for t in train],
            "seconds_to_train_error": [t[1] if t else None for t in train],
            "epochs_to_val_accuracy": [v[0] if v else None for v in val],
            "seconds_to_val_accuracy": [v[1] if v else None for v in val],
            "train_error_curve": [[1 - h["accuracy"] for h in r["history"]] for r in ok],
            "test_accuracy": common.ci([r["test_accuracy"] for r in ok]),
        }
    analysis["step_time"] = step_times(acts, work, quick) if acts else None
    for act, a in analysis["activations"].items():
        a["median_epochs_to_train_error"] = _median_reached(a["epochs_to_train_error"])
        a["median_seconds_to_train_error"] = _median_reached(a["seconds_to_train_error"])
    relu = analysis["activations"].get("relu", {})
    for act, a in analysis["activations"].items():
        ours, base = a["median_epochs_to_train_error"], relu.get("median_epochs_to_train_error")
        a["epochs_ratio_to_relu"] = ours / base if ours and base else None
        ours_s, base_s = a["median_seconds_to_train_error"], relu.get("median_seconds_to_train_error")
        a["seconds_ratio_to_relu"] = ours_s / base_s if ours_s and base_s else None
    analysis["comparisons"] = compare(analysis, results)
    return analysis


def compare(analysis, runs):
    """tanh's epochs to the training-error level over ReLU's, paired by seed on the log scale (the claim: at
    least log KRIZHEVSKY_RATIO). A ReLU seed that never got there is left out; a tanh seed that never did counts
    as the run's length, a lower bound (`censored` counts them): it can only understate tanh's epochs."""
    acts = analysis["activations"]
    tanh, relu = acts.get("tanh"), acts.get("relu")
    if not (tanh and relu):
        return {"tanh_vs_relu": None}
    relu_epochs = {s: e for s, e in zip(relu["seeds"], relu["epochs_to_train_error"]) if e is not None}
    tanh_epochs = {s: e for s, e in zip(tanh["seeds"], tanh["epochs_to_train_error"]) if s in relu_epochs}
    comparison = common.difference(
        common.seeded({s: math.log(analysis["epochs"] if e is None else e) for s, e in tanh_epochs.items()}),
        common.seeded({s: math.log(e) for s, e in relu_epochs.items()}), DELTA)
    comparison["censored"] = sum(e is None for e in tanh_epochs.values())
    common.adjust([comparison])
    return {"tanh_vs_relu": comparison}


def _median_reached(values):
    """The median over seeds, counting a run that never got there as slower than every run that did; None
    when half or more never got there."""
    n = len(values)
    reached = sorted(v for v in values if v is not None)
    if not n or len(reached) * 2 <= n:
        return None
    ordered = reached + [float("inf")] * (n - len(reached))
    middle = statistics.median(ordered)
    return None if middle == float("inf") else float(middle)


def figures(analysis, dest):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (act, a) in enumerate(analysis["activations"].items()):
        for j, curve in enumerate(a["train_error_curve"]):
            ax.plot(range(1, len(curve) + 1), [100 * c for c in curve], color=f"C{i}", alpha=0.7,
                    label=act if j == 0 else None)
    ax.axhline(100 * analysis["train_error"], color="grey", ls=":", label=f"{100 * analysis['train_error']:.0f} % "
                                                                         "(Krizhevsky's level)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("running training error %")
    ax.set_title("Training error per epoch (one line per seed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    common.save_figure(fig, Path(dest) / "train_error.png")
    return [("Training error per epoch", "train_error.png")]


def _fmt(value, unit=""):
    return "not reached" if value is None else f"{value:g}{unit}"


def findings(analysis):
    acts = analysis["activations"]
    step = (analysis.get("step_time") or {}).get("median_s", {})
    lines = [f"| activation | epochs to ≤ {100 * analysis['train_error']:.0f} % train error (per seed) | median "
             "| × ReLU's epochs | seconds to it (median) | × ReLU's seconds | epochs to "
             f"{100 * analysis['val_accuracy']:.0f} % validation (per seed) | train step (ms, interleaved) | "
             "test accuracy % [95% CI] |",
             "|---|---|---|---|---|---|---|---|---|"]
    for act, a in acts.items():
        ratio, sec, sec_ratio = a["epochs_ratio_to_relu"], a["median_seconds_to_train_error"], a["seconds_ratio_to_relu"]
        cells = [act, ", ".join(_fmt(e) for e in a["epochs_to_train_error"]), _fmt(a["median_epochs_to_train_error"]),
                 "–" if ratio is None else f"{ratio:.2f}×", "–" if sec is None else f"{sec:.0f}",
                 "–" if sec_ratio is None else f"{sec_ratio:.2f}×",
                 ", ".join(_fmt(e) for e in a["epochs_to_val_accuracy"]),
                 "–" if act not in step else f"{1000 * step[act]:.1f}", common.fmt_ci(a["test_accuracy"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    c = _comparison(analysis)
    if c is not None:
        level, epochs = 100 * analysis["train_error"], analysis["epochs"]
        if c["outcome"] == "relu_not_reached":
            finding = (f"ReLU did not reach {level:.0f} % training error in {epochs} epochs here, so the claim could "
                       "not be measured.")
        elif c["outcome"] == "tanh_not_reached":
            # The ratio is only a lower bound here: the run's length over ReLU's epochs.
            finding = (f"tanh did not reach it within {epochs} epochs, while ReLU took {c['relu']:g} (median): ReLU "
                       f"is at least {c['ratio']:.1f}× faster here. "
                       + (f"That is Krizhevsky's {KRIZHEVSKY_RATIO:g}× or more." if c["ratio"] >= KRIZHEVSKY_RATIO
                          else f"Whether by Krizhevsky's {KRIZHEVSKY_RATIO:g}× cannot be told from runs of "
                               f"{epochs} epochs."))
        else:
            finding = (f"tanh took {c['ratio']:.2f}× ReLU's epochs to reach it (medians {c['tanh']:g} vs "
                       f"{c['relu']:g}); Krizhevsky et al. report {KRIZHEVSKY_RATIO:g}×. Geometric mean of the "
                       f"seeds' ratios: {_paired(c)}. "
                       + {"smaller": "ReLU trains faster here too, but by less than the paper's factor.",
                          "holds": "ReLU trains at least as much faster here as in the paper.",
                          "not supported": "ReLU does not train the paper's factor faster here, and this study "
                                           "could have detected it.",
                          "inconclusive": "Whether ReLU trains faster here cannot be told from these seeds.",
                          "too few seeds": "Too few seeds reached the level to compare."}[c["outcome"]])
        lines.append(f"**Finding:** {finding} Seconds follow the epochs only as far as the step times allow: "
                     "the step-time column is measured interleaved, the seconds are the runs' own and move "
                     "with load.")
    return lines


def _comparison(analysis):
    """tanh's median epochs to the training-error level over ReLU's, beside Krizhevsky's factor, and the paired
    comparison of `compare` (from the analysis' own `comparisons` where it has them). The outcome:
    "relu_not_reached", "tanh_not_reached" (the ratio is then a lower bound: the epochs run over ReLU's), or
    that of the claim (`common.outcome` at log KRIZHEVSKY_RATIO; where some tanh seeds never got there, their
    epochs are lower bounds, so only "holds" stands and the rest is inconclusive); None without both."""
    acts = analysis["activations"]
    tanh, relu = acts.get("tanh"), acts.get("relu")
    if not (tanh and relu):
        return None
    comparison = (analysis.get("comparisons") or compare(analysis, {}))["tanh_vs_relu"]
    claim = common.outcome(comparison, "better", math.log(KRIZHEVSKY_RATIO))
    if comparison.get("censored") and claim not in ("holds", "too few seeds"):
        claim = "inconclusive"
    base, slow = relu["median_epochs_to_train_error"], tanh["median_epochs_to_train_error"]
    found = {"relu": base, "tanh": slow, "comparison": comparison, "claim": claim}
    if base is None:
        return {**found, "outcome": "relu_not_reached", "ratio": None}
    if slow is None:
        return {**found, "outcome": "tanh_not_reached", "ratio": analysis["epochs"] / base}
    return {**found, "outcome": claim, "ratio": tanh["epochs_ratio_to_relu"]}


def _factor(x):
    return f"{math.exp(x):.2f}×"


def _paired(c):
    """The paired ratio over seeds with its interval and what it could detect: "0.86× [0.75×, 0.99×] over 3
    paired seeds, detectable: a factor of 1.16×"."""
    cmp = c["comparison"]
    if cmp.get("ci95") is None:
        return "too few seeds to pair"
    lo, hi = cmp["ci95"]
    could = ("inconclusive: could not detect less than" if c["claim"] == "inconclusive" else "detectable:")
    return (f"{_factor(cmp['mean_diff'])} [{_factor(lo)}, {_factor(hi)}] over {cmp['n_pairs']} paired seeds, "
            f"{could} a factor of {_factor(cmp['mde'])}")


def verdict(analysis):
    c = _comparison(analysis)
    level, epochs = f"{100 * analysis['train_error']:.0f} % training error", analysis["epochs"]
    paper = f"Krizhevsky et al.: {KRIZHEVSKY_RATIO:g}×"
    if c is None:
        return "**Inconclusive**: no ReLU and tanh runs to compare"
    if c["outcome"] == "relu_not_reached":
        return f"**Not measured here**: ReLU did not reach {level} in {epochs} epochs"
    if c["outcome"] == "tanh_not_reached":
        if c["claim"] == "holds" and c["ratio"] >= KRIZHEVSKY_RATIO:
            return (f"**Supported**: tanh did not reach {level} in {epochs} epochs, ReLU in {c['relu']:g} (median), "
                    f"at least {c['ratio']:.1f}× faster ({paper})")
        if c["comparison"].get("verdict") == "better":
            return (f"**Supported in direction**: tanh did not reach {level} in {epochs} epochs, ReLU in "
                    f"{c['relu']:g} (median): at least {c['ratio']:.1f}× faster; the paper's factor is not testable "
                    f"in {epochs} epochs ({paper})")
        return (f"**Inconclusive**: tanh did not reach {level} in {epochs} epochs, ReLU in {c['relu']:g} (median); "
                f"{_paired(c)} ({paper})")
    word = {"holds": "**Supported**", "smaller": "**Partly supported**", "not supported": "**Not supported here**",
            "inconclusive": "**Inconclusive**", "too few seeds": "**Too few seeds to tell**"}[c["outcome"]]
    qualifier = " (faster, by less than the paper's factor)" if c["outcome"] == "smaller" else ""
    return (f"{word}: tanh took {c['ratio']:.2f}× ReLU's epochs to {level}{qualifier} (medians {c['tanh']:g} vs "
            f"{c['relu']:g}; {_paired(c)}; {paper})")

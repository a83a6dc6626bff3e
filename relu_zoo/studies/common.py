"""What every study shares: its grid of sweeps run through the resumable runner, seed statistics, and the
atomic writing of `results.json`, figures and `README.md`.

A study is a module with:

- `TITLE`, `CLAIM`: what it measures and the claim it tests;
- `cells(quick)`: its grid, `[(cell_id, overrides)]`; each cell is one sweep of `relu_zoo.run.sweep`
  (overrides on top of `BASE`), trained into `<work>/<cell_id>/`, so an interrupted study resumes where it
  stopped (finished runs are skipped, a run killed mid-training resumes from its last epoch);
- `analyze(results, quick, work)`: a pure function of the runs' records (`{cell_id: [result, ...]}`) to a
  JSON-able dict (and of anything the study measures without training, cached in `work`), whose
  `comparisons` are `compare(analysis, results)`;
- `compare(analysis, runs)`: the comparisons the claim rests on (`difference`, `adjust`), each with its verdict
  and detectable difference, from the analysis and the runs' per-seed scalars (`{cell_id: [run]}`, full records
  or the scalars `results.json` keeps, so that `restate` recomputes them from a stored study without
  training);
- `figures(analysis, dest)`: PNGs into `dest`, returns `[(title, filename)]`;
- `findings(analysis)`: the finding, as Markdown lines with numbers taken from `analysis`;
- `verdict(analysis)`: the finding in one Markdown line, a bold verdict (`claim_words`: `**Supported**`, `**Not
  supported here**`, `**Inconclusive**`, ...), its key numbers and the difference it could detect, computed
  from `analysis` as `findings` is (the claims table of the docs calls it on each stored analysis, so a stored
  study needs no rerun for it);
- optionally `SHORT_CLAIM`: the claim as that table names it, where `CLAIM` is longer.

A claim is "not supported here" only where its comparisons could have detected it: equivalent, or detected the
other way, or (for a claim that names a size, such as "six times faster") an interval short of that size with a
detectable difference no larger than it. Otherwise it is inconclusive, and the verdict says the smallest
difference the study could have detected (80 % power, `relu_zoo.run.stats`).
"""

import json
import math
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

from relu_zoo import _deprecation
from relu_zoo.run import plots, spec, stats, store
from relu_zoo.run.plots import pyplot  # noqa: F401  (the studies draw with it)
from relu_zoo.run.sweep import same_data, sweep
from relu_zoo.run.train import TaskCache

# The setting every study starts from: mnist, the zoo's mlp, 10k training images, SGD with Nesterov momentum
# (Adam rescales each weight's step and so hides vanishing gradients: the claims are about plain descent).
BASE = {
    "tasks": ["mnist"],
    "models": ["mlp"],
    "seeds": [0, 1, 2],
    "epochs": 2,
    "batch_size": 128,
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "max_train_examples": 10000,
    "max_eval_examples": 2000,
    "probe_examples": 256,
    "diagnostics": True,
}
# --quick: the same code on a sliver of the data, for tests (seconds, numbers meaningless).
QUICK = {"seeds": [0, 1], "epochs": 1, "max_train_examples": 256, "max_eval_examples": 128, "batch_size": 64,
         "probe_examples": 32}


def cell_config(overrides, quick, work, cell_id, data_dir=None):
    """The sweep configuration of one cell: defaults -> BASE -> the cell's overrides -> QUICK."""
    config = spec.apply(spec.SweepConfig(), BASE, "the study base")
    config = spec.apply(config, overrides, f"study cell {cell_id!r}")
    if quick:
        config = spec.apply(config, QUICK, "--quick")
    config = spec.apply(config, {"out": str(Path(work) / cell_id), "data_dir": data_dir, "verbose": 0}, "study")
    spec.validate(config)
    return config


def run_cells(cells, quick, work, data_dir=None, log=print, command=None, train=True):
    """Trains every unfinished run of every cell (resumable); returns `({cell_id: [result, ...]}, expected)`,
    `expected` being the number of runs the grid has. `train=False` only reads the runs finished so far."""
    results, caches, expected = {}, [], 0
    for i, (cell_id, overrides) in enumerate(cells):
        config = cell_config(overrides, quick, work, cell_id, data_dir)
        expected += len(config.tasks) * len(config.models) * len(config.activations) * len(config.seeds)
        if not train:
            found = store.load_results(config.out) if Path(config.out).is_dir() else []
            if found:
                results[cell_id] = found
            continue
        log(f"== cell {i + 1}/{len(cells)}: {cell_id}")
        # The cells of a study load the same data: one TaskCache serves them all (loading is not free).
        cache = next((c for c in caches if same_data(c.config, config)), None)
        if cache is None:
            cache = TaskCache(config)
            caches.append(cache)
        sweep(config, log=log, command=command, cache=cache)
        results[cell_id] = store.load_results(config.out)
    return results, expected


def ci(values):
    """`stats.describe` of the values that are not None (mean, std, 95% t-interval over seeds)."""
    return stats.describe([v for v in values if v is not None])


def fmt_ci(d, scale=100.0, digits=1, unit=""):
    """'97.1 [96.8, 97.4]' (mean [95% CI]) or '–'."""
    if d is None or d.get("mean") is None:
        return "–"
    text = f"{scale * d['mean']:.{digits}f}{unit}"
    if d.get("ci95"):
        lo, hi = d["ci95"]
        text += f" [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"
    return text


def layer_series(result, epoch, key):
    """Per activation layer (call order), the diagnostic `key` at `epoch` (-1 = at initialization)."""
    for record in result.get("diagnostics") or []:
        if record["epoch"] == epoch:
            return [entry.get(key) for entry in store.ordered_layers(record["layers"]).values() if key in entry]
    return []


def first_epoch_reaching(result, target, key="val_accuracy"):
    """The first epoch (1-based) whose `key` is >= target; None when never reached."""
    for h in result.get("history", []):
        if h.get(key) is not None and h[key] >= target:
            return int(h["epoch"]) + 1
    return None


def seeded(by_seed):
    """`ci()` of `{seed: value}` (None values left out) that keeps the values by seed (string keys, as JSON
    stores them), so that `difference` can pair two such summaries."""
    kept = {str(seed): value for seed, value in sorted(by_seed.items(), key=lambda kv: int(kv[0]))
            if value is not None}
    return {**ci(list(kept.values())), "by_seed": kept}


def with_seeds(summary, runs, activation, key="test_accuracy"):
    """`seeded()` of `key` over the finished runs of `activation` in `runs` (one cell's records, or the scalars
    `results.json` keeps of them), `summary` itself where `runs` has none of them."""
    values = {r["seed"]: r.get(key) for r in runs or () if r["activation"] == activation and r["status"] == "ok"}
    return seeded(values) if any(v is not None for v in values.values()) else summary


def difference(a, b, delta=stats.DELTA, alpha=stats.ALPHA):
    """`a - b` for two `ci()` / `seeded()` summaries: paired by seed (`stats.paired_difference`) where both keep
    their values by seed and share two seeds or more, else Welch's unpaired test from their n, mean and std
    (all a summary stored without its seeds allows; it ignores what the seeds share, so it detects less).
    `test` says which; `stats.adjust` through `adjust` then sets the verdict and the detectable difference."""
    a_seeds, b_seeds = (a or {}).get("by_seed"), (b or {}).get("by_seed")
    if a_seeds and b_seeds and len(set(a_seeds) & set(b_seeds)) >= 2:
        return {"test": "paired", **stats.paired_difference(a_seeds, b_seeds, alpha=alpha, delta=delta)}
    return welch(a, b, delta, alpha)


def welch(a, b, delta=stats.DELTA, alpha=stats.ALPHA):
    """Welch's unpaired comparison of `a - b` from two `ci()` summaries, with the keys of
    `stats.paired_difference` (`n_pairs` 0: nothing is paired) and Welch's `se` and `df`; p is None where either
    side has fewer than two values."""
    a, b = a or {}, b or {}
    na, nb = a.get("n") or 0, b.get("n") or 0
    mean = a["mean"] - b["mean"] if a.get("mean") is not None and b.get("mean") is not None else None
    result = {"test": "welch", "n": [na, nb], "n_pairs": 0, "mean_diff": mean, "ci95": None, "half_width": None,
              "p_value": None, "p_equivalence": None, "delta": delta, "alpha": alpha, "sd": None, "se": None,
              "df": None, "mde": None}
    if na < 2 or nb < 2 or a.get("std") is None or b.get("std") is None:
        return result
    va, vb = a["std"] ** 2 / na, b["std"] ** 2 / nb
    se = math.sqrt(va + vb)
    if se == 0:
        return {**result, "se": 0.0, "df": float(na + nb - 2), "p_value": 1.0 if mean == 0 else 0.0,
                "p_equivalence": 0.0 if abs(mean) < delta else 1.0, "ci95": [mean, mean], "half_width": 0.0}
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    half = float(scipy_stats.t.ppf(1 - alpha / 2, df) * se)
    # Two one-sided tests of equivalence within ±delta, as stats.paired_difference does for pairs.
    p_equivalence = max(scipy_stats.t.sf((mean + delta) / se, df), scipy_stats.t.sf((delta - mean) / se, df))
    return {**result, "se": se, "df": float(df), "ci95": [mean - half, mean + half], "half_width": half,
            "p_value": float(2 * scipy_stats.t.sf(abs(mean) / se, df)), "p_equivalence": float(p_equivalence)}


def adjust(comparisons, alpha=stats.ALPHA):
    """`stats.adjust` over one claim's comparisons (Holm; None entries skipped), then the detectable difference
    of the unpaired ones, as stats computes it for paired ones: (t_{1-a/2} + t_{0.80}) * se at the family's
    Bonferroni level a, with Welch's degrees of freedom."""
    stats.adjust(comparisons, alpha)
    present = [c for c in comparisons if c is not None]
    level = alpha / max(1, sum(c["p_value"] is not None for c in present))
    for c in present:
        if c.get("test") == "welch" and c.get("se") is not None:
            c["mde"] = float((scipy_stats.t.ppf(1 - level / 2, c["df"]) + scipy_stats.t.ppf(stats.POWER, c["df"]))
                             * c["se"])
    return comparisons


OUTCOMES = ("holds", "smaller", "not supported", "inconclusive", "too few seeds")


def outcome(comparison, want="better", size=0.0):
    """How one adjusted comparison bears on a claim that its difference goes the way `want` ("better": a > b,
    "worse": a < b), by at least `size` where the claim names one (in the comparison's units). One of OUTCOMES:

    - "holds": detected that way, the estimate at least `size`;
    - "smaller": detected that way, the estimate short of `size`;
    - "not supported": the comparison could have detected the claim and did not: detected the other way, or
      equivalent within ±delta (without a size), or (with one) an interval short of `size` with a detectable
      difference no larger than `size`;
    - "inconclusive": it could not tell (its `mde` says what it could have detected);
    - "too few seeds".
    """
    word = (comparison or {}).get("verdict") or "too few seeds"
    if word == "too few seeds":
        return word
    sign = 1 if want == "better" else -1
    if word == want:
        return "holds" if sign * comparison["mean_diff"] >= size else "smaller"
    if word not in ("equivalent", "inconclusive"):
        return "not supported"
    if size <= 0:
        return "not supported" if word == "equivalent" else "inconclusive"
    reach = max(sign * x for x in comparison["ci95"])
    mde = comparison.get("mde")
    return "not supported" if reach < size and mde is not None and mde <= size else "inconclusive"


_ALONE = {"holds": "Supported", "smaller": "Partly supported", "not supported": "Not supported here",
          "inconclusive": "Inconclusive", "too few seeds": "Too few seeds to tell"}
_LEAD = {"holds": ("Supported", "supported"), "smaller": ("Partly supported", "partly"),
         "not supported": ("Not supported", "not"), "inconclusive": ("Inconclusive", "inconclusive"),
         "too few seeds": ("Too few seeds", "too few seeds")}


def claim_words(parts, preposition="for"):
    """The bold verdict over the parts of a claim, `[(label, outcome)]` (OUTCOMES): `**Supported**`, `**Not
    supported here**`, `**Inconclusive**`, ... when every part agrees, `**Supported for a, inconclusive for b**`
    otherwise (in the order of OUTCOMES) — the words of `stats.claim_outcome`."""
    groups = {}
    for label, result in parts:
        groups.setdefault(result, []).append(label)
    if len(groups) == 1:
        return f"**{_ALONE[next(iter(groups))]}**"
    ordered = [o for o in OUTCOMES if o in groups]
    return "**" + ", ".join(f"{_LEAD[o][0 if i == 0 else 1]} {preposition} {' and '.join(groups[o])}"
                            for i, o in enumerate(ordered)) + "**"


def how_compared(comparison):
    """Which test a comparison is, in words: "paired over 3 seeds" or "unpaired (Welch), 3 and 3 seeds"."""
    if comparison.get("test") == "welch":
        return "unpaired (Welch), {} and {} seeds".format(*comparison["n"])
    return f"paired over {comparison['n_pairs']} seeds"


def fmt_difference(comparison, scale=100.0, digits=1, unit="points", label=None, detectable_unit=None):
    """A comparison in the claim's units, its difference and interval times `scale` to `digits` places: by default
    accuracies or unit fractions in points, "+77.6 [+74.9, +80.3] points, better (detectable: 4.3 points; unpaired
    (Welch), 3 and 3 seeds)", the verdict in `stats.verdict_text`'s words. `label` follows the interval (default
    `unit`), `detectable_unit` the detectable difference (default " " + `unit`; "" for none); the language studies'
    `bits.fmt_saved` is this function in bits per byte."""
    c = comparison or {}
    if c.get("ci95") is None:
        return "too few seeds to compare"
    lo, hi = c["ci95"]
    tail = f" {unit}" if detectable_unit is None else detectable_unit
    could = "" if c["verdict"] == "inconclusive" else f"detectable: {detectable(c, scale, tail, digits)}; "
    return (f"{scale * c['mean_diff']:+.{digits}f} [{scale * lo:+.{digits}f}, {scale * hi:+.{digits}f}] "
            f"{unit if label is None else label}, {stats.verdict_text(c, scale, unit)} ({could}{how_compared(c)})")


def detectable(comparison, scale=100.0, unit=" points", digits=1):
    """The difference `comparison` could detect (its `mde`) in the claim's units, or "not computable" (fewer
    than two seeds on a side)."""
    mde = (comparison or {}).get("mde")
    return "not computable" if mde is None else f"{scale * mde:.{digits}f}{unit}"


def by_activation(results):
    """{activation label: [results, in seed order]}, in the order first met."""
    grouped = {}
    for r in sorted(results, key=lambda r: r["seed"]):
        grouped.setdefault(r["activation"], []).append(r)
    return grouped


def save_figure(fig, path):
    """`relu_zoo.run.plots.save_figure` at the studies' resolution (100 dpi)."""
    plots.save_figure(fig, path, dpi=100)


def errorbar(ax, xs, summaries, label, scale=100.0, **kwargs):
    """Means with 95% CI error bars, from `ci()` summaries (points without a mean are skipped)."""
    points = [(x, d) for x, d in zip(xs, summaries) if d and d.get("mean") is not None]
    if not points:
        return
    x = [p[0] for p in points]
    mean = np.array([scale * d["mean"] for _, d in points])
    lo = np.array([scale * (d["ci95"][0] if d.get("ci95") else d["mean"]) for _, d in points])
    hi = np.array([scale * (d["ci95"][1] if d.get("ci95") else d["mean"]) for _, d in points])
    ax.errorbar(x, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=label, **kwargs)


def compact(result):
    """The scalars of a run that a study's results.json keeps (its full record stays in the work folder); the
    scalars themselves where `result` is already those."""
    history = result.get("history")
    return {"run_id": result["run_id"], "activation": result["activation"], "seed": result["seed"],
            "status": result["status"], "diverged_epoch": result.get("diverged_epoch"),
            "test_accuracy": result["test_accuracy"],
            # A language task's runs are compared by bits per byte (relu_zoo.run.metrics); others hold none.
            **({"test_bits_per_byte": result["test_bits_per_byte"]} if "test_bits_per_byte" in result else {}),
            "val_accuracy": [h.get("val_accuracy") for h in history] if history is not None
            else result.get("val_accuracy", []),
            "mean_epoch_time": result.get("mean_epoch_time")}


def restate(module, name, dest):
    """Recomputes the comparisons and verdict of the study stored in `dest` from its results.json alone (the
    analysis and the runs' scalars), training and reading nothing else, and rewrites its results.json and
    README.md; they keep the command, the run counts and the versions of the runs, the figures stay as they are.
    Returns README.md."""
    dest = Path(dest)
    stored = json.loads((dest / "results.json").read_text())
    analysis = stored["analysis"]
    analysis["comparisons"] = module.compare(analysis, stored["runs"])
    return write_outputs(module, name, analysis, stored["runs"], dest, stored["command"], stored["quick"],
                         stored.get("expected_runs", 0), versions=stored.get("versions"), redraw=False)


STATISTICS = ("- Comparisons: paired t-tests over the seeds two cells share, or Welch's unpaired test where the "
              "analysis kept no per-seed values; Holm-adjusted within each part of the claim; each is better / "
              "worse, equivalent within ±δ (two one-sided tests) or inconclusive, with the smallest difference it "
              "could detect (80% power at these seeds). A claim is \"not supported here\" only where its "
              "comparisons could have detected it.")


def write_outputs(module, name, analysis, results, dest, command, quick, expected=0, versions=None, redraw=True):
    """results.json, figures/*.png and README.md into `dest`, each written atomically. With fewer finished
    runs than the grid's `expected` (a `--report-only` of an unfinished study) both say so. `versions`: those
    of the runs (default: this process's). `redraw=False` keeps the figures in `dest` as they are (an analysis
    read back from results.json has its keys sorted, which would reorder their series)."""
    dest = Path(dest)
    finished = sum(len(rs) for rs in results.values())
    with tempfile.TemporaryDirectory() as scratch:
        made = module.figures(analysis, dest / "figures" if redraw else Path(scratch))
    verdict = module.verdict(analysis)
    store.atomic_write_json(dest / "results.json", {
        "study": name, "claim": module.CLAIM, "verdict": verdict, "command": command, "quick": quick,
        "finished_runs": finished, "expected_runs": expected,
        "versions": versions or store.versions(), "analysis": analysis,
        "runs": {cell: [compact(r) for r in rs] for cell, rs in results.items()},
    })
    lines = [f"# {module.TITLE}", "", f"Claim tested: {module.CLAIM}", "", "Re-run (resumable):", "", "```",
             command, "```", ""]
    if quick:
        lines += ["**--quick run: a few hundred examples, numbers are not evidence.**", ""]
    if finished < expected:
        lines += [f"**Partial: {finished} of the grid's {expected} runs had finished when this was written.** "
                  "Cells and activations without runs are missing below; the command above completes the "
                  "study (finished runs are kept).", ""]
    lines += ["## Finding", "", verdict, "", *module.findings(analysis), "", "## Setup", "", *module.setup(quick),
              STATISTICS, ""]
    lines += ["## Figures", ""]
    for title, filename in made:
        lines += [f"### {title}", "", f"![{title}](figures/{filename})", ""]
    lines += ["`results.json`: the analysis (every number above, with n, std and 95% t-intervals over seeds, and "
              "each comparison with its test, verdict and detectable difference) and each run's scalars; the full "
              "run records are in the work folder.", ""]
    store.atomic_write_text(dest / "README.md", "\n".join(lines))
    return dest / "README.md"


# tanh and sigmoid are registered once for every command (relu_zoo.classics): these names stay for one release.
__getattr__ = _deprecation.moved(__name__, {"Sigmoid": "relu_zoo.classics.Sigmoid", "Tanh": "relu_zoo.classics.Tanh",
                                            "baseline_activations": "contextlib.nullcontext"})

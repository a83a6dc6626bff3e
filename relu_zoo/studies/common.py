"""What every study shares: its grid of sweeps run through the resumable runner, seed statistics, and the
atomic writing of `results.json`, figures and `README.md`.

A study is a module with:

- `TITLE`, `CLAIM`: what it measures and the claim it tests;
- `cells(quick)`: its grid, `[(cell_id, overrides)]`; each cell is one sweep of `relu_zoo.run.sweep`
  (overrides on top of `BASE`), trained into `<work>/<cell_id>/`, so an interrupted study resumes where it
  stopped (finished runs are skipped, a run killed mid-training resumes from its last epoch);
- `analyze(results, quick, work)`: a pure function of the runs' records (`{cell_id: [result, ...]}`) to a
  JSON-able dict (and of anything the study measures without training, cached in `work`);
- `figures(analysis, dest)`: PNGs into `dest`, returns `[(title, filename)]`;
- `findings(analysis)`: the finding, as Markdown lines with numbers taken from `analysis`;
- `verdict(analysis)`: the finding in one Markdown line, a bold verdict (`**Supported**`, `**Not supported
  here**`, ...) and its key numbers, computed from `analysis` as `findings` is (the claims table of the docs
  calls it on each stored analysis, so a stored study needs no rerun for it);
- optionally `SHORT_CLAIM`: the claim as that table names it, where `CLAIM` is longer.
"""

import contextlib
from pathlib import Path

import keras
import numpy as np

from relu_zoo.registry import ACTIVATIONS
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


class Sigmoid(keras.layers.Activation):
    """The logistic sigmoid as a layer, a baseline the vanishing-gradient claim compares against."""

    def __init__(self, **kwargs):
        kwargs.pop("activation", None)
        super().__init__("sigmoid", **kwargs)


class Tanh(keras.layers.Activation):
    """tanh as a layer, a baseline the vanishing-gradient claim compares against."""

    def __init__(self, **kwargs):
        kwargs.pop("activation", None)
        super().__init__("tanh", **kwargs)


BASELINES = {"sigmoid": Sigmoid, "tanh": Tanh}


@contextlib.contextmanager
def baseline_activations():
    """Registers `sigmoid` and `tanh` while a study runs and removes them after.

    They are not ReLU-family layers, so the zoo does not ship them (its registry-wide layer tests would need
    them otherwise); the studies need them as the saturating baselines of the claims."""
    added = [name for name in BASELINES if name not in ACTIVATIONS]
    for name in added:
        ACTIVATIONS.register(name, BASELINES[name])
    try:
        yield
    finally:
        for name in added:
            ACTIVATIONS.remove(name)


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


def above(a, b):
    """Whether `ci()` summary `a`'s 95% interval lies wholly above `b`'s (False when either has none)."""
    lo, hi = (a or {}).get("ci95"), (b or {}).get("ci95")
    return bool(lo and hi and lo[0] > hi[1])


def verdict_words(supported, refuted, preposition="for"):
    """The bold verdict over the parts of a claim: `**Supported**` when every part holds, `**Not supported
    here**` when none does, `**Supported for a, not for b**` otherwise (labels of the parts that hold and of
    those that do not)."""
    if not refuted:
        return "**Supported**"
    if not supported:
        return "**Not supported here**"
    return f"**Supported {preposition} {' and '.join(supported)}, not {preposition} {' and '.join(refuted)}**"


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
    """The scalars of a run that a study's results.json keeps (its full record stays in the work folder)."""
    return {"run_id": result["run_id"], "activation": result["activation"], "seed": result["seed"],
            "status": result["status"], "diverged_epoch": result.get("diverged_epoch"),
            "test_accuracy": result["test_accuracy"],
            "val_accuracy": [h.get("val_accuracy") for h in result.get("history", [])],
            "mean_epoch_time": result.get("mean_epoch_time")}


def write_outputs(module, name, analysis, results, dest, command, quick, expected=0):
    """results.json, figures/*.png and README.md into `dest`, each written atomically. With fewer finished
    runs than the grid's `expected` (a `--report-only` of an unfinished study) both say so."""
    dest = Path(dest)
    finished = sum(len(rs) for rs in results.values())
    made = module.figures(analysis, dest / "figures")
    verdict = module.verdict(analysis)
    store.atomic_write_json(dest / "results.json", {
        "study": name, "claim": module.CLAIM, "verdict": verdict, "command": command, "quick": quick,
        "finished_runs": finished, "expected_runs": expected,
        "versions": store.versions(), "analysis": analysis,
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
    lines += ["## Finding", "", verdict, "", *module.findings(analysis), "", "## Setup", "", *module.setup(quick), ""]
    lines += ["## Figures", ""]
    for title, filename in made:
        lines += [f"### {title}", "", f"![{title}](figures/{filename})", ""]
    lines += ["`results.json`: the analysis (every number above, with n, std and 95% t-intervals over seeds) and "
              "each run's scalars; the full run records are in the work folder.", ""]
    store.atomic_write_text(dest / "README.md", "\n".join(lines))
    return dest / "README.md"

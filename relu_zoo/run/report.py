"""The comparison report: results.json/.csv, summary.md with honest statistics, and plots.

The report is a pure function of the finished runs' result files, so a
resumed sweep, or shards merged from several folders, give the same report
as one uninterrupted run (wall-clock timings aside).
"""

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.diagnostics import unit_fractions
from relu_zoo.run import metrics, plots, stats
from relu_zoo.run.store import atomic_write_json, atomic_write_text, final_layers, load_results

CSV_FIELDS = ["run_id", "task", "model", "activation", "seed", "status", "diverged_epoch", "epochs",
              "test_accuracy", "test_loss", "metric", "test_bits_per_byte", "val_accuracy", "params",
              "mean_epoch_time", "peak_memory_mb", "final_never_active_fraction", "final_dead_fraction"]


def _final_mean(result, which):
    values = [unit_fractions(v)[which] for v in final_layers(result).values()]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def final_never_active_fraction(result):
    """Mean over probed activation layers of the fraction of units never > 0 on the probe batch after the last
    epoch (None if not recorded). Runs recorded before the metrics were split stored this as `dead_fraction`."""
    return _final_mean(result, 0)


def final_dead_fraction(result):
    """Mean over probed activation layers of the fraction of dead units (d out / d in = 0 at every probe input)
    after the last epoch; None if unknown (runs recorded before the metric existed)."""
    return _final_mean(result, 1)


def stored_or_finished(out):
    """A folder's finished runs: its `runs/*/result.json`, or where it has none, the runs of the report stored
    in it (`results.json`), so that a stored report is rebuilt from its own records without training."""
    results = load_results(out)
    stored = Path(out) / "results.json"
    if not results and not (Path(out) / "runs").is_dir() and stored.is_file():
        runs = json.loads(stored.read_text()).get("runs")
        if isinstance(runs, list) and all(isinstance(r, dict) and "run_id" in r for r in runs):
            return runs
    return results


def collect(out_dirs):
    """Finished results from one or more output folders (or stored reports, see `stored_or_finished`); the same
    run in two folders is an error."""
    by_id = {}
    for out in out_dirs:
        for result in stored_or_finished(out):
            if result["run_id"] in by_id and by_id[result["run_id"]]["test_accuracy"] != result["test_accuracy"]:
                backends = sorted({r.get("backend", "tensorflow") for r in (by_id[result["run_id"]], result)})
                if len(backends) > 1:
                    # A run is one task, model, activation and seed whatever the backend: a report holds one.
                    raise ValueError(f"Run {result['run_id']} appears in two folders, trained on "
                                     f"{' and '.join(backends)}; a report holds one run of each task, model, "
                                     "activation and seed. Merge folders of different runs, or report each "
                                     "backend's folder on its own.")
                raise ValueError(f"Run {result['run_id']} appears in two folders with different results; "
                                 "were they made with different configs?")
            by_id[result["run_id"]] = result
    return [by_id[k] for k in sorted(by_id)]


def group_order(results, config=None):
    """(task, model) groups and the activation order (config order: the first is the baseline)."""
    groups = defaultdict(list)
    for r in results:
        groups[(r["task"], r["model"])].append(r)
    order = []
    if config is not None:
        order = [ActivationSpec.parse(a).label for a in config.activations]
    else:
        # Without a config the stored sweep config (in every result) gives the order.
        for r in results:
            for spec in r.get("config", {}).get("activations", []):
                label = ActivationSpec.parse(spec).label
                if label not in order:
                    order.append(label)
    for r in results:
        if r["activation"] not in order:
            order.append(r["activation"])
    return groups, order


def design(results, config=None):
    """The sweep configuration that planned `results`' seeds: `config` when given, else the stored one of a
    record trained under `--target-ci` (a protocol's restored baselines were not, and plan nothing), else any."""
    if config is not None:
        return config
    stored = [r["config"] for r in results if r.get("config")]
    return next((c for c in stored if c.get("target_ci") is not None), stored[0] if stored else None)


def comparison_alpha(results, config=None):
    """The two-sided level each interval is computed at: 0.05, or what a `--target-ci` design spends per look
    (relu_zoo.run.sequential), from `config` or else from the sweep configuration stored in the records."""
    from relu_zoo.run import sequential

    return sequential.alpha_per_look(design(results, config))


def summarize(results, config=None, timed_together=True):
    """Per (task, model) and activation: accuracy/loss statistics, paired comparison to the baseline, with the
    three-way verdict of `stats` (better / worse / equivalent / inconclusive with the detectable difference).

    `timed_together=False`: the runs were not timed in one sweep (e.g. stored baselines from another session),
    so no epoch-time ratio is given."""
    groups, order = group_order(results, config)
    summary = []
    for (task, model), runs in sorted(groups.items()):
        # Per group: the cells of a protocol comparison each plan their own looks.
        alpha = comparison_alpha(runs, config)
        # What the group is compared by: accuracy, or the task's own metric (bits per byte: lower is better).
        metric = metrics.of_results(runs)
        by_act = defaultdict(dict)
        for r in runs:
            by_act[r["activation"]][r["seed"]] = r
        present = [a for a in order if a in by_act]
        baseline = present[0]
        rows = []
        for act in present:
            seeds = by_act[act]
            ok = {s: r for s, r in seeds.items() if r["status"] == "ok"}
            acc = {s: r["test_accuracy"] for s, r in ok.items()}
            score = {s: metric.value(r) for s, r in ok.items()}
            loss = {s: r["test_loss"] for s, r in ok.items()}
            base_ok = {s: r for s, r in by_act[baseline].items() if r["status"] == "ok"}
            base_times = [r["mean_epoch_time"] for r in by_act[baseline].values() if r.get("mean_epoch_time")]
            times = [r["mean_epoch_time"] for r in seeds.values() if r.get("mean_epoch_time")]
            dead = [d for d in map(final_dead_fraction, ok.values()) if d is not None]
            never = [d for d in map(final_never_active_fraction, ok.values()) if d is not None]
            row = {
                "activation": act,
                "runs": len(seeds),
                "diverged": sorted(s for s, r in seeds.items() if r["status"] == "diverged"),
                "accuracy": stats.describe(list(acc.values()), alpha),
                "score": stats.describe(list(score.values()), alpha),
                "loss": stats.describe(list(loss.values())),
                "params": next(iter(seeds.values()))["params"],
                "time_ratio": (float(np.mean(times) / np.mean(base_times))
                               if timed_together and times and base_times else None),
                "mean_epoch_time": float(np.mean(times)) if times else None,
                "never_active_fraction": float(np.mean(never)) if never else None,
                "dead_fraction": float(np.mean(dead)) if dead else None,
            }
            if act != baseline:
                row["vs_baseline"] = stats.paired_difference(
                    score, {s: metric.value(r) for s, r in base_ok.items()}, alpha, metric.delta,
                    lower_is_better=not metric.higher_is_better)
            rows.append(row)
        stats.adjust([r.get("vs_baseline") for r in rows], alpha)
        summary.append({"task": task, "model": model, "baseline": baseline, "metric": metric.name, "rows": rows})
    return summary


def _pct(x):
    return "–" if x is None else f"{100 * x:.2f}"


def _fmt_acc(d):
    if d["mean"] is None:
        return "–"
    if d["std"] is None:
        return f"{100 * d['mean']:.2f} (n=1)"
    lo, hi = d["ci95"]
    return f"{100 * d['mean']:.2f} ± {100 * d['std']:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"


def _fmt_loss(d):
    if d["mean"] is None:
        return "–"
    return f"{d['mean']:.4f}" + ("" if d["std"] is None else f" ± {d['std']:.4f}")


def _fmt_score(d, metric):
    """The group's metric over seeds: accuracy as `_fmt_acc`, others as mean ± std [95% t-interval]."""
    if metric is metrics.ACCURACY or d["mean"] is None:
        return _fmt_acc(d)
    if d["std"] is None:
        return f"{metric.fmt(d['mean'])} (n=1)"
    lo, hi = d["ci95"]
    return f"{metric.fmt(d['mean'])} ± {metric.fmt(d['std'])} [{metric.fmt(lo)}, {metric.fmt(hi)}]"


def _group_metric(group):
    return metrics.METRICS[group.get("metric", metrics.ACCURACY.name)]


def _fmt_diff(row, metric=metrics.ACCURACY):
    """(Δ with its interval, the paired test and verdict, P(A > B), the arms' correlation) as table cells."""
    cmp = row.get("vs_baseline")
    if cmp is None:
        return "baseline", "", "", ""
    if cmp["mean_diff"] is None or cmp["p_value"] is None:
        diff = metric.fmt(cmp["mean_diff"], sign=True)
        return diff, "too few seeds", "", ""
    lo, hi = cmp["ci95"]
    diff = f"{metric.fmt(cmp['mean_diff'], True)} [{metric.fmt(lo, True)}, {metric.fmt(hi, True)}]"
    words = stats.verdict_text(cmp, metric.scale, metric.unit)
    test = f"p={cmp['p_value']:.3g}, Holm {cmp['p_adjusted']:.3g} — " + (
        f"**{words}**" if cmp["verdict"] in ("better", "worse") else words)
    p_lo, p_hi = cmp["prob_improvement_ci95"]
    improvement = f"{cmp['prob_improvement']:.2f} [{p_lo:.2f}, {p_hi:.2f}]"
    correlation = "–" if cmp.get("correlation") is None else f"{cmp['correlation']:+.2f}"
    return diff, test, improvement, correlation


TIME_NOTE = ("† Mean epoch time of the activation's runs over the baseline's. The runs were trained one after "
             "another, not interleaved, so the ratio moves with whatever else the machine did meanwhile: identical "
             "sweeps on a loaded machine can differ by a factor of two. Read it as a rough note, not as a speed "
             "measurement; `python benchmarks/training.py speed` times the models' epochs interleaved, under the "
             "same load. – where the baseline's runs were not trained in this sweep (stored baselines): they were "
             "timed in another session, perhaps on another machine.")


def backend_lines(results):
    """A paragraph when the runs were trained on more than one Keras backend (records name theirs; older records,
    without the key, were all trained on TensorFlow); none otherwise."""
    counts = {}
    for r in results:
        backend = r.get("backend", "tensorflow")
        counts[backend] = counts.get(backend, 0) + 1
    if len(counts) < 2:
        return []
    each = ", ".join(f"{backend} ({n} runs)" for backend, n in sorted(counts.items()))
    return [f"**Mixed Keras backends:** {each}. A seed draws other initial weights, dropout masks and random "
            "slopes on each backend, and each backend's kernels round differently: a Δ between activations "
            "trained on different backends holds the backends' difference too. Compare runs of one backend "
            "(`results.json` names each run's `backend`).", ""]


def sequential_lines(results, config=None):
    """The `--target-ci` paragraph (relu_zoo.run.sequential) of each (task, model) group trained under that
    design, from `config` or from the sweep configuration its records hold, so that a rebuilt report keeps it."""
    import types

    from relu_zoo.run import sequential

    lines = []
    groups, _ = group_order(results, config)
    for (task, model), runs in sorted(groups.items()):
        settings = design(runs, config)
        if isinstance(settings, dict):
            settings = types.SimpleNamespace(**settings)
        if settings is None or getattr(settings, "target_ci", None) is None:
            continue
        record = sequential.progress(runs, settings)
        if record["seen"]:
            lines += [(f"{task} · {model}: " if len(groups) > 1 else "") + sequential.markdown(record), ""]
    return lines


def render_markdown(summary, results, plots, command=None, sequential=()):
    lines = ["# Activation comparison", ""]
    if command:
        lines += ["Produced by:", "", "```", command, "```", ""]
    n_runs = len(results)
    n_div = sum(r["status"] == "diverged" for r in results)
    lines += [f"{n_runs} runs ({n_div} diverged). Accuracy in %: mean ± std over seeds [95% t-interval]. "
              "Δ is the paired difference to the baseline (first activation) over the same seeds [95% t-interval], "
              "tested with a paired t-test; p-values are Holm-corrected for the number of activations compared. "
              "The verdict is **better** / **worse** (the paired test), **equivalent within ±δ** (two one-sided "
              f"tests, δ = {100 * stats.DELTA:.1f} points, Holm-corrected) or **inconclusive: could not detect less "
              "than X points**, X being the difference the paired test would detect with 80% power at these seeds "
              "and this spread: an inconclusive row is a statement about the evidence, not a tie. P(A > B) is the "
              "share of seeds on which the activation beats the baseline [Wilson 95% interval]; r is the "
              "correlation of the two arms over seeds (positive: the pairing removes shared noise). Units (channels of an activation layer's output) after the last "
              "epoch, on the probe batch, mean over layers and seeds: **never active** = output never > 0; **dead** = "
              "d out / d in of the activation is 0 at every probe input (no gradient passes; for relu the two "
              "coincide, a leaky or ELU unit can be never active but is not dead). – = not recorded.", ""]
    lines += backend_lines(results)
    lines += list(sequential)
    for group in summary:
        metric = _group_metric(group)
        heading, delta = (("test accuracy %", "Δ acc (pts)") if metric is metrics.ACCURACY else
                          (f"{metric.title} (lower is better)" if not metric.higher_is_better else metric.title,
                           f"Δ ({metric.unit})"))
        lines += [f"## {group['task']} · {group['model']} (baseline: {group['baseline']})", "",
                  f"| activation | runs | {heading} | test loss | {delta} | paired test and verdict | "
                  "P(A > B) | r | time/epoch vs baseline † | never-active units (final) | dead units (final) | params |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in group["rows"]:
            diff, test, improvement, correlation = _fmt_diff(row, metric)
            runs = f"{row['runs']}" + (f" ({len(row['diverged'])} diverged)" if row["diverged"] else "")
            ratio = "–" if row["time_ratio"] is None else f"{row['time_ratio']:.2f}×"
            never = "–" if row.get("never_active_fraction") is None else f"{100 * row['never_active_fraction']:.1f}%"
            dead = "–" if row["dead_fraction"] is None else f"{100 * row['dead_fraction']:.1f}%"
            lines.append(f"| {row['activation']} | {runs} | {_fmt_score(row.get('score', row['accuracy']), metric)} "
                         f"| {_fmt_loss(row['loss'])} "
                         f"| {diff} | {test} | {improvement} | {correlation} | {ratio} | {never} | {dead} "
                         f"| {row['params']:,} |")
        lines += ["", TIME_NOTE, "", *verdict_lines(group), ""]
    if plots:
        lines += ["## Plots", ""]
        for title, name, note in plots:
            lines += [f"### {title}", ""] + ([f"![{title}](plots/{name})", ""] if name else []) + (
                [note, ""] if note else [])
    lines += ["Files: `results.json` and `results.csv` (every run), `runs/<run_id>/` (history.csv, "
              "diagnostics.json, TensorBoard logs).", ""]
    return "\n".join(lines)


def verdict_lines(group):
    """The group's verdicts in sentences: what differs, what is equivalent, and how small a difference the
    comparison could have detected where it could tell neither."""
    by_verdict = {}
    for row in group["rows"]:
        cmp = row.get("vs_baseline")
        if cmp is not None:
            by_verdict.setdefault(cmp.get("verdict") or "too few seeds", []).append((row["activation"], cmp))
    base = group["baseline"]
    metric = _group_metric(group)
    names = lambda verdict: ", ".join(a for a, _ in by_verdict.get(verdict, []))  # noqa: E731
    lines = []
    if "better" in by_verdict:
        lines.append(f"Better than {base} (Holm-adjusted p < 0.05): {names('better')}.")
    if "worse" in by_verdict:
        lines.append(f"Worse than {base}: {names('worse')}.")
    if "equivalent" in by_verdict:
        delta = by_verdict["equivalent"][0][1]["delta"]
        lines.append(f"Equivalent to {base} within ±{metric.scale * delta:.{metric.digits}f} {metric.unit}: "
                     f"{names('equivalent')}.")
    if "inconclusive" in by_verdict:
        each = ", ".join(a + ("" if c.get("mde") is None else f" ({metric.fmt(c['mde'])})")
                         for a, c in by_verdict["inconclusive"])
        lines.append(f"Inconclusive: {each}. At these seeds each comparison could not detect a difference smaller "
                     f"than the {metric.unit} in brackets (80% power); more seeds (`--target-ci`) narrow it.")
    if "too few seeds" in by_verdict:
        lines.append(f"Too few paired seeds to compare: {names('too few seeds')}.")
    if by_verdict and not {"better", "worse"} & set(by_verdict):
        lines.append(f"No activation differs detectably from {base}: the table does not support a ranking.")
    return lines


def results_csv(results):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in results:
        writer.writerow({**r, "final_never_active_fraction": final_never_active_fraction(r),
                         "final_dead_fraction": final_dead_fraction(r)})
    return buffer.getvalue()


def write_report(out_dirs, dest, config=None, command=None, timed_together=True):
    """Writes results.json, results.csv, summary.md and plots/ into `dest`; returns the summary.md path.
    `timed_together`: as for `summarize`."""
    dest = Path(dest)
    results = collect(out_dirs)
    if not results:
        raise ValueError(f"No finished runs in {', '.join(map(str, out_dirs))}: nothing to report.")
    summary = summarize(results, config, timed_together)
    if command is None:
        # Rebuilt or merged reports name the sweep command(s) that produced the runs.
        command = "\n".join(dict.fromkeys(r["command"] for r in results if r.get("command"))) or None
    atomic_write_json(dest / "results.json", {"runs": results, "summary": summary})
    atomic_write_text(dest / "results.csv", results_csv(results))
    made = plots.make_all(results, summary, dest / "plots")
    atomic_write_text(dest / "summary.md",
                      render_markdown(summary, results, made, command, sequential_lines(results, config)))
    return dest / "summary.md"


def short_table(out_dir):
    """A plain-text table of the summary for the terminal."""
    lines = []
    for group in load_summary(out_dir):
        metric = _group_metric(group)
        name = "acc" if metric is metrics.ACCURACY else metric.name.replace("_", " ")
        lines.append(f"{group['task']} / {group['model']}  (baseline {group['baseline']})")
        for row in group["rows"]:
            diff, test, _, _ = _fmt_diff(row, metric)
            lines.append(f"  {row['activation']:<28} {name} {_fmt_score(row.get('score', row['accuracy']), metric):<34} "
                         f"{diff:>9}  "
                         f"{test.replace('**', '')}")
    return "\n".join(lines)


def load_summary(out_dir):
    return json.loads((Path(out_dir) / "results.json").read_text())["summary"]

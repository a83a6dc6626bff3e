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

from relu_zoo.diagnostics import unit_fractions
from relu_zoo.run import plots, stats
from relu_zoo.run.spec import activation_label
from relu_zoo.run.store import atomic_write_json, atomic_write_text, final_layers, load_results

CSV_FIELDS = ["run_id", "task", "model", "activation", "seed", "status", "diverged_epoch", "epochs",
              "test_accuracy", "test_loss", "val_accuracy", "params", "mean_epoch_time", "peak_memory_mb",
              "final_never_active_fraction", "final_dead_fraction"]


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


def collect(out_dirs):
    """Finished results from one or more output folders; the same run in two folders is an error."""
    by_id = {}
    for out in out_dirs:
        for result in load_results(out):
            if result["run_id"] in by_id and by_id[result["run_id"]]["test_accuracy"] != result["test_accuracy"]:
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
        order = [activation_label(a) for a in config.activations]
    else:
        # Without a config the stored sweep config (in every result) gives the order.
        for r in results:
            for spec in r.get("config", {}).get("activations", []):
                label = activation_label(spec)
                if label not in order:
                    order.append(label)
    for r in results:
        if r["activation"] not in order:
            order.append(r["activation"])
    return groups, order


def summarize(results, config=None, timed_together=True):
    """Per (task, model) and activation: accuracy/loss statistics, paired comparison to the baseline.

    `timed_together=False`: the runs were not timed in one sweep (e.g. stored baselines from another session),
    so no epoch-time ratio is given."""
    groups, order = group_order(results, config)
    summary = []
    for (task, model), runs in sorted(groups.items()):
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
                "accuracy": stats.describe(list(acc.values())),
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
                    acc, {s: r["test_accuracy"] for s, r in base_ok.items()})
            rows.append(row)
        stats.adjust([r.get("vs_baseline") for r in rows])
        summary.append({"task": task, "model": model, "baseline": baseline, "rows": rows})
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


def _fmt_diff(row):
    cmp = row.get("vs_baseline")
    if cmp is None:
        return "baseline", ""
    if cmp["mean_diff"] is None:
        return "–", "too few seeds"
    diff = f"{100 * cmp['mean_diff']:+.2f}"
    if cmp["p_value"] is None:
        return diff, "too few seeds"
    p = f"p={cmp['p_value']:.3g}, Holm {cmp['p_adjusted']:.3g}"
    verdict = cmp["verdict"]
    return diff, (f"{p} — **{verdict}**" if verdict in ("better", "worse") else f"{p} — {verdict}")


TIME_NOTE = ("† Mean epoch time of the activation's runs over the baseline's. The runs were trained one after "
             "another, not interleaved, so the ratio moves with whatever else the machine did meanwhile: identical "
             "sweeps on a loaded machine can differ by a factor of two. Read it as a rough note, not as a speed "
             "measurement; `python benchmarks/training.py speed` times the models' epochs interleaved, under the "
             "same load. – where the baseline's runs were not trained in this sweep (stored baselines): they were "
             "timed in another session, perhaps on another machine.")


def render_markdown(summary, results, plots, command=None):
    lines = ["# Activation comparison", ""]
    if command:
        lines += ["Produced by:", "", "```", command, "```", ""]
    n_runs = len(results)
    n_div = sum(r["status"] == "diverged" for r in results)
    lines += [f"{n_runs} runs ({n_div} diverged). Accuracy in %: mean ± std over seeds [95% t-interval]. "
              "Δ is the paired difference to the baseline (first activation) over the same seeds, tested with "
              "a paired t-test; p-values are Holm-corrected for the number of activations compared. "
              "With few seeds, small differences are expected to be **not significant**: that is a statement "
              "about the evidence, not a tie. Units (channels of an activation layer's output) after the last "
              "epoch, on the probe batch, mean over layers and seeds: **never active** = output never > 0; **dead** = "
              "d out / d in of the activation is 0 at every probe input (no gradient passes; for relu the two "
              "coincide, a leaky or ELU unit can be never active but is not dead). – = not recorded.", ""]
    for group in summary:
        lines += [f"## {group['task']} · {group['model']} (baseline: {group['baseline']})", "",
                  "| activation | runs | test accuracy % | test loss | Δ acc (pts) | paired test | time/epoch vs "
                  "baseline † | never-active units (final) | dead units (final) | params |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for row in group["rows"]:
            diff, test = _fmt_diff(row)
            runs = f"{row['runs']}" + (f" ({len(row['diverged'])} diverged)" if row["diverged"] else "")
            ratio = "–" if row["time_ratio"] is None else f"{row['time_ratio']:.2f}×"
            never = "–" if row.get("never_active_fraction") is None else f"{100 * row['never_active_fraction']:.1f}%"
            dead = "–" if row["dead_fraction"] is None else f"{100 * row['dead_fraction']:.1f}%"
            lines.append(f"| {row['activation']} | {runs} | {_fmt_acc(row['accuracy'])} | {_fmt_loss(row['loss'])} "
                         f"| {diff} | {test} | {ratio} | {never} | {dead} | {row['params']:,} |")
        better = [r["activation"] for r in group["rows"] if r.get("vs_baseline", {}).get("verdict") == "better"]
        worse = [r["activation"] for r in group["rows"] if r.get("vs_baseline", {}).get("verdict") == "worse"]
        lines += ["", TIME_NOTE, ""]
        if better or worse:
            if better:
                lines.append(f"Significantly better than {group['baseline']} (Holm-adjusted p < 0.05): "
                             f"{', '.join(better)}.")
            if worse:
                lines.append(f"Significantly worse than {group['baseline']}: {', '.join(worse)}.")
            lines.append("Every other activation is statistically indistinguishable from the baseline here.")
        else:
            lines.append(f"No activation differs significantly from {group['baseline']} at this number of seeds; "
                         "the table does not support a ranking.")
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        for title, name, note in plots:
            lines += [f"### {title}", ""] + ([f"![{title}](plots/{name})", ""] if name else []) + (
                [note, ""] if note else [])
    lines += ["Files: `results.json` and `results.csv` (every run), `runs/<run_id>/` (history.csv, "
              "diagnostics.json, TensorBoard logs).", ""]
    return "\n".join(lines)


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
    atomic_write_text(dest / "summary.md", render_markdown(summary, results, made, command))
    return dest / "summary.md"


def short_table(out_dir):
    """A plain-text table of the summary for the terminal."""
    lines = []
    for group in load_summary(out_dir):
        lines.append(f"{group['task']} / {group['model']}  (baseline {group['baseline']})")
        for row in group["rows"]:
            diff, test = _fmt_diff(row)
            lines.append(f"  {row['activation']:<28} acc {_fmt_acc(row['accuracy']):<34} {diff:>9}  "
                         f"{test.replace('**', '')}")
    return "\n".join(lines)


def load_summary(out_dir):
    return json.loads((Path(out_dir) / "results.json").read_text())["summary"]

"""The standard protocol's cost per activation, and the README's example comparison: a plug-in activation from a
file outside the package, compared against the stored baselines in one command.

    python benchmarks/standard_protocol.py run [--activation my_acts:swish2]
    python benchmarks/standard_protocol.py baselines [--cells spoken_digit_cnn,imdb_transformer] \
        [--joining squared_relu,star_relu]   # resumable
    python benchmarks/standard_protocol.py report

`run` copies `reports/standard/example/my_acts.py` into a fresh folder and times, from there,
`relu-zoo compare ACTIVATION --protocol standard` as a user meets it (process start, imports, data loading,
every run of the new activation, the report). It adds the timing (with the CPU, its flags, the load average
before it and each cell's training seconds) to `timings.json`, and stores the comparison's report
(`summary.md`, `results.json`, `plots/`) in `reports/standard/example/`. A timing counts only when every
baseline run came from the stored records, i.e. only the new activation trained. `report` writes
`reports/standard/README.md` from `timings.json` and, from the stored records, each cell's precision (the
widest paired half-width of its baselines) and cost per new activation. `baselines` trains the baseline runs the
cells lack (all cells, or those named, in that order) into `runs/standard_baselines`, copying each finished
run's record into `reports/standard/records/` as it lands, so that a long session keeps what it finished;
`--joining` trains activations beside them that are to join the baselines (comparisons and the precision report
use them once `relu_zoo/protocols/standard.yaml` lists them, so no user trains a half-stored baseline). The
15-minute target per activation on a 2-core AVX2 CPU was set for the earlier 3-seed protocol; the report states
what the protocol sized for ±0.5 points costs.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if not __package__:  # `python benchmarks/standard_protocol.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting  # noqa: E402
from benchmarks.default_run import store_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEST = REPO / "benchmarks" / "reports" / "standard"
EXAMPLE = DEST / "example"
TARGET_SECONDS = 15 * 60
REPORT_FILES = ("summary.md", "results.json", "plots")


def time_compare(activation, folder):
    """Seconds of `relu-zoo compare ACTIVATION --protocol standard` run in `folder`, and its results."""
    out = folder / "out"
    command = [sys.executable, "-m", "relu_zoo.console", "compare", activation, "--protocol", "standard",
               "--out", str(out), "--verbose", "0"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=folder)
    return time.perf_counter() - start, out


def cell_seconds(out, activation):
    """Per cell: the runs of `activation` and their seconds (each run's own `run_seconds`)."""
    cells = {}
    for path in sorted(out.glob("*/runs/*/result.json")):
        result = json.loads(path.read_text())
        if result["activation"] == activation:
            cell = cells.setdefault(path.parents[2].name, {"runs": 0, "seconds": 0.0})
            cell["runs"] += 1
            cell["seconds"] += result["run_seconds"]
    return cells


def trained_baselines(out, activation):
    """Baseline runs this command trained: a restored record's folder holds its result.json and nothing else."""
    return sorted(path.parent.name for path in out.glob("*/runs/*/result.json")
                  if json.loads(path.read_text())["activation"] != activation
                  and any(p.name != "result.json" for p in path.parent.iterdir()))


def run(args):
    path = DEST / "timings.json"
    stored = json.loads(path.read_text()) if path.exists() else {"timings": []}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        shutil.copyfile(EXAMPLE / "my_acts.py", folder / "my_acts.py")
        load = os.getloadavg()
        print(f"timing `relu-zoo compare {args.activation} --protocol standard` in a fresh folder", flush=True)
        seconds, out = time_compare(args.activation, folder)
        results = json.loads((out / "results.json").read_text())
        stored["timings"].append({
            "activation": args.activation, "seconds": seconds, "cpu": reporting.cpu(), "load_before": list(load),
            "cells": cell_seconds(out, args.activation), "trained_baselines": trained_baselines(out, args.activation),
            "versions": results["runs"][0]["versions"]})
        reporting.write_json(path, stored)
        store_report(out, EXAMPLE, REPORT_FILES)
    print(f"{seconds:.0f} s", flush=True)
    report(args)


def precision(protocol_name="standard", records_dir=None):
    """Per cell, from the stored baseline records: the seeds the cell asks for and those stored for every baseline,
    the widest paired 95% half-width against the first baseline (points), the median paired spread, and the
    median seconds of one run per CPU (so the cost of a new activation, its seeds times that, is stated for each
    machine that stored runs)."""
    from collections import defaultdict

    from relu_zoo.run import protocol as protocols
    from relu_zoo.run import stats

    protocol = protocols.load(protocol_name)
    records_dir = Path(records_dir) if records_dir else protocols.stored_baselines(protocol_name)
    accept = protocols.stored_filter(protocol)
    runs = defaultdict(lambda: defaultdict(dict))
    seconds = defaultdict(lambda: defaultdict(list))
    for path in sorted(records_dir.glob("*.json")) if records_dir else []:
        if not accept(path):
            continue
        cell = path.stem.partition("__in__")[2]
        r = json.loads(path.read_text())
        runs[cell][r["activation"]][r["seed"]] = r["test_accuracy"]
        machine = r.get("machine")
        cpu = ", ".join(machine["flags"]) if machine else "CPU not recorded"
        seconds[cell][cpu].append(r["run_seconds"])
    baseline, *others = [spec_label(a) for a in protocol.baselines]
    cells = {}
    for cell in protocol.cells:
        by_act = runs.get(cell, {})
        complete = sorted(set.intersection(*(set(by_act.get(spec_label(a), {})) for a in protocol.baselines)))
        diffs = stats.adjust([stats.paired_difference({s: by_act[a][s] for s in complete},
                                                      {s: by_act[baseline][s] for s in complete})
                              for a in others if complete])
        widths = [d["half_width"] for d in diffs if d.get("half_width") is not None]
        sds = [d["sd"] for d in diffs if d.get("sd") is not None]
        cells[cell] = {"seeds": len(protocol.seeds_of(cell)), "complete_seeds": len(complete),
                       "widest_half_width": max(widths) if widths else None,
                       "median_paired_sd": float(np.median(sds)) if sds else None,
                       "seconds_per_run": {cpu: float(np.median(v)) for cpu, v in seconds[cell].items()},
                       "comparisons": dict(zip(others, diffs))}
    return cells


def spec_label(activation):
    from relu_zoo.run.spec import activation_label

    return activation_label(activation)


def precision_markdown(cells, target=0.005):
    from relu_zoo.run import stats

    lines = ["## Precision of the stored baselines", "",
             f"Each cell is sized so that its stored baselines give paired 95% intervals of at most ±{100 * target:.1f} "
             "points against relu: the widest half-width over the other baselines, on the seeds every baseline has "
             "stored. The cost of a new activation in a cell is its seeds times one run's seconds, per CPU that "
             "stored runs (float32 everywhere): the median of the runs' own `run_seconds`, which include whatever "
             "else the machine ran meanwhile (the rows timed above are the quiet measurements). The seeds the target "
             "needs are those of a paired t interval at the cell's median paired spread (`stats.seeds_for`).", "",
             "| cell | seeds | stored for every baseline | widest paired half-width (pts) | median paired sd (pts) "
             "| seeds the target needs | target | seconds per run (CPU) | cost per new activation |",
             "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for cell, c in cells.items():
        width = c["widest_half_width"]
        met = ("–" if width is None else "met" if width <= target and c["complete_seeds"] >= c["seeds"]
               else f"{'met' if width <= target else 'missed'} at {c['complete_seeds']} of {c['seeds']} seeds")
        per_cpu = "; ".join(f"{s:.0f} s ({cpu})" for cpu, s in c["seconds_per_run"].items()) or "–"
        cost = "; ".join(f"{c['seeds'] * s / 60:.1f} min ({cpu})" for cpu, s in c["seconds_per_run"].items()) or "–"
        fmt = lambda v: "–" if v is None else f"{100 * v:.2f}"  # noqa: E731
        sd = c["median_paired_sd"]
        need = "–" if sd is None else stats.fmt_seeds(stats.seeds_for(sd, target))
        lines.append(f"| {cell} | {c['seeds']} | {c['complete_seeds']} | {fmt(width)} | {fmt(c['median_paired_sd'])} "
                     f"| {need} | {met} | {per_cpu} | {cost} |")
    lines += ["", total_cost_line(cells)]
    lines += ["", "Each baseline against relu on those seeds (Holm over a cell's baselines): where the widest "
              "half-width misses the target, this says which baselines miss it and whether their difference is "
              "resolved anyway.", "",
              "| cell | baseline | Δ vs relu (pts) [95% CI] | half-width (pts) | verdict |", "|---|---|---|---:|---|"]
    for cell, c in cells.items():
        for name, d in c.get("comparisons", {}).items():
            if d.get("half_width") is None:
                continue
            low, high = d["ci95"]
            lines.append(f"| {cell} | {name} | {100 * d['mean_diff']:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}] "
                         f"| {100 * d['half_width']:.2f} | {stats.verdict_text(d)} |")
    return lines


def total_cost_line(cells):
    """What a new activation costs in all cells, per CPU that stored runs in every cell: the sum of the cells' seeds
    times their median seconds per run."""
    shared = set.intersection(*(set(c["seconds_per_run"]) for c in cells.values())) if cells else set()
    if not shared:
        return "No CPU has stored runs in every cell yet: the total cost of a new activation is not measured."
    totals = "; ".join(f"{sum(c['seeds'] * c['seconds_per_run'][cpu] for c in cells.values()) / 60:.0f} min of "
                       f"training on a CPU with {cpu}" for cpu in sorted(shared))
    return (f"A new activation in every cell: {totals}, from the stored runs' medians (under whatever load they ran "
            f"with). The {TARGET_SECONDS // 60}-minute target above was the 3-seed protocol's; paired intervals of "
            "±0.5 points cost this.")


def markdown(timings, stored=None):
    lines = ["# The standard protocol: cost per activation", "",
             "Generated by `python benchmarks/standard_protocol.py report` from `timings.json`. Each row times "
             "`relu-zoo compare ACTIVATION --protocol standard` from a fresh folder, as a user meets it (process "
             "start, imports, data loading, the new activation's runs in every cell, the report), against the "
             "baselines stored in `records/`. A row that also trained baseline runs (not all stored yet) "
             "is not a cost per activation and is marked so. The example's report: "
             f"[example/summary.md](example/summary.md). Target: at most {TARGET_SECONDS // 60} minutes on a "
             "2-core AVX2 CPU, set for the earlier protocol of 3 seeds per cell; the protocol sized for ±0.5 points "
             "costs what the precision section states.", "",
             "| activation | CPU | flags | cores | load before | wall time | per cell (runs, training s) | target |",
             "|---|---|---|---|---|---|---|---|"]
    for t in timings:
        cells = ", ".join(f"{name} {c['runs']}, {c['seconds']:.0f} s" for name, c in t["cells"].items())
        verdict = "met" if t["seconds"] <= TARGET_SECONDS else "missed"
        if t["trained_baselines"]:
            verdict = f"not a cost: {len(t['trained_baselines'])} baseline run(s) trained too"
        lines.append(f"| `{t['activation']}` | {t['cpu']['model']} | {', '.join(t['cpu']['flags'])} | "
                     f"{t['cpu']['cores']} | {t['load_before'][0]:.1f} | {t['seconds'] / 60:.1f} min | {cells} | "
                     f"{verdict} |")
    lines += ["", "A load average above 0.5 before a row means other processes shared the CPU while it ran. Rows "
              "timed under an earlier form of the protocol (other cells or seeds) name their cells.", ""]
    if stored is not None:
        lines += [*precision_markdown(stored), ""]
    return "\n".join(lines)


def report(args=None):
    timings = json.loads((DEST / "timings.json").read_text())["timings"]
    reporting.write_text(DEST / "README.md", markdown(timings, precision()))
    print((DEST / "README.md").read_text())


def _refuse(message):
    print(message, file=sys.stderr)
    raise SystemExit(2)


def baselines(args):
    """Trains the stored baselines' missing runs, cell by cell, saving every finished record at once."""
    import threading

    from relu_zoo.run import protocol as protocols
    from relu_zoo.run import records

    protocol = protocols.load("standard")
    cells = args.cells.split(",") if args.cells else list(protocol.cells)
    unknown = sorted(set(cells) - set(protocol.cells))
    if unknown:
        _refuse(f"Unknown cell(s) {', '.join(unknown)}; the standard protocol's: {', '.join(protocol.cells)}")
    joining = [a for a in (args.joining.split(",") if args.joining else []) if a not in protocol.baselines]
    try:  # an unknown activation, or one a cell's model cannot take: one line, before any training
        protocols.check(protocol, joining)
    except protocols.ConfigError as e:
        _refuse(f"--joining: {e}")
    # `out` holds this protocol's baseline runs only (nothing else trains there), so every record in it is kept.
    dest, out = DEST / "records", REPO / "runs" / "standard_baselines"
    stop = threading.Event()

    def keep_saving():
        while not stop.wait(30):
            for name in records.save(out, dest):
                print(f"saved {name}", flush=True)

    saver = threading.Thread(target=keep_saving, daemon=True)
    saver.start()
    try:
        for cell in cells:
            one = protocols.Protocol(protocol.name, (*protocol.baselines, *joining), protocol.seeds,
                                     protocol.common, {cell: protocol.cells[cell]})
            protocols.compare([], one, out, baselines=dest, settings={"verbose": 2})
    finally:
        stop.set()
        saver.join()
        for name in records.save(out, dest):
            print(f"saved {name}", flush=True)
    report(args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("--activation", default="my_acts:swish2",
                    help="the activation to compare (default: the example file's my_acts:swish2)")
    fill = sub.add_parser("baselines")
    fill.add_argument("--cells", help="comma-separated cells, in this order (default: every cell)")
    fill.add_argument("--joining", help="comma-separated activations to train beside the baselines, stored with "
                      "them; comparisons use them once standard.yaml lists them among its baselines")
    sub.add_parser("report")
    args = parser.parse_args(argv)
    {"run": run, "baselines": baselines, "report": report}[args.command](args)


if __name__ == "__main__":
    main()

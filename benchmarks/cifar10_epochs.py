"""Epochs to accuracy on CIFAR-10 (the JPEG copy in shared/tensorflow_datasets): the `cifar10` preset
(airbench94's recipe in Keras) trained with a budget of E epochs for each E, at one width; the test accuracy with
and without test-time augmentation, the training seconds and the machine that ran it.

    python benchmarks/cifar10_epochs.py run [--epochs 10,8] [--widths 64,256,256] [--activation relu]   # resumable
    python benchmarks/cifar10_epochs.py report

airbench's schedule depends on its length (warm-up, decay and the whitening bias's epochs are fractions of it), so
"epochs to 90 %" is the shortest budget whose run ends at 90 %, as airbench measures it, never an epoch in the
middle of a longer run. Each budget is `train.py --preset cifar10 --epochs E --out runs/cifar10_epochs/<setting>`;
every finished run's record is copied at once into `benchmarks/reports/cifar10_epochs/records/` (committed), so a
later `run`, on any machine, trains only what is missing. `report` writes `README.md` and `results.json` there.
"""

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import reporting  # noqa: E402

WORK = REPO / "runs" / "cifar10_epochs"
DEST = REPO / "benchmarks" / "reports" / "cifar10_epochs"
# The figures for this recipe on this data: at least 90 % in at most 10 epochs, 92 % the ambition.
GOAL, AMBITION, MAX_EPOCHS = 0.90, 0.92, 10


def setting(widths, epochs):
    """The folder (and record suffix) of one budget: `w64-256-256_e10`."""
    return f"w{'-'.join(str(w) for w in widths)}_e{epochs}"


def model_kwargs(widths):
    """The preset's model settings with another width: one source of truth for the rest of the recipe."""
    from relu_zoo.run import spec

    return {**spec.resolve(preset="cifar10", check=False).model_kwargs, "widths": list(widths)}


def command(widths, epochs, activation, seeds, out):
    return [sys.executable, str(REPO / "train.py"), "--preset", "cifar10", "--activations", activation,
            "--seeds", str(seeds), "--epochs", str(epochs), "--model-kwargs", json.dumps(model_kwargs(widths)),
            "--out", str(out)]


def run(args):
    from relu_zoo.run import records

    records.restore(args.dest / "records", args.work)
    for epochs in args.epochs:
        out = args.work / setting(args.widths, epochs)
        subprocess.run(command(args.widths, epochs, args.activation, args.seeds, out), check=True, cwd=REPO)
        records.save(args.work, args.dest / "records")
    return report(args)


def _settings(work):
    """{setting: [result, ...]} of every finished run under `work`."""
    found = defaultdict(list)
    for path in sorted(Path(work).glob("*/runs/*/result.json")):
        found[path.parents[2].name].append(json.loads(path.read_text()))
    return found


def summarize(found):
    """One row per (setting, activation): the seeds' accuracies, seconds and machines, ordered by width then
    epochs."""
    rows = []
    for name, results in found.items():
        by_activation = defaultdict(list)
        for r in results:
            by_activation[r["activation"]].append(r)
        for activation, rs in by_activation.items():
            rs = sorted(rs, key=lambda r: r["seed"])
            config = rs[0]["config"]
            rows.append({
                "setting": name, "widths": config["model_kwargs"]["widths"], "epochs": config["epochs"],
                "activation": activation, "seeds": [r["seed"] for r in rs],
                "test_accuracy": [r["test_accuracy"] for r in rs],
                "test_accuracy_tta": [r.get("test_accuracy_tta") for r in rs],
                "train_seconds": [sum(r.get("epoch_times") or []) for r in rs],
                "dtype_policy": sorted({r.get("dtype_policy") for r in rs}),
                "machines": sorted({_machine(r.get("machine")) for r in rs}),
            })
    return sorted(rows, key=lambda r: (r["widths"], r["activation"], r["epochs"]))


def _machine(machine):
    if not machine:
        return "machine not recorded"
    return reporting.cpu_text(machine)


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def fewest_epochs(rows, level, key):
    """{(widths, activation): the smallest budget whose mean `key` accuracy reaches `level`}, or None."""
    best = {}
    for r in rows:
        group, mean = (tuple(r["widths"]), r["activation"]), _mean(r[key])
        best.setdefault(group, None)
        if mean is not None and mean >= level and (best[group] is None or r["epochs"] < best[group]):
            best[group] = r["epochs"]
    return best


def _pct(values):
    shown = [f"{100 * v:.2f}" for v in values if v is not None]
    return ", ".join(shown) if shown else "–"


def markdown(rows):
    lines = ["# CIFAR-10 (JPEG copy): epochs to accuracy with the cifar10 preset", "",
             "Generated by `python benchmarks/cifar10_epochs.py report` from `records/`. Each row is the `cifar10` "
             "preset (airbench94's recipe in Keras: all 50,000 training images, no validation split) trained with "
             "a budget of that many epochs, tested on the 10,000 test images of the TFDS JPEG copy, with and "
             "without airbench's mirror × {0, ±1 px} translate averaging. One number per seed. Seconds are the "
             "sum of the epoch times on the machine named beside them (runs are sequential and their times move "
             "with load).", "",
             "| widths | activation | epochs | seeds | test accuracy % | with TTA % | training s | precision | machine |",
             "|---|---|---:|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {'/'.join(str(w) for w in r['widths'])} | {r['activation']} | {r['epochs']} | "
                     f"{', '.join(str(s) for s in r['seeds'])} | {_pct(r['test_accuracy'])} | "
                     f"{_pct(r['test_accuracy_tta'])} | {', '.join(f'{s:,.0f}' for s in r['train_seconds'])} | "
                     f"{', '.join(p or '?' for p in r['dtype_policy'])} | {'; '.join(r['machines'])} |")
    lines += ["", f"Goal: ≥ {100 * GOAL:.0f} % in ≤ {MAX_EPOCHS} epochs (ambition ≥ {100 * AMBITION:.0f} %), "
              "judged on the mean over seeds:", ""]
    longest = max(r["epochs"] for r in rows)
    for key, words in (("test_accuracy_tta", "with TTA"), ("test_accuracy", "without TTA")):
        for level in (GOAL, AMBITION):
            found = sorted(fewest_epochs(rows, level, key).items())
            each = [f"{'/'.join(str(w) for w in widths)} {activation} "
                    + ("not reached" if epochs is None else f"{epochs} epochs") for (widths, activation), epochs in found]
            met = level == GOAL and all(e is not None and e <= MAX_EPOCHS for _, e in found)
            lines.append(f"- {words}, ≥ {100 * level:.0f} %: {'; '.join(each)}"
                         + (" (met by every one)" if met else "") + ".")
    lines += ["", f"\"Not reached\": in no budget run so far (up to {longest} epochs)."]
    lines += ["", "Budgets not listed were not run: fewer epochs may reach the same level.", ""]
    return "\n".join(lines)


def summary(rows):
    """(measured, judged) sentences for the README's CIFAR-10 table: per width, each activation's budgets with
    the mean accuracy with TTA / without; judged against the goal with TTA and without."""
    measured, judged = [], []
    for widths in sorted({tuple(r["widths"]) for r in rows}):
        mine = [r for r in rows if tuple(r["widths"]) == widths]
        each = [f"{r['activation']} {r['epochs']} epochs {100 * _mean(r['test_accuracy_tta']):.2f} / "
                f"{100 * _mean(r['test_accuracy']):.2f}" for r in mine]
        machines = sorted({m for r in mine for m in r["machines"]}
                          | {p or "?" for r in mine for p in r["dtype_policy"]})
        measured.append(f"{'/'.join(map(str, widths))} ({'; '.join(machines)}), % with TTA / without: "
                        f"{'; '.join(each)}")
        for key, words in (("test_accuracy_tta", "with TTA"), ("test_accuracy", "without")):
            found = fewest_epochs(mine, GOAL, key)
            met = sorted(a for (_, a), e in found.items() if e is not None and e <= MAX_EPOCHS)
            # A miss names the longer budget that did reach the level, where one did.
            missed = [a if e is None else f"{a} (reached in {e})"
                      for (_, a), e in sorted(found.items()) if a not in met]
            judged.append(f"≥ {100 * GOAL:.0f} % in ≤ {MAX_EPOCHS} epochs {words}: "
                          + (f"met by {', '.join(met)}" if met else "**missed** by all")
                          + (f", missed by {', '.join(missed)}" if met and missed else ""))
        ambition = [a for (_, a), e in fewest_epochs(mine, AMBITION, "test_accuracy_tta").items() if e is not None]
        judged.append(f"{100 * AMBITION:.0f} % (ambition): " + (f"reached by {', '.join(sorted(ambition))}"
                                                                  if ambition else "not reached"))
    return "; ".join(measured) or "not run yet", "; ".join(judged) or "–"


def report(args):
    from relu_zoo.run import records

    records.restore(args.dest / "records", args.work)
    rows = summarize(_settings(args.work))
    if not rows:
        raise SystemExit(f"No finished runs in {args.work}: run `python benchmarks/cifar10_epochs.py run` first.")
    reporting.write_json(args.dest / "results.json", {"rows": rows, "goal": GOAL, "ambition": AMBITION,
                                                         "max_epochs": MAX_EPOCHS})
    reporting.write_text(args.dest / "README.md", markdown(rows))
    print(f"wrote {args.dest / 'README.md'} ({len(rows)} settings)")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "report"):
        p = sub.add_parser(name)
        p.add_argument("--work", type=Path, default=WORK, help="where runs train (not committed)")
        p.add_argument("--dest", type=Path, default=DEST, help="the report and the records (committed)")
        if name == "run":
            p.add_argument("--epochs", default="10,8", help="epoch budgets, comma-separated")
            p.add_argument("--widths", default="64,256,256")
            p.add_argument("--activation", default="relu")
            p.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "run":
        try:
            args.epochs = [int(e) for e in args.epochs.split(",")]
            args.widths = [int(w) for w in args.widths.split(",")]
        except ValueError:
            parser.error(f"--epochs and --widths take integers separated by commas; received {args.epochs!r}, "
                         f"{args.widths!r}")
        return run(args)
    return report(args)


if __name__ == "__main__":
    main()

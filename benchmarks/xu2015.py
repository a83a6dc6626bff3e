"""Xu et al. 2015 ("Empirical Evaluation of Rectified Activations in Convolutional Network"), reduced, on
CIFAR-10 (the JPEG copy in shared/tensorflow_datasets) with the zoo's airbench recipe, in two regimes.

    python benchmarks/xu2015.py run    --regime short|overfit [-- extra train.py flags]   # resumable
    python benchmarks/xu2015.py report --regime short|overfit

`--regime short` (preset `xu2015_short`): all 50,000 training images with augmentation, a small net, a few
epochs, 5 seeds. `--regime overfit` (preset `xu2015_overfit`): 10,000 images, no augmentation, epochs until the
training accuracy nears 100 %, 3 seeds. Xu's claims are about over-fitting, so the second is the test of them.
Each trains relu, leaky_relu (0.01), very leaky (1/5.5), prelu and rrelu (Xu's parameterization: slope 1/a,
a ~ U(3, 8) in training, 1/5.5 at test).

`run` is `train.py --preset xu2015_<regime> --out runs/xu2015/<regime>`. Each finished run's record is
copied at once into `benchmarks/reports/xu2015/<regime>/records/` (benchmarks/records.py), which is committed:
a later `run`, on any machine, puts them back and trains only the rest; a run killed mid-training resumes
from its last epoch on the same machine (the runner's backups). `report` reads the finished runs and writes
`results.json` (every run's numbers and the comparison), `summary.md` (our numbers with 95% CIs and paired
tests against ReLU beside the paper's, and the paper's two conclusions checked), `accuracy.png` and
`prelu_slopes.png` (PReLU's learned slope per layer; He et al. 2015 found larger slopes in early layers).
"""

import argparse
import json
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import reporting  # noqa: E402  (after the path: this checkout)
from relu_zoo.run import stats  # noqa: E402  (after the path: a checkout's relu_zoo)
REGIMES = ("short", "overfit")


def default_out(regime):
    return REPO / "runs" / "xu2015" / regime


def default_dest(regime):
    return REPO / "benchmarks" / "reports" / "xu2015" / regime

RELU, LEAKY, VERY_LEAKY, PRELU, RRELU = ("relu", "leaky_relu:negative_slope=0.01",
                                         "leaky_relu:negative_slope=0.181818", "prelu",
                                         "rrelu:lower=3,parameterization='inverse',upper=8")
NAMES = {RELU: "ReLU", LEAKY: "Leaky ReLU (a = 100)", VERY_LEAKY: "Leaky ReLU (a = 5.5)", PRELU: "PReLU",
         RRELU: "RReLU (a ~ U(3, 8))"}
# Xu et al. 2015, Table 3: CIFAR-10 with their Network in Network, error rates (train, test); slope = 1/a.
# Papers with Code lists the RReLU row as 88.8 % correct.
PAPER_CIFAR10_ERROR = {RELU: (0.00318, 0.1245), LEAKY: (0.0031, 0.1266), VERY_LEAKY: (0.00362, 0.1120),
                       PRELU: (0.00178, 0.1179), RRELU: (0.00550, 0.1119)}

# The headline comparison's precision target: every paired 95% half-width against ReLU at most 0.3 points.
TARGET_HALF_WIDTH = 0.003


def run(regime, out, dest, extra, poll_seconds=30):
    """Trains the regime's unfinished runs, saving each finished run's record into `dest/records` at once."""
    from relu_zoo.run import records

    restored = records.restore(dest / "records", out)
    if restored:
        print(f"{restored} finished runs restored from {dest / 'records'}", flush=True)
    # Paths relative to the checkout (the child runs there), so that the command each record keeps re-runs anywhere.
    out_arg = Path(out).resolve()
    out_arg = out_arg.relative_to(REPO) if out_arg.is_relative_to(REPO) else out_arg
    command = [sys.executable, "train.py", "--preset", f"xu2015_{regime}", "--out", str(out_arg), *extra]
    print("$", " ".join(command), flush=True)
    child = subprocess.Popen(command, cwd=REPO)
    while True:
        try:
            code = child.wait(timeout=poll_seconds)
        except subprocess.TimeoutExpired:
            code = None
        for name in records.save(out, dest / "records"):
            print(f"saved {name}", flush=True)
        if code is not None:
            return code


def _final_train_accuracy(result):
    history = result.get("history") or []
    return history[-1].get("accuracy") if history else None


def prelu_slopes(results):
    """Per PReLU run, the mean learned slope of each activation layer (in call order) after the last epoch."""
    from relu_zoo.run.store import final_layers

    slopes = {}
    for r in results:
        if r["activation"] != PRELU or r["status"] != "ok":
            continue
        layers = [entry["params"]["alpha"]["mean"] for entry in final_layers(r).values()
                  if "alpha" in entry.get("params", {})]
        if layers:
            slopes[r["seed"]] = layers
    return slopes


def compare(results):
    """Our numbers per activation, paired tests against ReLU (Holm-adjusted), and the paper's claims checked."""
    by_act = defaultdict(dict)
    for r in results:
        if r["status"] == "ok":
            by_act[r["activation"]][r["seed"]] = r
    rows = []
    for act in (RELU, LEAKY, VERY_LEAKY, PRELU, RRELU):
        runs = by_act.get(act, {})
        test = {s: r["test_accuracy"] for s, r in runs.items()}
        tta = {s: r.get("test_accuracy_tta") for s, r in runs.items()}
        train = {s: _final_train_accuracy(r) for s, r in runs.items()}
        gap = {s: train[s] - test[s] for s in runs if train[s] is not None}
        row = {"activation": act, "name": NAMES[act], "seeds": sorted(runs),
               "test_accuracy": stats.describe(list(test.values())),
               "test_accuracy_tta": stats.describe([v for v in tta.values() if v is not None]),
               "final_train_accuracy": stats.describe(list(train.values())),
               "generalization_gap": stats.describe(list(gap.values())),
               "paper_test_accuracy": 1 - PAPER_CIFAR10_ERROR[act][1],
               "paper_train_accuracy": 1 - PAPER_CIFAR10_ERROR[act][0],
               "_test": test, "_gap": gap}
        if act != RELU:
            row["vs_relu"] = stats.paired_difference(test, {s: r["test_accuracy"] for s, r in by_act[RELU].items()}
                                                     if RELU in by_act else {})
        rows.append(row)
    stats.adjust([r.get("vs_relu") for r in rows])
    precision = _precision({r["name"]: r["vs_relu"] for r in rows if "vs_relu" in r})
    get = {r["activation"]: r for r in rows}
    # "Fixed or learned slopes overfit where a random one doesn't": RReLU against the very leaky and PReLU
    # rows, in test accuracy and in the train-test gap (paired over seeds, Holm over the four tests).
    claims = {}
    tests = []
    for other in (VERY_LEAKY, PRELU):
        for metric, key in (("test_accuracy", "_test"), ("generalization_gap", "_gap")):
            diff = stats.paired_difference(get[RRELU][key], get[other][key])
            tests.append(((other, metric), diff))
    stats.adjust([diff for _, diff in tests])
    for (other, metric), diff in tests:
        claims[f"rrelu_minus_{'very_leaky' if other == VERY_LEAKY else 'prelu'}_{metric}"] = diff
    for row in rows:
        row.pop("_test"), row.pop("_gap")
    order = [r["activation"] for r in sorted(rows, key=lambda r: -(r["test_accuracy"]["mean"] or 0))
             if r["test_accuracy"]["n"]]
    paper_order = sorted(PAPER_CIFAR10_ERROR, key=lambda a: PAPER_CIFAR10_ERROR[a][1])
    planned = max((len((r.get("config") or {}).get("seeds") or []) for r in results), default=0)
    finished = min((len(r["seeds"]) for r in rows), default=0)
    return {"rows": rows, "claims": claims, "our_order": order, "paper_order": paper_order,
            "seeds_planned": planned, "seeds_finished": finished, "precision": precision}


def _precision(against_relu):
    """The paired half-widths against ReLU beside `TARGET_HALF_WIDTH`: the range, the rows that miss it and the
    seeds the widest spread needs to reach it."""
    widths = {name: c["half_width"] for name, c in against_relu.items() if c.get("half_width") is not None}
    spreads = [c["sd"] for c in against_relu.values() if c.get("sd") is not None]
    return {"target": TARGET_HALF_WIDTH, "half_widths": widths,
            "missed": sorted(name for name, w in widths.items() if round(w, 4) > TARGET_HALF_WIDTH),
            "seeds_needed": stats.seeds_for(max(spreads), TARGET_HALF_WIDTH) if spreads else None}


def precision_line(precision):
    """"Paired 95% half-widths against ReLU 0.23–0.31 points, target ±0.30: ..." in words."""
    widths = precision["half_widths"]
    if not widths:
        return "Too few seeds for an interval"
    text = (f"Paired 95% half-widths against ReLU {100 * min(widths.values()):.2f}–{100 * max(widths.values()):.2f} "
            f"points, target ±{100 * precision['target']:.2f}: ")
    if not precision["missed"]:
        return text + "met by every comparison"
    need = precision["seeds_needed"]
    return (text + "missed by " + ", ".join(f"{name} ({100 * widths[name]:.2f})" for name in precision["missed"])
            + f"; at the widest spread it needs about {stats.fmt_seeds(need)} seeds")


def _pct(d, digits=2):
    if not d or d.get("mean") is None:
        return "–"
    text = f"{100 * d['mean']:.{digits}f}"
    if d.get("ci95"):
        text += f" [{100 * d['ci95'][0]:.{digits}f}, {100 * d['ci95'][1]:.{digits}f}]"
    return text


def _diff(d):
    if not d or d.get("mean_diff") is None:
        return "–"
    text = f"{100 * d['mean_diff']:+.2f}"
    if d.get("ci95"):
        text += f" [{100 * d['ci95'][0]:+.2f}, {100 * d['ci95'][1]:+.2f}]"
    if d.get("p_adjusted") is not None:
        text += f", p = {d['p_adjusted']:.3g} ({stats.verdict_text(d)})"
    return text


def _improvement(d):
    """P(this activation beats ReLU on a seed) with its Wilson interval, or – for the baseline."""
    if not d or d.get("prob_improvement") is None:
        return "–"
    lo, hi = d["prob_improvement_ci95"]
    return f"{d['prob_improvement']:.2f} [{lo:.2f}, {hi:.2f}]"


def _correlation(d):
    """The correlation of this activation's and ReLU's accuracies over the paired seeds (positive: the pairing
    removes shared noise), or – for the baseline."""
    if not d or d.get("correlation") is None:
        return "–"
    return f"{d['correlation']:+.2f}"


def _holds(comparisons, want):
    """`stats.claim_outcome` of the comparisons, with the smallest difference they could have detected where
    they could not tell."""
    outcome = stats.claim_outcome([c.get("verdict") for c in comparisons], want)
    if outcome == "inconclusive":
        mdes = [c["mde"] for c in comparisons if c.get("verdict") == "inconclusive" and c.get("mde") is not None]
        if mdes:
            outcome += f" (could not detect less than {100 * max(mdes):.2f} points)"
    return outcome


def conclusions(comparison):
    """The paper's three conclusions, each judged from the paired tests of `compare`: "holds here", "holds in
    part", "not supported here" (only where the comparisons could have detected it), "inconclusive (could not
    detect less than X points)" or "too few seeds to tell"."""
    rows, claims = comparison["rows"], comparison["claims"]
    return {
        "non-zero slope improves": _holds([r["vs_relu"] for r in rows if "vs_relu" in r], "better"),
        "random slope beats fixed and learned": _holds(
            [claims[k] for k in claims if k.endswith("test_accuracy")], "better"),
        # A gap that is "worse" in the paired test is a lower one: the paper's account.
        "random slope over-fits less": _holds(
            [claims[k] for k in claims if k.endswith("generalization_gap")], "worse"),
    }


def summary(comparison):
    """The checked conclusions in one sentence (the README's CIFAR-10 table)."""
    held = conclusions(comparison)
    planned, finished = comparison.get("seeds_planned"), comparison.get("seeds_finished")
    partial = f"*Partial, {finished} of {planned} seeds:* " if planned and finished is not None and finished < planned else ""
    return (f"{partial}a non-zero slope improves on ReLU: {held['non-zero slope improves']}; RReLU beats the very leaky ReLU "
            f"and PReLU: {held['random slope beats fixed and learned']}, with a smaller train − test gap: "
            f"{held['random slope over-fits less']}")


def _train_accuracy_words(recipe):
    """What the runs' final training accuracy is, from their recipe: (column header, closing sentence)."""
    augmented = (recipe.get("task_kwargs") or {}).get("augmentation", "default") is not None
    smoothing = recipe.get("label_smoothing") or 0.0
    on = ", ".join((["augmented"] if augmented else []) + ([f"label smoothing {smoothing:g}"] if smoothing else []))
    header = f"final train accuracy % ({on + ', ' if on else ''}running)"
    how = f"on {'augmented ' if augmented else ''}batches{f' with label smoothing {smoothing:g}' if smoothing else ''}"
    return header, (f"The final training accuracy is the running mean over the last epoch's batches, measured {how} "
                    "while the weights still change, so the gap is a proxy of the paper's train error, not the same "
                    "quantity.")


def slope_lines(slopes):
    """PReLU's learned slope per layer in words, beside He et al. 2015's finding (larger slopes early)."""
    if not slopes:
        return []
    per_layer = np.asarray(list(slopes.values())).mean(axis=0)
    half, top = len(per_layer) // 2, int(np.argmax(per_layer))
    early, late = per_layer[:half].mean(), per_layer[-half:].mean()
    # Larger early: the early layers' mean above the late ones', and the largest slope among the early layers.
    verdict = "seen here too" if early > late and top < half else "not seen here"

    def fmt(v):
        return f"{v:.2f}".replace("-0.00", "0.00")

    return [f"- **PReLU's learned slopes** (mean over channels and {len(slopes)} seeds, layer by layer from the "
            f"input): {', '.join(fmt(v) for v in per_layer)} (initial 0.25). He et al. 2015 found larger slopes in "
            f"early layers: {verdict} (the first {half} layers' mean {fmt(early)}, the last {half} layers' "
            f"{fmt(late)}; the largest is layer {top + 1}'s)."]


def markdown(comparison, results, command, preset="xu2015_short", slopes=None):
    rows, claims = comparison["rows"], comparison["claims"]
    recipe = results[0]["config"] if results else {}
    train_header, train_words = _train_accuracy_words(recipe)
    tta = {True: "flip", "flip": "flip", "flip_translate": "flip x translate"}.get(recipe.get("tta"), "flip")
    lines = [
        "# Xu et al. 2015, reduced: rectified activations on CIFAR-10 (JPEG copy)",
        "",
        f"Produced by `python benchmarks/xu2015.py report` from the runs of `{command}`. Recipe: "
        f"`{results[0]['model'] if results else '?'}` with the `{preset}` preset "
        f"(config: `{json.dumps(recipe, sort_keys=True)}`), test split of the TFDS JPEG copy (10,000 images), "
        "95% t intervals over seeds; paired t-tests over seeds against ReLU, Holm-adjusted, each with its verdict: "
        "better / worse, equivalent within ±0.5 points (two one-sided tests), or inconclusive with the smallest "
        "difference it could have detected (80% power at these seeds); a conclusion is \"not supported\" only "
        f"where its comparisons could have detected it. Precision: {_precisions(results)}. The paper's numbers "
        "are from its Table 3 (a Network in Network trained far longer), ours from a fast recipe of a few "
        "minutes: compare orderings and differences, not levels.",
        "",
        f"| activation | seeds | test accuracy % [95% CI] | with {tta} TTA % | Δ vs ReLU (pts) [95% CI], p | "
        f"P(> ReLU) [95% CI] | arms' correlation | {train_header} | train − test gap (pts) | paper: test % | "
        "paper: train % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {len(r['seeds'])} | {_pct(r['test_accuracy'])} | {_pct(r['test_accuracy_tta'])} "
                     f"| {_diff(r.get('vs_relu')) if 'vs_relu' in r else '(baseline)'} "
                     f"| {_improvement(r.get('vs_relu'))} | {_correlation(r.get('vs_relu'))} "
                     f"| {_pct(r['final_train_accuracy'])} | {_pct(r['generalization_gap'])} "
                     f"| {100 * r['paper_test_accuracy']:.2f} | {100 * r['paper_train_accuracy']:.2f} |")
    names = {r["activation"]: r["name"] for r in rows}
    helps = [r["vs_relu"]["verdict"] for r in rows if "vs_relu" in r]  # the table above has each one's numbers
    held = conclusions(comparison)
    planned, finished = comparison.get("seeds_planned"), comparison.get("seeds_finished")
    lines += [
        "",
        *([f"*Partial: every activation has finished {finished} of the preset's {planned} seeds; `python "
           "benchmarks/xu2015.py run` trains the rest.*", ""] if planned and finished < planned else []),
        "## The paper's conclusions, checked",
        "",
        f"- **Ordering.** Ours (best first, by mean test accuracy): {', '.join(names[a] for a in comparison['our_order'])}. "
        f"The paper's: {', '.join(names[a] for a in comparison['paper_order'])}.",
        f"- **\"A non-zero negative slope consistently improves the results\"** (each variant against ReLU, "
        f"above): {held['non-zero slope improves']} ({', '.join(helps)}).",
        *([f"- **Precision.** {precision_line(comparison['precision'])}."] if "precision" in comparison else []),
        "- **\"Deterministic or learned slopes overfit on small data; the random one does not\"**: RReLU minus "
        "the very leaky ReLU and minus PReLU, in test accuracy (the paper: RReLU higher) and in the "
        "train − test gap (the paper's account: RReLU's smaller):",
    ]
    for key, diff in claims.items():
        text = _diff(diff)
        if key.endswith("gap"):  # for a gap, "better"/"worse" of the paired test mean higher/lower
            text = text.replace("(better)", "(RReLU's higher)").replace("(worse)", "(RReLU's lower)")
        lines.append(f"  - {key.replace('_', ' ')}: {text}")
    lines += [f"  - In test accuracy: {held['random slope beats fixed and learned']}; in the gap (lower is the "
              f"claim): {held['random slope over-fits less']}.",
              *slope_lines(slopes),
              "",
              train_words, "", "## Figures", "", "![Test accuracy beside the paper's](accuracy.png)", ""]
    if slopes:
        lines += ["![PReLU's learned slope per layer](prelu_slopes.png)", ""]
    return "\n".join(lines)


def _precisions(results):
    """The runs' Keras dtype policies in words ("100 runs in mixed_bfloat16"): seeds trained on different
    machines may differ in it, and each pair of a seed shares one."""
    counts = defaultdict(int)
    for r in results:
        counts[r.get("dtype_policy") or "unrecorded"] += 1
    return ", ".join(f"{n} runs in {policy}" for policy, n in sorted(counts.items()))


def plot(comparison, slopes, dest):
    from relu_zoo.run.plots import pyplot, save_figure

    plt = pyplot()
    rows = [r for r in comparison["rows"] if r["test_accuracy"]["n"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, r in enumerate(rows):
        d = r["test_accuracy"]
        ci = d["ci95"] or [d["mean"], d["mean"]]
        ax.errorbar(i, 100 * d["mean"], yerr=[[100 * (d["mean"] - ci[0])], [100 * (ci[1] - d["mean"])]],
                    fmt="o", color="C0", capsize=4, label="ours (mean, 95% CI)" if i == 0 else None)
        ax.plot(i, 100 * r["paper_test_accuracy"], "s", color="C1", label="Xu et al. 2015 (NIN)" if i == 0 else None)
    ax.set_xticks(range(len(rows)), [r["name"] for r in rows], rotation=15, fontsize=8)
    ax.set_ylabel("CIFAR-10 test accuracy %")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, dest / "accuracy.png")
    if not slopes:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    per_layer = np.asarray(list(slopes.values()))
    for seed, values in sorted(slopes.items()):
        ax.plot(range(1, len(values) + 1), values, ".", color="C0", alpha=0.4)
    ax.plot(range(1, per_layer.shape[1] + 1), per_layer.mean(axis=0), "-o", color="C0",
            label=f"mean over {len(slopes)} seeds")
    ax.axhline(0.25, color="grey", ls=":", label="initial slope 0.25")
    ax.set_xlabel("activation layer (input → output)")
    ax.set_ylabel("PReLU slope (mean over channels)")
    ax.set_title("PReLU's learned slopes per layer")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, dest / "prelu_slopes.png")


def report(out, dest, regime="short"):
    from relu_zoo.run import records
    from relu_zoo.run import store

    records.restore(dest / "records", out)
    results = store.load_results(out) if Path(out).is_dir() else []
    if not results:
        raise SystemExit(f"No finished runs in {out}: run `python benchmarks/xu2015.py run --regime {regime}` "
                         "first.")
    dest.mkdir(parents=True, exist_ok=True)
    for result in results:  # runs trained before commands were kept relative still hold this machine's folders
        if result.get("command"):
            result["command"] = " ".join(reporting.portable(a) for a in shlex.split(result["command"]))
    comparison = compare(results)
    slopes = prelu_slopes(results)
    command = results[0].get("command") or f"train.py --preset xu2015_{regime} --out {out}"
    keep = ("run_id", "activation", "seed", "status", "test_accuracy", "test_accuracy_tta", "test_loss", "history",
            "epoch_times", "params", "dtype_policy", "config", "versions", "command")
    store.atomic_write_json(dest / "results.json", {
        "comparison": comparison, "prelu_slopes_per_layer": slopes, "paper_cifar10_error": PAPER_CIFAR10_ERROR,
        "runs": [{k: r.get(k) for k in keep} for r in results]})
    store.atomic_write_text(dest / "summary.md", markdown(comparison, results, command, f"xu2015_{regime}", slopes))
    plot(comparison, slopes, dest)
    write_index(dest.parent)
    print(f"wrote {dest}/summary.md ({len(results)} runs)")
    return comparison


def write_index(root):
    """`root/README.md`: the two regimes side by side, each regime's checked conclusions quoted from its summary."""
    from relu_zoo.run import store

    lines = ["# Xu et al. 2015, reduced, in two regimes", "",
             "Generated by `python benchmarks/xu2015.py report`. Xu et al.'s claims are about over-fitting, so the "
             "rectifiers are compared twice: a short schedule on all 50,000 images with augmentation, and an "
             "over-fitting regime (10,000 images, no augmentation, training accuracy near 100 %). Each regime's "
             "summary has the full table (95% CIs, Holm-adjusted paired tests against ReLU, the train − test gap, "
             "the paper's numbers) and PReLU's learned slope per layer.", ""]
    for regime in REGIMES:
        summary = Path(root) / regime / "summary.md"
        if not summary.exists():
            lines += [f"## {regime}", "", "Not run yet: `python benchmarks/xu2015.py run --regime " + regime + "`.", ""]
            continue
        text = summary.read_text()
        conclusions = text.split("## The paper's conclusions, checked", 1)[-1].split("## Figures", 1)[0].strip()
        lines += [f"## {regime} ([summary]({regime}/summary.md))", "", conclusions, ""]
    store.atomic_write_text(Path(root) / "README.md", "\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "report"))
    parser.add_argument("--regime", choices=REGIMES, required=True)
    parser.add_argument("--out", type=Path, default=None, help="the sweep's work folder (default runs/xu2015/REGIME)")
    parser.add_argument("--dest", type=Path, default=None,
                        help="the report and the records (default benchmarks/reports/xu2015/REGIME)")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    out, dest = args.out or default_out(args.regime), args.dest or default_dest(args.regime)
    if args.command == "run":
        code = run(args.regime, out, dest, extra)
        if code == 0:
            report(out, dest, args.regime)
        return code
    report(out, dest, args.regime)
    return 0


if __name__ == "__main__":
    sys.exit(main())

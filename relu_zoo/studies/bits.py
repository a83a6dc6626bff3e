"""What the language-model studies share: their grid on `imdb_bytes` with the `decoder`, each activation's test
bits per byte over seeds, the paired comparisons with a baseline, and the seeds a precision target needs.

A comparison here is `baseline - activation` in bits per byte, paired by seed: positive is bits saved, so
"better" (`relu_zoo.run.stats`) means the activation predicts the held-out bytes better. The equivalence margin
and the precision target are `relu_zoo.run.metrics.BITS_PER_BYTE.delta`, 0.01 bits per byte.
"""

from relu_zoo.run import metrics, stats
from relu_zoo.studies import common

METRIC = metrics.BITS_PER_BYTE
# Seeds to precision: every paired interval's half-width at most this many bits per byte.
TARGET_HALF_WIDTH = METRIC.delta
# The `imdb_bytes` preset's training (relu_zoo/presets/imdb_bytes.yaml), as a study cell.
SETTING = {"tasks": ["imdb_bytes"], "models": ["decoder"], "epochs": 1, "batch_size": 32, "optimizer": "adamw",
           "weight_decay": 0.1, "learning_rate": 0.002, "schedule": "cosine", "warmup": 0.05, "clipnorm": 1.0,
           "max_train_examples": 20000, "max_eval_examples": 2000, "probe_examples": 32, "diagnostics": False}
# --quick: a one-block decoder of width 32, so that the grid trains in seconds (numbers meaningless).
QUICK_MODEL = {"depth": 1, "dim": 32, "heads": 2}


def cell(activations, quick):
    """The study's one cell: the preset's setting with `activations` (the first is the baseline)."""
    return [("imdb_bytes_decoder", {**SETTING, "activations": list(activations),
                                    **({"model_kwargs": QUICK_MODEL} if quick else {})})]


def setup_lines(quick):
    return ["- `imdb_bytes`: next-byte prediction on IMDB reviews, context 128; trained on the first 20,000 windows "
            "(2.56 MB) of the train + unsupervised reviews (`--quick`: 256), scored on the first 2,000 windows of "
            "the test reviews (`--quick`: 128), which are never trained on.",
            "- `decoder`: 4 pre-LN blocks, width 128, 4 heads, FFN 512 (a hidden width of 2/3 of it, 341, for the "
            "gated units: the same parameters, Shazeer 2020), GPT-2 initialization for every activation; `--quick`: "
            "1 block of width 32.",
            "- AdamW (weight decay 0.1), learning rate 0.002 with 5 % warm-up and cosine decay, batch 32, one epoch "
            "(625 steps), clipnorm 1; seeds 0, 1, 2.",
            "- Test bits per byte: the cross-entropy of the next byte in bits, lower is better. Precision target: "
            f"every paired half-width ≤ {TARGET_HALF_WIDTH} bits per byte; the seeds it needs are estimated from the "
            "observed spread of the paired differences."]


def activations_summary(results):
    """{activation: `common.seeded` test bits per byte} over the finished runs of every cell, in the order met."""
    runs = [r for rs in results.values() for r in rs]
    return {act: common.seeded({r["seed"]: METRIC.value(r) for r in rs if r["status"] == "ok"})
            for act, rs in common.by_activation(runs).items()}


def comparisons(summary, baseline, names):
    """{name: `baseline - name` in bits per byte} for each of `names` present, Holm-adjusted as one family."""
    found = {name: common.difference(summary[baseline], summary[name], delta=TARGET_HALF_WIDTH)
             for name in names if name in summary and baseline in summary}
    common.adjust(list(found.values()))
    return found


def precision(found):
    """Where the comparisons stand against the precision target: the widest half-width, whether every one is
    within the target, and the seeds the widest spread needs."""
    widths = [c["half_width"] for c in found.values() if c.get("half_width") is not None]
    spreads = [c["sd"] for c in found.values() if c.get("sd") is not None]
    return {"target": TARGET_HALF_WIDTH, "widest_half_width": max(widths) if widths else None,
            "reached": bool(widths) and len(widths) == len(found) and max(widths) <= TARGET_HALF_WIDTH,
            "seeds_needed": stats.seeds_for(max(spreads), TARGET_HALF_WIDTH) if spreads else None}


def fmt_bits(summary):
    return common.fmt_ci(summary, scale=1.0, digits=4)


def fmt_saved(comparison):
    """"+0.0123 [+0.0051, +0.0195] bits per byte saved, better (detectable: 0.0100; paired over 3 seeds)":
    `common.fmt_difference` in bits per byte."""
    return common.fmt_difference(comparison, scale=1.0, digits=4, unit="bits per byte", label="bits per byte saved",
                                 detectable_unit="")


def precision_line(found):
    p = precision(found)
    if p["widest_half_width"] is None:
        return "Precision: too few seeds for an interval."
    need = p["seeds_needed"]
    return (f"Precision: the widest paired half-width is {p['widest_half_width']:.4f} bits per byte, target "
            f"{p['target']}: " + ("reached." if p["reached"] else
                                  f"not reached; at the observed spread it needs about "
                                  f"{stats.fmt_seeds(need)} seeds."))


def figure(summary, dest, filename, title, reference=None):
    """Test bits per byte per activation with 95 % intervals; `reference`: {activation: the paper's value} on a
    second axis."""
    from pathlib import Path

    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(summary)
    common.errorbar(ax, range(len(names)), [summary[n] for n in names], "this study", scale=1.0, ls="none")
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_ylabel("test bits per byte (lower is better)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if reference:
        other = ax.twinx()
        xs = [i for i, n in enumerate(names) if n in reference]
        other.plot(xs, [reference[names[i]] for i in xs], "s", color="C1", label="paper")
        other.set_ylabel("paper's log-perplexity", color="C1")
    ax.legend(loc="upper left", fontsize=8)
    common.save_figure(fig, Path(dest) / filename)
    return [(title, filename)]


def against_baseline(analysis, runs, baseline):
    """Each activation of `analysis` against `baseline`: the baseline's bits per byte minus the activation's,
    paired by seed."""
    cell = next(iter(runs.values()), []) if runs else []
    summary = {act: common.with_seeds(s, cell, act, key="test_bits_per_byte")
               for act, s in analysis["activations"].items()}
    return comparisons(summary, baseline, [a for a in summary if a != baseline])

"""Statistics for comparing activations across seeds: means, t intervals, paired tests with Holm correction,
and a three-way verdict that says what the comparison could have detected.

A paired comparison of A against a baseline B over the same seeds gives:

- the mean difference with its two-sided t interval (95 %, or the level a sequential design spends per look);
- `mde`: the minimum detectable difference, the true difference a paired t-test at the family's level
  (Bonferroni over the compared activations, Holm's first step) detects with 80 % power, from the observed
  spread of the differences — (t_{1-a/2} + t_{0.80}) * sd / sqrt(n);
- the probability of improvement P(A > B), the share of seeds where A beats B (ties count half), with a Wilson
  score interval (Agarwal et al. 2021);
- the correlation of the two arms over seeds (common random numbers make it positive: the pairing's gain);
- two one-sided tests (TOST) of equivalence within ±delta;
- `seeds_for`: the seeds a paired interval needs to reach a half-width, at an observed spread.

The verdict is one of "better" / "worse" (Holm-adjusted paired t-test), "equivalent" (Holm-adjusted TOST:
the difference lies within ±delta), "inconclusive" (neither: the study could not detect a difference smaller
than its `mde`), or "too few seeds". "Not supported" is only ever said of a claim where a comparison was
"equivalent" or went the other way, that is where the study could have detected the claimed effect.
"""

import math

import numpy as np
from scipy import stats as scipy_stats

ALPHA = 0.05
POWER = 0.80
# Equivalence margin in the metric's own units: 0.005 of accuracy = 0.5 percentage points.
DELTA = 0.005
# The most seeds `seeds_for` looks at: beyond it a report says "more than" this many.
MOST_SEEDS = 1000
VERDICTS = ("better", "worse", "equivalent", "inconclusive", "too few seeds")


def describe(values, alpha=ALPHA):
    """Mean, sample std and the two-sided Student-t interval of the mean at level 1 - alpha (None where n < 2);
    the interval's key is `ci95` whatever the level, since callers spending alpha over looks keep 95 % overall."""
    values = np.asarray([v for v in values if v is not None], dtype="float64")
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = float(values.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = float(values.std(ddof=1))
    half = float(scipy_stats.t.ppf(1 - alpha / 2, n - 1) * std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def wilson(successes, n, alpha=ALPHA):
    """The Wilson score interval of a binomial proportion (successes may be fractional: ties count half)."""
    if n == 0:
        return None
    z = scipy_stats.norm.ppf(1 - alpha / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # The interval always holds p; clamped so that rounding at p = 0 or 1 never puts it outside.
    return [max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))]


def detectable(sd, n, alpha=ALPHA, power=POWER):
    """The true mean difference a two-sided paired t-test at `alpha` detects with `power`, given the
    differences' standard deviation `sd` over `n` pairs (the usual normal-shift approximation of the
    noncentral t)."""
    if n < 2 or sd is None:
        return None
    df = n - 1
    return float((scipy_stats.t.ppf(1 - alpha / 2, df) + scipy_stats.t.ppf(power, df)) * sd / math.sqrt(n))


def seeds_for(sd, target, alpha=ALPHA, most=MOST_SEEDS):
    """The fewest seeds n >= 2 whose paired t interval, at the spread `sd` of the differences, has a half-width of
    at most `target`: t_{1-alpha/2, n-1} * sd / sqrt(n) <= target; None without a spread or beyond `most`."""
    if sd is None:
        return None
    for n in range(2, most + 1):
        if scipy_stats.t.ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n) <= target:
            return n
    return None


def fmt_seeds(need, most=MOST_SEEDS):
    """A `seeds_for` result as a report prints it: the number, or "more than `most`" where it found none."""
    return f"more than {most}" if need is None else str(need)


def paired_difference(candidate, baseline, alpha=ALPHA, delta=DELTA, lower_is_better=False):
    """Paired comparison of `candidate - baseline` over the seeds both have (dicts seed -> value).

    `lower_is_better` (a loss, bits per byte): a negative difference is the improvement, which the probability
    of improvement counts and `verdict` calls "better"; `mean_diff` and its interval keep their sign.

    Returns the mean difference, its t interval at level 1 - alpha (`ci95`, `half_width`), the two-sided p-value
    and the TOST p-value for equivalence within ±delta, the probability of improvement with its Wilson interval,
    the arms' correlation and `sd` (for `mde`, which `adjust` sets once it knows the family). p is None with
    fewer than 2 pairs, and 1.0 when every difference is identical to zero (no evidence of a difference).
    """
    seeds = sorted(set(candidate) & set(baseline))
    pairs = [(candidate[s], baseline[s]) for s in seeds if candidate[s] is not None and baseline[s] is not None]
    arms = np.asarray(pairs, dtype="float64").reshape(-1, 2)
    diffs = arms[:, 0] - arms[:, 1]
    n = len(diffs)
    wins = float(np.sum(diffs < 0 if lower_is_better else diffs > 0) + 0.5 * np.sum(diffs == 0))
    result = {"n_pairs": n, "mean_diff": float(diffs.mean()) if n else None, "ci95": None, "half_width": None,
              "p_value": None, "p_equivalence": None, "delta": delta, "alpha": alpha, "sd": None, "mde": None,
              "prob_improvement": wins / n if n else None, "prob_improvement_ci95": wilson(wins, n),
              "correlation": None,
              # Only where it is so: the comparisons stored before the key existed stay equal to recomputed ones.
              **({"lower_is_better": True} if lower_is_better else {})}
    if n < 2:
        return result
    if arms[:, 0].std() > 0 and arms[:, 1].std() > 0:
        result["correlation"] = float(np.corrcoef(arms[:, 0], arms[:, 1])[0, 1])
    mean, sd = float(diffs.mean()), float(diffs.std(ddof=1))
    result["sd"] = sd
    if sd == 0:
        result["p_value"] = 1.0 if mean == 0 else 0.0
        result["p_equivalence"] = 0.0 if abs(mean) < delta else 1.0
        result["ci95"], result["half_width"] = [mean, mean], 0.0
        return result
    se = sd / math.sqrt(n)
    half = float(scipy_stats.t.ppf(1 - alpha / 2, n - 1) * se)
    result["ci95"], result["half_width"] = [mean - half, mean + half], half
    result["p_value"] = float(2 * scipy_stats.t.sf(abs(mean) / se, n - 1))
    # TOST: H0 "diff <= -delta" and H0 "diff >= +delta", each one-sided; equivalence needs both rejected.
    result["p_equivalence"] = float(max(scipy_stats.t.sf((mean + delta) / se, n - 1),
                                        scipy_stats.t.sf((delta - mean) / se, n - 1)))
    return result


def holm(p_values):
    """Holm-Bonferroni adjusted p-values (None entries stay None), controlling the family-wise error rate."""
    indexed = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted = [None] * len(p_values)
    running = 0.0
    m = len(indexed)
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def adjust(comparisons, alpha=ALPHA):
    """Sets `p_adjusted`, `p_equivalence_adjusted` (Holm over the family, each), `mde` (at the family's
    Bonferroni level) and `verdict` on each comparison dict; None entries are skipped."""
    present = [c for c in comparisons if c is not None]
    family = max(1, sum(c["p_value"] is not None for c in present))
    p_adjusted = holm([c["p_value"] for c in present])
    p_equivalence = holm([c.get("p_equivalence") for c in present])
    for comparison, p, p_eq in zip(present, p_adjusted, p_equivalence):
        comparison["p_adjusted"] = p
        comparison["p_equivalence_adjusted"] = p_eq
        comparison["mde"] = detectable(comparison.get("sd"), comparison["n_pairs"], alpha / family)
        comparison["verdict"] = verdict(comparison, alpha)
    return comparisons


def verdict(comparison, alpha=ALPHA):
    """One of VERDICTS from the adjusted p-values: a detected difference first, then equivalence, else
    "inconclusive"."""
    p = comparison.get("p_adjusted")
    if p is None:
        return "too few seeds"
    if p < alpha:
        improved = comparison["mean_diff"] < 0 if comparison.get("lower_is_better") else comparison["mean_diff"] > 0
        return "better" if improved else "worse"
    p_eq = comparison.get("p_equivalence_adjusted")
    if p_eq is not None and p_eq < alpha:
        return "equivalent"
    return "inconclusive"


def verdict_text(comparison, scale=100, unit="points"):
    """The verdict in the report's words, with its numbers in `unit` (the metric times `scale`):
    "better", "worse", "equivalent within ±0.50 points", "inconclusive: could not detect less than 1.23 points"."""
    word = comparison.get("verdict") or "too few seeds"
    if word == "equivalent":
        return f"equivalent within ±{scale * comparison['delta']:.2f} {unit}"
    if word == "inconclusive":
        mde = comparison.get("mde")
        return "inconclusive" if mde is None else f"inconclusive: could not detect less than {scale * mde:.2f} {unit}"
    return word


def claim_outcome(verdicts, want):
    """Whether comparisons back a claim that each goes the way `want` ("better" or "worse"): "holds here" (all
    do), "holds in part" (some do), "not supported here" (none does, and every one of them could have detected
    it: equivalent, or the other way), "inconclusive" (none does, and some could not tell), "too few seeds to
    tell"."""
    verdicts = list(verdicts)
    if not verdicts or any(v == "too few seeds" for v in verdicts):
        return "too few seeds to tell"
    if all(v == want for v in verdicts):
        return "holds here"
    if any(v == want for v in verdicts):
        return "holds in part"
    if any(v == "inconclusive" for v in verdicts):
        return "inconclusive"
    return "not supported here"

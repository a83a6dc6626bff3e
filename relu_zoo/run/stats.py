"""Statistics for comparing activations across seeds: means, t intervals, paired tests, Holm correction."""

import math

import numpy as np
from scipy import stats as scipy_stats

ALPHA = 0.05


def describe(values):
    """Mean, sample std and the 95% Student-t confidence interval of the mean (None where n < 2)."""
    values = np.asarray([v for v in values if v is not None], dtype="float64")
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = float(values.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = float(values.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def paired_difference(candidate, baseline):
    """Paired t-test of `candidate - baseline` over the seeds both have (dicts seed -> value).

    Returns the mean difference, its 95% CI and the two-sided p-value; p is
    None with fewer than 2 pairs, and 1.0 when every difference is identical
    to zero (no evidence of a difference).
    """
    seeds = sorted(set(candidate) & set(baseline))
    pairs = [(candidate[s], baseline[s]) for s in seeds if candidate[s] is not None and baseline[s] is not None]
    diffs = np.asarray([c - b for c, b in pairs], dtype="float64")
    result = {"n_pairs": len(diffs), "mean_diff": float(diffs.mean()) if len(diffs) else None,
              "ci95": None, "p_value": None}
    if len(diffs) < 2:
        return result
    std = diffs.std(ddof=1)
    if std == 0:
        result["p_value"] = 1.0 if diffs.mean() == 0 else 0.0
        result["ci95"] = [float(diffs.mean())] * 2
        return result
    half = scipy_stats.t.ppf(0.975, len(diffs) - 1) * std / math.sqrt(len(diffs))
    result["ci95"] = [float(diffs.mean() - half), float(diffs.mean() + half)]
    result["p_value"] = float(scipy_stats.ttest_rel([c for c, _ in pairs], [b for _, b in pairs]).pvalue)
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
    """Sets `p_adjusted` (Holm over the family) and `verdict` on each comparison dict; None entries are skipped."""
    adjusted = holm([c["p_value"] if c is not None else None for c in comparisons])
    for comparison, p in zip(comparisons, adjusted):
        if comparison is not None:
            comparison["p_adjusted"] = p
            comparison["verdict"] = verdict(comparison, alpha)
    return comparisons


def verdict(comparison, alpha=ALPHA):
    """'better' / 'worse' / 'not significant' / 'too few seeds' from an adjusted p-value and the difference."""
    p = comparison.get("p_adjusted")
    if p is None:
        return "too few seeds"
    if p >= alpha:
        return "not significant"
    return "better" if comparison["mean_diff"] > 0 else "worse"

"""Seeds until the question is answered (`target_ci`): the planned looks, the level of their intervals, the rule.

A sweep with `target_ci` trains its seeds in rounds, every activation on the same new seeds, and after each round
(a *look*) computes each paired interval: an activation's test accuracy minus the baseline's (the first
activation), per task and model, over the seeds where both finished. It stops at the first look where every
interval's half-width is at most `target_ci` accuracy points, or at `max_seeds`. The looks are planned before the
first run: `seeds` (a count n0 >= 3, seeds 0 ... n0-1), then 2 n0, 4 n0, ..., and `max_seeds` last.

Why the intervals are wider than 95% ones. Stopping when an interval looks narrow picks the looks where the
sample spread came out small, so the ordinary 95% t interval at the look the rule stopped at covers the true
difference less often than 95% (tests/run/test_sequential.py measures how much). The correction is Bonferroni
alpha-spending over the K planned looks: every look's interval is a two-sided t interval at level
1 - 0.05 / K. The chance that any of the K intervals misses the true difference is at most K x 0.05 / K, so the
interval reported at whichever look the rule stops at covers it with probability >= 95% whatever the stopping
rule (exactly for normally distributed differences, as far as the t interval holds otherwise). The rule looks
only at the spread (the half-widths), never at the sign or size of a difference, so it cannot steer the sweep
towards a verdict; and it checks the corrected interval, so the interval reported meets the target when it says so.

The price: with 5 looks each interval uses the 99.5% t quantile instead of the 97.5% one (2.58 instead of 1.96
for many seeds), so a target is met with about (2.58 / 1.96)^2 = 1.7 times the seeds a single planned look would
need, and the doubling overshoots the seeds that would just do by up to a factor of 2.

The loop that trains the rounds is relu_zoo.run.rounds; this module is the design and needs no training.
"""

import math

import numpy as np
from scipy import stats as scipy_stats

from relu_zoo.run.spec import activation_label
from relu_zoo.run.stats import ALPHA
from relu_zoo.run.values import seed_count


def looks(initial, max_seeds):
    """The planned seed counts: `initial`, doubling, and exactly `max_seeds` last ([3, 6, 12, 24, 40] for 3, 40)."""
    if not 1 <= initial <= max_seeds:
        raise ValueError(f"Looks need 1 <= initial <= max_seeds. Received: initial={initial}, max_seeds={max_seeds}")
    planned = [initial]
    while 2 * planned[-1] < max_seeds:
        planned.append(2 * planned[-1])
    if planned[-1] != max_seeds:
        planned.append(max_seeds)
    return planned


def _setting(config, key):
    # A SweepConfig, or the sweep configuration a run record holds (a mapping).
    return config.get(key) if isinstance(config, dict) else getattr(config, key, None)


def plan(config):
    """The looks of `config`'s design (a SweepConfig or a record's stored sweep configuration); None without
    `target_ci`. Every run of such a sweep records the configuration it started with (the first round's seeds),
    so the plan can be read back from any record."""
    if config is None or _setting(config, "target_ci") is None:
        return None
    return looks(len(_setting(config, "seeds")), _setting(config, "max_seeds"))


def alpha_per_look(config):
    """The two-sided level that every interval of `config`'s sweep is computed at: 0.05 split evenly over the
    planned looks when it sets `target_ci` (Bonferroni), else 0.05. `config`: as for `plan`."""
    planned = plan(config)
    return ALPHA if planned is None else ALPHA / len(planned)


def half_width(differences, alpha):
    """The half-width of the two-sided t interval at level 1 - `alpha` for the mean of `differences`, taken along
    the last axis (one paired comparison per row); inf where there are fewer than 2 differences."""
    differences = np.asarray(differences, dtype="float64")
    n = differences.shape[-1]
    if n < 2:
        width = np.full(differences.shape[:-1], np.inf)
    else:
        width = scipy_stats.t.ppf(1 - alpha / 2, n - 1) * differences.std(axis=-1, ddof=1) / math.sqrt(n)
    return float(width) if np.ndim(width) == 0 else width


def target_met(widths, target):
    """The rule: whether every half-width along the last axis of `widths` is at most `target`."""
    return np.all(np.asarray(widths, dtype="float64") <= target, axis=-1)


def paired_differences(results, config, n):
    """{(task, model, activation): its test accuracy minus the baseline's, in points, over seeds 0 ... n-1} for
    every activation but the first. A seed counts where both runs finished; a diverged run leaves its seed out."""
    accuracy = {}
    for r in results:
        if r["status"] == "ok" and r["seed"] < n and r["task"] in config.tasks and r["model"] in config.models:
            accuracy.setdefault((r["task"], r["model"], r["activation"]), {})[r["seed"]] = r["test_accuracy"]
    baseline, *others = [activation_label(a) for a in config.activations]
    differences = {}
    for task in config.tasks:
        for model in config.models:
            base = accuracy.get((task, model, baseline), {})
            for label in others:
                mine = accuracy.get((task, model, label), {})
                seeds = sorted(set(base) & set(mine))
                differences[(task, model, label)] = np.array([100 * (mine[s] - base[s]) for s in seeds])
    return differences


def _complete(results, config, n):
    """Whether every run of seeds 0 ... n-1 has a record (finished or diverged)."""
    have = {(r["task"], r["model"], r["activation"], r["seed"]) for r in results}
    return all((t, m, activation_label(a), s) in have for t in config.tasks for m in config.models
               for a in config.activations for s in range(n))


def progress(results, config):
    """The rule replayed on the finished runs `results` of `config`'s sweep: the record of its looks so far.

    Each planned look whose runs are all recorded is assessed in turn, until one meets the target or the last is
    reached (`stopped` is then that look's number, from 1) or the next look's runs are not all recorded yet
    (`stopped` is None). A pure function of the records, so a resumed sweep stops where an uninterrupted one did.
    """
    planned, alpha = plan(config), alpha_per_look(config)
    record = {"target_ci": config.target_ci, "max_seeds": config.max_seeds, "looks": planned,
              "alpha_per_look": alpha, "seen": [], "stopped": None, "target_met": None}
    for number, n in enumerate(planned, 1):
        if not _complete(results, config, n):
            break
        widths = {key: half_width(d, alpha) for key, d in paired_differences(results, config, n).items()}
        (task, model, label), widest = max(widths.items(), key=lambda item: item[1])
        met = bool(target_met(list(widths.values()), config.target_ci))
        record["seen"].append({
            "look": number, "seeds": n, "widest_half_width": None if math.isinf(widest) else widest,
            "widest": f"{label} on {task}/{model}", "target_met": met,
            # JSON holds no inf: None where fewer than 2 seeds have both runs.
            "half_widths": [{"task": t, "model": m, "activation": a, "half_width": None if math.isinf(w) else w}
                            for (t, m, a), w in widths.items()]})
        if met or number == len(planned):
            record["stopped"], record["target_met"] = number, met
            break
    return record


def _target(target):
    # Two decimals as the report prints points, unless the target has more (0.001 is not "0.00").
    return f"{target:.2f}" if abs(target - round(target, 2)) < 1e-9 else f"{target:g}"


def _points(width):
    return "undefined (fewer than 2 seeds with both runs finished)" if width is None else f"{width:.2f}"


def look_line(record, look):
    """One log line for look `look` (an entry of `record["seen"]`)."""
    planned, target = record["looks"], record["target_ci"]
    if look["target_met"]:
        then = "met, stopping"
    elif look["look"] == len(planned):
        then = f"not met at the cap of {look['seeds']} seeds"
    else:
        then = "adding seeds"
    return (f"look {look['look']}/{len(planned)}: {look['seeds']} seeds, widest paired half-width "
            f"{_points(look['widest_half_width'])} points ({look['widest']}), target {_target(target)}: {then}")


def outcome(record):
    """One sentence: where the rule stopped and whether the target was met (or, for a sweep still between looks,
    where it stands)."""
    last = record["seen"][-1]
    if record["stopped"] is None:
        return (f"still adding seeds: at look {last['look']} of {len(record['looks'])} ({last['seeds']} seeds) the "
                f"widest half-width was {_points(last['widest_half_width'])} ({last['widest']}), target "
                f"{_target(record['target_ci'])} points")
    if record["target_met"]:
        return (f"target {_target(record['target_ci'])} points met at {last['seeds']} seeds (look {last['look']} of "
                f"{len(record['looks'])}): widest half-width {_points(last['widest_half_width'])}")
    return (f"target {_target(record['target_ci'])} points not reached at {last['seeds']} seeds: widest half-width "
            f"{_points(last['widest_half_width'])} ({last['widest']})")


def markdown(record):
    """The report's paragraph on the rule: the outcome and the intervals' level."""
    level = 100 * (1 - record["alpha_per_look"])
    return (f"**Seeds until the target (`--target-ci {record['target_ci']:g}`)**: {outcome(record)}. Looks planned "
            f"at {', '.join(map(str, record['looks']))} seeds; every interval is a {level:.4g}% t interval (0.05 "
            f"split over the {len(record['looks'])} looks, Bonferroni), so each one reported covers the true "
            "difference with at least 95% probability whatever look the rule stopped at. Details: `sequential.json`.")

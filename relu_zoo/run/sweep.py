"""A sweep: every unfinished run of the grid (or of this process's shard), one after another, then the report.

Several processes may run the same sweep on one `--out`: each locks a run before training it
(relu_zoo.run.locks), so each run is trained once, and the process that finds every run recorded when it
is done writes the report, a pure function of the records, so it equals an undisturbed sweep's.

`train.py` is a thin command line over `sweep`.
"""

import dataclasses
import time
import zlib
from pathlib import Path

from relu_zoo.run import locks, store
from relu_zoo.run.distribute import Distribution
from relu_zoo.run.plan import run_grid, runs_of
from relu_zoo.run.report import write_report
from relu_zoo.run.spec import ConfigError
from relu_zoo.run.train import TaskCache, run_one


def pending(config, out, seeds=None):
    """(this process's runs, those without a result yet); `seeds`: as for `sweep`."""
    runs = runs_of(config if seeds is None else dataclasses.replace(config, seeds=list(seeds)))
    return runs, [run for run in runs if not store.is_finished(out, run)]


def log_result(result, log, seconds):
    if result["status"] == "diverged":
        log(f"[{result['run_id']}] diverged at epoch {result['diverged_epoch']}; recorded, sweep goes on")
    else:
        metric = result.get("metric", "accuracy")
        scored = "" if metric == "accuracy" else f", {metric.replace('_', ' ')} {result[f'test_{metric}']:.4f}"
        log(f"[{result['run_id']}] test accuracy {result['test_accuracy']:.4f}{scored} ({seconds:.0f} s)")


def load_data(cache, task, config):
    """The task's data; a ConfigError naming the data folder when its files cannot be read."""
    import tensorflow as tf
    from google.protobuf import json_format, message

    try:
        data = cache.get(task)
        data.num_examples  # one pass over every split: damaged files fail here, not in the middle of a run
        return data
    except (OSError, ValueError, message.Error, json_format.Error, tf.errors.OpError) as e:
        from relu_zoo.tasks import get, resolve_data_dir

        name = get(task).tfds_name
        detail = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ConfigError(f"Could not read the {name} data in {resolve_data_dir(config.data_dir)!r} ({detail}). "
                          f"Prepare it again (`tfds build {name} --data_dir DIR`) or point --data-dir / "
                          "TFDS_DATA_DIR at a readable copy.") from None


DATA_KEYS = ("max_train_examples", "max_eval_examples", "batch_size", "data_dir")


def same_data(a, b):
    """Whether two configs load every task's data the same way (a TaskCache of one serves the other)."""
    return all(getattr(a, k) == getattr(b, k) for k in DATA_KEYS)


def train_run(run, runs, config, out, cache, log, command, distribution):
    log(f"[{runs.index(run) + 1}/{len(runs)}] {run.run_id}")
    started = time.perf_counter()
    result = run_one(run, config, cache.get(run.task), store.run_dir(out, run), log=log, command=command,
                     distribution=distribution)
    log_result(result, log, time.perf_counter() - started)


def lock_and_train(runs, config, out, cache, log, command, distribution):
    """One pass over `runs`: trains each unfinished run this process can lock (relu_zoo.run.locks).
    Returns whether it trained any: then runs whose holders died meanwhile may be left for another pass."""
    trained = False
    for run in runs:
        if store.is_finished(out, run):
            continue
        lock, _ = locks.try_lock(out, run.run_id)
        if lock is None:
            continue
        with lock:
            # The previous holder may have recorded it just before releasing; or its record may be unreadable.
            if store.prepare_run(out, run):
                continue
            train_run(run, runs, config, out, cache, log, command, distribution)
            trained = True
    return trained


def _to_create(out):
    """What `prepare_out_dir` creates in a fresh `out` (config.json, the missing folders), for
    `_remove_created` to take back when the sweep fails before it starts."""
    out = Path(out)
    created = [] if (out / "config.json").exists() else [out / "config.json"]
    folder = out
    while not folder.exists() and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    return created


def _remove_created(out, created):
    """Removes `created` (from `_to_create`) unless a run began in `out` meanwhile (another process of the same
    sweep): a sweep that never started leaves no config.json and no empty folders behind."""
    out = Path(out)
    if (out / "runs").exists() or (out / "claims").exists():
        return
    for path in created:  # deepest first
        try:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        except OSError:  # a folder someone else wrote to meanwhile, or gone already: leave it
            return


def sweep(config, log=print, command=None, distribution=None, cache=None, seeds=None):
    """Runs every unfinished run of the grid, then writes the report. Returns the summary.md path, or None when
    this process writes no report: a multi-worker non-chief, or while other processes still train runs of
    the same `out` (the last of them writes it).

    Any number of processes can run the same sweep on one `out`: each run is claimed by one of them.

    `cache`: a `TaskCache` to reuse across sweeps that load the data the same way (relu_zoo.studies runs one
    sweep per grid cell); it must have been made for a config with this one's data settings.

    `seeds`: train these seeds instead of `config.seeds`: a round of a `target_ci` sweep (relu_zoo.run.rounds),
    whose records and report keep the configuration it was started with, from which its design is read."""
    distribution = distribution or Distribution()
    created = _to_create(config.out) if distribution.is_chief else []
    out = store.prepare_out_dir(config, write=distribution.is_chief)  # a bad --out fails before the data loads
    try:
        runs, todo = pending(config, out, seeds)
        if config.shard:
            log(f"shard {config.shard}: {len(runs)} of {len(run_grid(config))} runs")
        distribution.agree("the runs left to do", zlib.crc32(" ".join(run.run_id for run in todo).encode()))
        if cache is not None and not same_data(cache.config, config):
            raise ValueError("The TaskCache passed to sweep() was made for other data settings.")
        cache = cache or TaskCache(config)
        for task in dict.fromkeys(run.task for run in todo):
            load_data(cache, task, config)  # missing or unreadable data fails here, before any training starts
    except BaseException:
        _remove_created(out, created)
        raise
    unfinished, busy = [], {}
    if distribution.kind == "multi_worker":
        # The workers of one multi-worker sweep train the same runs in lockstep, so they take no locks.
        for run in todo:
            if distribution.is_chief:
                store.prepare_run(out, run)
            train_run(run, runs, config, out, cache, log, command, distribution)
    else:
        while True:
            trained = lock_and_train(runs, config, out, cache, log, command, distribution)
            unfinished = [run.run_id for run in runs if not store.is_finished(out, run)]
            busy = locks.holders(out, unfinished)
            # Another pass while a run is neither recorded nor held: its holder stopped after this pass looked.
            if not unfinished or (not trained and len(busy) == len(unfinished)):
                break
    if not distribution.is_chief:
        return None
    return finish(out, runs, len(runs) - len(todo), config, command, log)


def finish(out, runs, skipped, config, command, log):
    """Ends a sweep over `runs` (`skipped` of them were finished before it started): writes the report and
    returns its path, unless other processes still hold some of the runs (the last of them to finish writes
    it; returns None)."""
    if skipped:
        log(f"{skipped} finished run(s) were already in {out} and were skipped.")
    unfinished = [run.run_id for run in runs if not store.is_finished(out, run)]
    if unfinished:
        busy = locks.holders(out, unfinished)
        who = sorted({f"{h.get('host')} pid {h.get('pid')}" for h in busy.values()})
        log(f"{len(busy)} run(s) are still being trained by other processes ({', '.join(who)}); the last of them "
            "to finish writes the report." if len(busy) == len(unfinished) else
            f"{len(unfinished)} run(s) are not finished ({len(busy)} held by other processes); re-run the same "
            "command to train the rest and write the report.")
        return None
    return write_report([out], out, config=config, command=command)

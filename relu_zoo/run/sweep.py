"""A sweep: every unfinished run of the grid (or of this process's shard), one after another, then the report.

`train.py` is a thin command line over `sweep`.
"""

import time
import zlib

from relu_zoo.run import store
from relu_zoo.run.distribute import Distribution
from relu_zoo.run.plan import run_grid, runs_of
from relu_zoo.run.report import write_report
from relu_zoo.run.train import TaskCache, run_one


def pending(config, out):
    """(this process's runs, those without a result yet)."""
    runs = runs_of(config)
    return runs, [run for run in runs if not store.is_finished(out, run)]


def log_result(result, log, seconds):
    if result["status"] == "diverged":
        log(f"[{result['run_id']}] diverged at epoch {result['diverged_epoch']}; recorded, sweep goes on")
    else:
        log(f"[{result['run_id']}] test accuracy {result['test_accuracy']:.4f} ({seconds:.0f} s)")


def sweep(config, log=print, command=None, distribution=None):
    """Runs every unfinished run of the grid, then writes the report. Returns the summary.md path (None on a
    multi-worker non-chief, which writes nothing into `out`)."""
    distribution = distribution or Distribution()
    out = store.prepare_out_dir(config, write=distribution.is_chief)
    runs, todo = pending(config, out)
    if config.shard:
        log(f"shard {config.shard}: {len(runs)} of {len(run_grid(config))} runs")
    distribution.agree("the runs left to do", zlib.crc32(" ".join(run.run_id for run in todo).encode()))
    cache = TaskCache(config)
    for task in dict.fromkeys(run.task for run in todo):
        cache.get(task)  # missing data fails here, before any training starts
    for run in todo:
        log(f"[{runs.index(run) + 1}/{len(runs)}] {run.run_id}")
        started = time.perf_counter()
        result = run_one(run, config, cache.get(run.task), store.run_dir(out, run), log=log, command=command,
                         distribution=distribution)
        log_result(result, log, time.perf_counter() - started)
    if len(runs) > len(todo):
        log(f"{len(runs) - len(todo)} finished run(s) were already in {out} and were skipped.")
    if not distribution.is_chief:
        return None
    return write_report([out], out, config=config, command=command)

"""A sweep over a Ray cluster (`train.py --ray`): every unfinished run of the grid is one Ray task.

Each task asks Ray for `cpus_per_run` CPUs and `gpus_per_run` GPUs and calls the same `run_one` as the
single-process sweep, writing into the same `--out` folder; the driver waits for every task, then writes the
report exactly as `relu_zoo.run.sweep` does. Runs are seeded and op-deterministic, so the results equal the
single-process sweep's (tests/run/test_ray.py compares them).

On a cluster of several machines, `--out` and the TFDS data must be on a filesystem every node sees, and every
node needs the same relu_zoo environment. Imported only for `--ray`: Ray is an optional dependency
(`pip install 'relu_zoo[ray]'`).
"""

import json
import os
import socket
import time

import ray

from relu_zoo import tasks
from relu_zoo.run import locks, store
from relu_zoo.run.spec import ConfigError
from relu_zoo.run.sweep import finish, log_result, pending
from relu_zoo.run.train import TaskCache, download_mode, run_one
from relu_zoo.tasks.tfds_data import open_builder


class RunsFailed(RuntimeError):
    """Some runs raised; the others are recorded in `--out`, and re-running the command retries the failed."""


def ray_sweep(config, log=print, command=None, address=None, cpus_per_run=1, gpus_per_run=0):
    """Runs every unfinished run of the grid as a Ray task, then writes the report. Returns the summary.md path.

    `address`: the cluster to join ("auto": the one started with `ray start` on this machine, or
    "HOST:PORT"); `None` joins a cluster this process already initialized, else starts a local one.
    """
    if config.distribute:
        raise ConfigError("--ray runs each run as one Ray task on the resources it requests "
                          "(--ray-cpus-per-run, --ray-gpus-per-run); it does not combine with --distribute.")
    if cpus_per_run <= 0 or gpus_per_run < 0:
        raise ConfigError(f"--ray-cpus-per-run must be > 0 and --ray-gpus-per-run >= 0. Received: "
                          f"cpus_per_run={cpus_per_run}, gpus_per_run={gpus_per_run}")
    out = store.prepare_out_dir(config)
    runs, todo = pending(config, out)
    for task in dict.fromkeys(run.task for run in todo):
        # Missing data is downloaded (or fails) here, once, before any task: not by every worker at once.
        open_builder(tasks.get(task).tfds_name, data_dir=config.data_dir, download=download_mode(config))

    started_here = not ray.is_initialized()
    if started_here:
        # Workers on this machine inherit the driver's environment; forward where the data is to other nodes.
        env = {k: os.environ[k] for k in ("TFDS_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL") if k in os.environ}
        ray.init(address=address, include_dashboard=False, runtime_env={"env_vars": env} if env else None)
    try:
        resources = ray.cluster_resources()
        log(f"Ray: {len(todo)} run(s) as tasks of {cpus_per_run:g} CPU / {gpus_per_run:g} GPU each, on "
            f"{resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs")
        train = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run)(_train_run)
        failures = {}
        while True:
            # Like relu_zoo.run.sweep: a run that another process (another sweep on this `out`) holds is left to
            # it; one whose holder stopped meanwhile is submitted in the next pass.
            free = [run for run in runs if run.run_id not in failures and not store.is_finished(out, run)]
            busy = locks.holders(out, [run.run_id for run in free])
            free = [run for run in free if run.run_id not in busy]
            if not free:
                break
            _wait_all({train.remote(run, config, str(out), command, cpus_per_run): run for run in free}, runs, out,
                      log, failures)
    finally:
        if started_here:
            ray.shutdown()
    if failures:
        raise RunsFailed(f"{len(failures)} of {len(todo)} run(s) failed: {', '.join(failures)}. The other runs are "
                         f"recorded in {out}; re-run the same command to retry the failed ones.")
    return finish(out, runs, len(runs) - len(todo), config, command, log)


def _wait_all(refs, runs, out, log, failures):
    """Logs each run as its task ends and records failures (run id -> error) in `failures`."""
    refs = dict(refs)
    while refs:
        (ready,), _ = ray.wait(list(refs), num_returns=1)
        run = refs.pop(ready)
        try:
            result, seconds, host = ray.get(ready)
        except ray.exceptions.RayError as e:
            log(f"[{run.run_id}] FAILED: {e}")
            failures[run.run_id] = str(e)
            continue
        if result is None:
            continue  # locked by another process, or recorded by one, before this task started
        if not store.is_finished(out, run):
            failures[run.run_id] = "record not visible to the driver"
            log(f"[{run.run_id}] finished on {host}, but {store.run_dir(out, run) / store.RESULT_FILE} does not "
                "exist here: --out must be on a filesystem every Ray node sees.")
            continue
        log(f"[{runs.index(run) + 1}/{len(runs)}] {run.run_id} on {host}")
        log_result(result, log, seconds)


# One TaskCache per sweep configuration in each Ray worker process, which Ray reuses for later tasks.
_CACHES = {}


def _train_run(run, config, out, command, threads):
    """The Ray task: locks the run and trains it exactly as the single-process sweep does.

    Returns (result, seconds, host); result is None when another process holds or has recorded the run."""
    import tensorflow as tf

    try:
        # Ray reserves `threads` CPUs for this task; TensorFlow would otherwise use every core of the node.
        # The thread count changes how Eigen splits reductions, so the numbers equal a single-process sweep's
        # bit for bit when that one uses as many threads (TF_NUM_INTRAOP_THREADS); see docs/howto/sweeps.md.
        tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
    except RuntimeError:
        pass  # a reused worker: TensorFlow is initialized and keeps the setting of its first task
    host = socket.gethostname()
    lock, _ = locks.try_lock(out, run.run_id)
    if lock is None:
        return None, 0.0, host
    with lock:
        if store.prepare_run(out, run):
            return None, 0.0, host
        key = json.dumps([config.data_dir, config.batch_size, config.max_train_examples, config.max_eval_examples])
        cache = _CACHES.setdefault(key, TaskCache(config))
        started = time.perf_counter()
        result = run_one(run, config, cache.get(run.task), store.run_dir(out, run), command=command)
    return result, time.perf_counter() - started, host

"""`relu-zoo train --jobs N`: N processes on this machine train one sweep's runs side by side.

A small net keeps two cores only partly busy: much of a short run is single-threaded (tracing, the input
pipeline's Python, diagnostics, evaluation), and its small convolutions gain little from a second thread. N
processes with cores/N threads each overlap all of it (benchmarks/reports/default measures both ways). They
share the sweep's `--out` like any processes do: each run is locked before it is trained (relu_zoo.run.locks),
so it is trained once, and the last process to finish writes the report. A run's numbers may differ in the
last bits from the same run trained with another number of threads (the order of a sum over threads).
"""

import os
import subprocess
import sys

# TensorFlow reads these when its runtime starts: a started process cannot be given other thread counts.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
# PyTorch reads it when it is imported (its OpenMP threads, also on Keras' torch backend).
TORCH_THREADS = "OMP_NUM_THREADS"


def threads_per_job(jobs, cores=None):
    return max(1, (cores or os.cpu_count() or 1) // jobs)


def without_jobs(argv):
    """`argv` without its `--jobs N` / `--jobs=N`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--jobs":
            skip = True
        elif not arg.startswith("--jobs="):
            out.append(arg)
    return out


def use_threads(threads):
    """This process' thread counts, before its runtime starts (before any tensor is made): TensorFlow's, which
    trains or (on Keras' other backends) reads the data, and PyTorch's where Keras trains with it; left at every
    core, N processes of PyTorch's spinning OpenMP threads on the same cores slow each other many times over."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)


def start(argv, jobs):
    """Starts `jobs - 1` more processes of `relu-zoo train argv` (without --jobs), `threads_per_job` threads each;
    this process is the N-th. Their lines go to this process' stdout and stderr."""
    threads = threads_per_job(jobs)
    env = {**os.environ, THREAD_VARIABLES[0]: str(threads), THREAD_VARIABLES[1]: "1", TORCH_THREADS: str(threads)}
    command = [sys.executable, "-m", "relu_zoo.console", "train", *without_jobs(argv), "--verbose", "0"]
    return [subprocess.Popen(command, env=env) for _ in range(jobs - 1)]


def stop(processes, timeout=60):
    """Asks the other processes to stop (SIGTERM: each keeps its finished runs and resume point) and waits."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait(processes):
    """Waits for the other processes; returns the first non-zero exit status, or 0."""
    codes = [process.wait() for process in processes]
    return next((code for code in codes if code), 0)

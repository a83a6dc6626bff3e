"""`python train.py ...` in a child process, as the benchmarks time it: its wall time, its own peak resident memory
and its results.json; and a preset's runs (ReLU, some seeds) reduced to what the benchmark tables show."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.reporting import REPO

# The flags of every timed preset run: one activation, no diagnostics (their probe passes are not training).
PRESET_FLAGS = ["--activations", "relu", "--no-diagnostics", "--verbose", "0"]


def train_py(args, out):
    """Runs `train.py args --out out` in a child process; returns its command (as a user types it), wall time, own
    peak RSS and results.json."""
    command = [sys.executable, str(REPO / "train.py"), *args, "--out", str(out)]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True, cwd=REPO)
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would be the max over all children).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed (exit {proc.returncode}):\n{stderr.read()[-3000:]}")
    return {"command": " ".join(["python train.py", *args]), "wall_s": time.perf_counter() - start,
            "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
            "results": json.loads((Path(out) / "results.json").read_text())}


def preset_run(preset, seeds=1, extra=()):
    """`train.py --preset P` with ReLU and `seeds` seeds in one child process: each seed's test accuracy and
    training seconds (the sum of its Keras epoch times), seed 0's as the row."""
    with tempfile.TemporaryDirectory() as out:
        run = train_py(["--preset", preset, "--seeds", str(seeds), *PRESET_FLAGS, *extra], out)
    runs = sorted(run["results"]["runs"], key=lambda r: r["seed"])
    per_seed = [{"seed": r["seed"], "test_accuracy": r["test_accuracy"], "train_s": sum(r["epoch_times"])}
                for r in runs]
    return {"preset": preset, "command": run["command"], "process_s": run["wall_s"], "model": runs[0]["model"],
            "epochs": runs[0]["epochs"], "params": runs[0]["params"], "dtype_policy": runs[0].get("dtype_policy"),
            "seeds": per_seed,
            "test_accuracy": per_seed[0]["test_accuracy"], "train_s": per_seed[0]["train_s"]}


def report_files(out):
    """The report files a sweep wrote into `out` (its top-level files and plots)."""
    return sorted(str(p.relative_to(out)) for p in Path(out).glob("*") if p.is_file()) + sorted(
        f"plots/{p.name}" for p in (Path(out) / "plots").glob("*.png"))

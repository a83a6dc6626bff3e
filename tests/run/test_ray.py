"""train.py --ray on a local Ray cluster: the same run records and report as the single-process sweep."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
# A tiny sweep of two runs: mnist, a narrow MLP, one epoch on 512 examples.
SWEEP = ["--task", "mnist", "--model", "mlp", "--activations", "relu,prelu", "--seeds", "1", "--epochs", "1",
         "--max-train-examples", "512", "--max-eval-examples", "256", "--batch-size", "64",
         "--model-kwargs", '{"width": 32}', "--verbose", "0"]


def _require_ray():
    """Skips without Ray on a developer machine; fails when `CI` is set (CI installs it with `.[test]`), so CI
    cannot pass by skipping the Ray tests."""
    if importlib.util.find_spec("ray") is None:
        message = "Ray is not installed: pip install 'relu_zoo[ray]' (or '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local two-CPU Ray cluster; yields its address for `train.py --ray --ray-address`."""
    _require_ray()
    import ray

    context = ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()


def run_cli(args, env=None, timeout=900):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def _layer_order(name):
    """Keras numbers auto-named layers per process (re_lu, re_lu_1, ...): order by the number, not the name."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    return match.group(1), int(match.group(2) or -1)


def comparable(result):
    """A run record without what legitimately differs between processes: wall-clock times, memory, the command
    line, and the process-wide counter in Keras' automatic layer names (the layers are compared in order)."""
    drop = ("epoch_times", "mean_epoch_time", "run_seconds", "peak_memory_mb", "command", "diagnostics",
            "activation_config")
    record = {k: v for k, v in result.items() if k not in drop}
    record["history"] = [{k: v for k, v in h.items() if k != "epoch_time"} for h in result["history"]]
    record["diagnostics"] = [(e["epoch"], [e["layers"][n] for n in sorted(e["layers"], key=_layer_order)])
                             for e in result["diagnostics"] or []]
    config = dict(result["activation_config"] or {})
    config["config"] = {k: v for k, v in config.get("config", {}).items() if k != "name"}
    record["activation_config"] = config
    return record


def records(out):
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(Path(out).glob("runs/*/result.json"))}


def summary_rows(out):
    """summary.md's table rows without the timing column (wall-clock times differ between processes)."""
    lines = (Path(out) / "summary.md").read_text().splitlines()
    timing = next(line for line in lines if line.startswith("| activation")).split(" | ").index(
        "time/epoch vs baseline †")
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and not line.startswith("| activation")]
    return [row[:timing] + row[timing + 1:] for row in rows]


@pytest.mark.slow  # a fresh interpreter without Ray
def test_library_and_train_py_work_without_ray(tmp_path):
    """Ray stays optional: nothing but --ray imports it, and --ray without it is one clear error."""
    code = ("import sys; sys.modules['ray'] = None\n"  # any `import ray` now raises ImportError
            "import relu_zoo, relu_zoo.console, relu_zoo.run.sweep, relu_zoo.run.report\n"
            f"sys.exit(relu_zoo.console.main(['--ray', '--epochs', '1', '--out', {str(tmp_path / 'out')!r}], prog='train.py'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--ray needs Ray" in proc.stderr and "pip install 'relu_zoo[ray]'" in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_ray_refuses_distribute(tmp_path):
    _require_ray()
    from relu_zoo.run import spec
    from relu_zoo.run.ray_sweep import ray_sweep

    config = spec.resolve(overrides={"distribute": "mirrored", "out": str(tmp_path / "out")}, check=False)
    with pytest.raises(spec.ConfigError, match="does not combine with --distribute"):
        ray_sweep(config)
    with pytest.raises(spec.ConfigError, match="ray-cpus-per-run must be > 0"):
        ray_sweep(spec.resolve(overrides={"out": str(tmp_path / "out")}, check=False), cpus_per_run=0)


@pytest.mark.slow
def test_ray_sweep_equals_single_process_sweep(tmp_path, ray_cluster, real_tfds_dir):
    from relu_zoo.run import locks

    real_tfds_dir("mnist/3.0.1")
    # Each Ray task runs TensorFlow on the CPUs it asked for (1 here); the thread count changes how reductions
    # are split, so the single-process reference runs with one thread too (docs/howto/sweeps.md explains this).
    single = run_cli(SWEEP + ["--out", str(tmp_path / "single")], env={"TF_NUM_INTRAOP_THREADS": "1"})
    assert single.returncode == 0, single.stderr[-3000:]

    # Another process (this test) holds the prelu run: the Ray sweep trains relu, leaves prelu to its holder
    # and writes no report yet.
    ray_args = SWEEP + ["--out", str(tmp_path / "ray"), "--ray", "--ray-address", ray_cluster]
    lock, _ = locks.try_lock(tmp_path / "ray", "mnist__mlp__prelu__seed0")
    with lock:
        first = run_cli(ray_args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Ray: 2 run(s) as tasks of 1 CPU / 0 GPU each, on 2 CPUs" in first.stdout
    assert "1 run(s) are still being trained by other processes" in first.stdout
    assert sorted(records(tmp_path / "ray")) == ["mnist__mlp__relu__seed0"]
    assert not (tmp_path / "ray" / "summary.md").exists()

    # Released (as if its holder stopped): the same command trains only prelu, then writes the report.
    second = run_cli(ray_args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Ray: 1 run(s)" in second.stdout and "1 finished run(s) were already in" in second.stdout

    expected, got = records(tmp_path / "single"), records(tmp_path / "ray")
    assert sorted(got) == ["mnist__mlp__prelu__seed0", "mnist__mlp__relu__seed0"]
    for run_id in expected:
        assert comparable(got[run_id]) == comparable(expected[run_id]), run_id
    assert summary_rows(tmp_path / "ray") == summary_rows(tmp_path / "single")
    assert not list((tmp_path / "ray" / "claims").glob("*.json"))  # every task released its lock

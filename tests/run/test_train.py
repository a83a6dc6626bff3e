"""train.py end to end on real mnist (tiny caps), resume after SIGKILL, config precedence, bad input."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import console
from relu_zoo.run import spec as config_lib, stats, store
from relu_zoo.diagnostics import ActivationDiagnostics

ROOT = Path(__file__).parents[2]
TINY = ["--task", "mnist", "--model", "cnn", "--max-train-examples", "512", "--max-eval-examples", "256",
        "--batch-size", "64", "--model-kwargs", '{"filters": [8, 16], "dense_units": 16}', "--verbose", "0"]


def _mnist_available():
    data_dir = os.environ.get("TFDS_DATA_DIR")
    return bool(data_dir) and (Path(data_dir) / "mnist").is_dir()


needs_mnist = pytest.mark.skipif(
    not _mnist_available() and not os.environ.get("CI"),
    reason="real mnist not prepared (set TFDS_DATA_DIR); required when CI is set",
)


def run_cli(args, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def metrics_of(out):
    """Everything in results.json that must not depend on interruptions (timings excluded)."""
    runs = json.loads((Path(out) / "results.json").read_text())["runs"]
    keys = ("run_id", "status", "test_accuracy", "test_loss", "val_accuracy", "params")
    return sorted((tuple(r[k] for k in keys), json.dumps([{k: v for k, v in h.items() if k != "epoch_time"}
                                                           for h in r["history"]], sort_keys=True))
                  for r in runs)


SWEEP = TINY + ["--activations", "relu,prelu", "--seeds", "2", "--epochs", "1"]


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    proc = run_cli(SWEEP + ["--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Report:" in proc.stdout
    return out


def summary_rows(out):
    """The summary table rows without the timing column (wall-clock times differ between processes)."""
    lines = (Path(out) / "summary.md").read_text().splitlines()
    timing = next(line for line in lines if line.startswith("| activation")).split(" | ").index(
        "time/epoch vs baseline †")
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and not line.startswith("| activation")]
    return [row[:timing] + row[timing + 1:] for row in rows]


@pytest.mark.slow
@needs_mnist
def test_end_to_end_report_matches_results(tiny_sweep):
    out = tiny_sweep
    for name in ("config.json", "results.json", "results.csv", "summary.md", "plots/val_accuracy.png",
                 "plots/activations.png", "plots/learned_params.png"):
        assert (out / name).is_file(), name
    assert not (out / "claims").exists()  # no empty folder left once every lock is released
    data = json.loads((out / "results.json").read_text())
    runs = data["runs"]
    # The dead-units figure is drawn when some unit was never active or dead; else the report says so in words.
    from relu_zoo.run import plots, report

    fractions = [f(r) for r in runs for f in (report.final_never_active_fraction, report.final_dead_fraction)]
    assert (out / "plots" / "dead_units.png").is_file() == any(fractions)
    assert (plots.NO_DEAD_UNITS in (out / "summary.md").read_text()) == (not any(fractions))
    assert len(runs) == 4 and all(r["status"] == "ok" for r in runs)
    for r in runs:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["params"] > 0 and r["mean_epoch_time"] > 0
        run_dir = out / "runs" / r["run_id"]
        assert (run_dir / "history.csv").is_file() and (run_dir / "tensorboard").is_dir()
        assert r["diagnostics"][-1]["epoch"] == 0
    # results.csv has one row per run.
    assert len((out / "results.csv").read_text().strip().splitlines()) == 5
    # The summary's numbers are those computed from results.json.
    summary = (out / "summary.md").read_text()
    base = {r["seed"]: r["test_accuracy"] for r in runs if r["activation"] == "relu"}
    for act in ("relu", "prelu"):
        acc = {r["seed"]: r["test_accuracy"] for r in runs if r["activation"] == act}
        values = np.array(list(acc.values()))
        row = re.search(rf"^\| {act} \| 2 \| ([\d.]+) ± ([\d.]+) \[(-?[\d.]+), (-?[\d.]+)\]", summary, re.M)
        assert row, summary
        assert float(row.group(1)) == pytest.approx(100 * values.mean(), abs=0.006)
        assert float(row.group(2)) == pytest.approx(100 * values.std(ddof=1), abs=0.006)
        ci = stats.describe(values)["ci95"]
        assert float(row.group(3)) == pytest.approx(100 * ci[0], abs=0.006)
        if act == "prelu":
            diff = np.mean([acc[s] - base[s] for s in acc])
            m = re.search(r"^\| prelu \|.*?\| ([+-][\d.]+) \[[+-][\d.]+, [+-][\d.]+\] \|", summary, re.M)
            assert float(m.group(1)) == pytest.approx(100 * diff, abs=0.006)
    assert "![" in summary and "plots/val_accuracy.png" in summary


@pytest.mark.slow
@needs_mnist
def test_shards_merged_equal_the_single_sweep(tiny_sweep, tmp_path):
    shards = [tmp_path / f"shard{i}" for i in range(3)]
    for i, out in enumerate(shards):
        proc = run_cli(SWEEP + ["--shard", f"{i}/3", "--out", str(out)])
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"shard {i}/3" in proc.stdout
    assert sorted(len(list(out.glob("runs/*/result.json"))) for out in shards) == [1, 1, 2]
    merged = tmp_path / "merged"
    proc = run_cli(["report", *map(str, shards), "--out", str(merged)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics_of(merged) == metrics_of(tiny_sweep)
    assert summary_rows(merged) == summary_rows(tiny_sweep)


@pytest.mark.slow
@needs_mnist
def test_jobs_train_each_run_once_in_several_processes(tiny_sweep, tmp_path):
    # SWEEP in two processes of one thread each: every run trained once, by one of them; one report.
    out = tmp_path / "jobs"
    proc = run_cli(SWEEP + ["--jobs", "2", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    finished = re.findall(r"^\[(\S+)\] test accuracy", proc.stdout, flags=re.M)
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert sorted(finished) == sorted(r["run_id"] for r in runs) and len(runs) == 4
    assert "Report:" in proc.stdout and not (out / "claims").exists()
    # One thread instead of two sums in another order: the same runs, up to the last bits.
    expected = {r["run_id"]: r for r in json.loads((tiny_sweep / "results.json").read_text())["runs"]}
    for r in runs:
        assert r["test_loss"] == pytest.approx(expected[r["run_id"]]["test_loss"], rel=1e-2)


def test_jobs_flag_is_not_passed_on():
    from relu_zoo.run import jobs

    assert jobs.without_jobs(["--jobs", "2", "--seeds", "3", "--jobs=4"]) == ["--seeds", "3"]
    assert jobs.threads_per_job(2, cores=2) == 1 and jobs.threads_per_job(4, cores=2) == 1
    assert jobs.threads_per_job(2, cores=16) == 8


API_SWEEP = """
import sys
from relu_zoo.run import spec
from relu_zoo.run.sweep import sweep
overrides = {"tasks": "mnist", "models": "cnn", "max_train_examples": 512, "max_eval_examples": 256, "batch_size": 64,
             "model_kwargs": {"filters": [8, 16], "dense_units": 16}, "verbose": 0, "activations": "relu,prelu",
             "seeds": 2, "epochs": 1, "out": sys.argv[1]}
sweep(spec.resolve(overrides=overrides), command="api")
"""


# Exhaustive: train.py resolves its flags with spec.resolve and calls sweep(), as this script does; in CI,
# test_train_guard.py's CIFAR-10 guard runs sweep() through the API.
@pytest.mark.slow
@pytest.mark.exhaustive
@needs_mnist
def test_the_python_api_gives_the_command_lines_results(tiny_sweep, tmp_path):
    # The same sweep as SWEEP through relu_zoo.run (spec.resolve + sweep) instead of train.py: same metrics.
    proc = subprocess.run([sys.executable, "-c", API_SWEEP, str(tmp_path / "api")], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics_of(tmp_path / "api") == metrics_of(tiny_sweep)
    assert summary_rows(tmp_path / "api") == summary_rows(tiny_sweep)


def test_keras_workaround_refuses_versions_it_was_not_verified_on(monkeypatch):
    import keras

    from relu_zoo.run import distribute

    monkeypatch.setattr(keras, "__version__", "3.99.0")
    with pytest.raises(config_lib.ConfigError, match=r"verified with Keras 3\.15\.x; this is Keras 3\.99\.0"):
        distribute.fix_keras_for_multi_worker()


def test_ci_pins_the_keras_version_the_workaround_was_verified_on():
    from relu_zoo._compat import MULTI_WORKER_KERAS

    pins = dict(line.split("==") for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["keras"].startswith(MULTI_WORKER_KERAS)
    assert {"tensorflow", "tensorflow-datasets", "numpy", "scipy", "matplotlib"} <= set(pins)


@pytest.mark.slow
@needs_mnist
def test_mirrored_on_two_cpu_devices_matches_one_device(tmp_path):
    # The mlp has no batch norm, whose per-replica batch statistics would legitimately differ.
    args = ["--task", "mnist", "--model", "mlp", "--model-kwargs", '{"width": 32}', "--max-train-examples", "512",
            "--max-eval-examples", "256", "--batch-size", "64", "--verbose", "0", "--activations", "prelu",
            "--seeds", "1", "--epochs", "2"]
    runs = {}
    for name, extra in (("single", []), ("mirrored", ["--distribute", "mirrored", "--cpu-devices", "2"])):
        proc = run_cli(args + extra + ["--out", str(tmp_path / name)])
        assert proc.returncode == 0, proc.stderr[-3000:]
        (runs[name],) = json.loads((tmp_path / name / "results.json").read_text())["runs"]
    assert runs["mirrored"]["replicas"] == 2 and runs["single"]["replicas"] == 1
    # Same data, seeds and global batch; only the split of each batch over the replicas (the order of the
    # gradient reduction) differs.
    for epoch in (0, 1):
        assert runs["mirrored"]["history"][epoch]["loss"] == pytest.approx(
            runs["single"]["history"][epoch]["loss"], rel=1e-3)
    assert runs["mirrored"]["test_loss"] == pytest.approx(runs["single"]["test_loss"], rel=1e-3)


def free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_workers(argv, tmp_path, timeout=300):
    """Runs `python *argv` as the two workers of a local MultiWorkerMirroredStrategy cluster (TF_CONFIG on
    127.0.0.1, each worker with its own empty TMPDIR); returns [(process result, its TMPDIR)] by index."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    procs = []
    for index in range(2):
        tmp = tmp_path / f"worker{index}_tmp"
        tmp.mkdir()
        env = dict(os.environ, TMPDIR=str(tmp),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append((subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, cwd=ROOT, env=env), tmp))
    results = []
    try:
        for proc, tmp in procs:
            stdout, stderr = proc.communicate(timeout=timeout)
            results.append((subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), tmp))
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


MLP_RUN = ["--task", "mnist", "--model", "mlp", "--model-kwargs", '{"width": 32}', "--max-train-examples", "512",
           "--max-eval-examples", "256", "--batch-size", "64", "--verbose", "0", "--activations", "prelu",
           "--seeds", "1", "--epochs", "2"]


@pytest.mark.slow
@needs_mnist
def test_multi_worker_two_processes_match_one_process(tmp_path):
    # Two local worker processes with TF_CONFIG, one --out: only the chief (worker 0) writes into it.
    out = tmp_path / "multi_worker"
    workers = run_workers([str(ROOT / "train.py"), *MLP_RUN, "--save-checkpoint", "--distribute", "multi_worker",
                           "--out", str(out)], tmp_path)
    for proc, _ in workers:
        assert proc.returncode == 0, proc.stderr[-3000:]
    (chief, chief_tmp), (other, other_tmp) = workers
    assert "Report:" in chief.stdout and "Report:" not in other.stdout
    assert "Worker finished (worker 1)" in other.stdout
    assert [p.name for p in out.glob("runs/*/result.json")] == ["result.json"]
    assert (out / "summary.md").is_file() and (out / "results.csv").is_file()
    assert not list(out.glob("runs/*/backup"))
    # The non-chief wrote its logs, backups and checkpoint into a temporary folder and removed it.
    assert list(other_tmp.iterdir()) == []
    single = tmp_path / "single"
    proc = run_cli(MLP_RUN + ["--save-checkpoint", "--out", str(single)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (mw,) = json.loads((out / "results.json").read_text())["runs"]
    (one,) = json.loads((single / "results.json").read_text())["runs"]
    assert mw["replicas"] == 2 and one["replicas"] == 1
    # Same data, seeds and global batch of 64: each worker computes the gradient of its 32 examples, the
    # all-reduce makes the step the single process's (up to the order of the float additions).
    for epoch in (0, 1):
        for key in ("loss", "val_loss"):
            assert mw["history"][epoch][key] == pytest.approx(one["history"][epoch][key], rel=1e-4)
    assert mw["test_loss"] == pytest.approx(one["test_loss"], rel=1e-4)
    assert mw["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=1.5 / 256)
    trained = keras.saving.load_model(next(out.glob("runs/*/model.keras")), compile=False)
    reference = keras.saving.load_model(next(single.glob("runs/*/model.keras")), compile=False)
    for a, b in zip(trained.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


LOCKSTEP_SCRIPT = """
import json, os, sys
import numpy as np
from relu_zoo.run.distribute import Distribution
kind = sys.argv[1]
distribution = Distribution(None if kind == "none" else kind)
import keras
import tensorflow as tf
import relu_zoo
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(384, 8)).astype("float32")
y = (x[:, :4].sum(1) > x[:, 4:].sum(1)).astype("int32")
train = distribution.prepare(tf.data.Dataset.from_tensor_slices((x, y)).batch(64))
with distribution.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), relu_zoo.PReLU(), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
history = model.fit(train, validation_data=train, epochs=2, verbose=0).history
name = json.loads(os.environ["TF_CONFIG"])["task"]["index"] if kind == "multi_worker" else "single"
np.savez(os.path.join(sys.argv[2], f"{name}.npz"), *model.get_weights(), loss=history["loss"],
         val_loss=history["val_loss"])
"""


@pytest.mark.slow
def test_multi_worker_keeps_the_workers_weights_identical(tmp_path):
    # The Keras workaround on its own, without data files: the two workers end with bit-identical weights
    # (learned PReLU slopes included), equal to one process's with the same global batch up to float rounding.
    for proc, _ in run_workers(["-c", LOCKSTEP_SCRIPT, "multi_worker", str(tmp_path)], tmp_path, timeout=180):
        assert proc.returncode == 0, proc.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    proc = subprocess.run([sys.executable, "-c", LOCKSTEP_SCRIPT, "none", str(tmp_path)], capture_output=True,
                          text=True, timeout=180, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1, single = (np.load(tmp_path / f"{name}.npz") for name in ("0", "1", "single"))
    assert sorted(w0.files) == sorted(single.files) and len(w0.files) == 7  # 5 weight arrays, loss, val_loss
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)
        np.testing.assert_allclose(w0[key], single[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert not np.array_equal(w0["arr_2"], np.full_like(w0["arr_2"], 0.25))  # PReLU slopes were trained


# Exhaustive: test_faults.py's three processes and a SIGKILL check the same resume after a kill in CI, and
# test_train_guard.py that a backup restores RReLU's random streams.
@pytest.mark.slow
@pytest.mark.exhaustive
@needs_mnist
def test_resume_after_sigkill_gives_the_same_report(tmp_path):
    args = TINY + ["--activations", "relu,rrelu", "--seeds", "2", "--epochs", "3", "--max-train-examples", "1024"]
    reference = tmp_path / "reference"
    proc = run_cli(args + ["--out", str(reference)])
    assert proc.returncode == 0, proc.stderr[-3000:]

    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args, "--out", str(out)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    killed_mid_run = False
    try:
        # Kill once one run has finished and another is inside training with at least one epoch backed up.
        while time.time() < deadline and child.poll() is None:
            finished = list(out.glob("runs/*/result.json"))
            mid = [p for p in out.glob("runs/*/backup/current/training_metadata.json")
                   if not (p.parents[2] / "result.json").exists()]
            if finished and mid:
                child.send_signal(signal.SIGKILL)
                killed_mid_run = True
                break
            time.sleep(0.02)
    finally:
        child.kill()
        child.wait()
    assert killed_mid_run, "the sweep ended before it could be killed mid-run; make the runs longer"
    n_finished = len(list(out.glob("runs/*/result.json")))
    assert 1 <= n_finished < 4
    resumed = run_cli(args + ["--out", str(out)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from epoch" in resumed.stdout
    assert f"{n_finished} finished run(s) were already" in resumed.stdout
    assert metrics_of(out) == metrics_of(reference)


def test_config_precedence(tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("epochs: 7\nbatch_size: 32\nactivations: [relu, 'leaky_relu:negative_slope=0.2']\n")
    default = config_lib.resolve()
    assert default.epochs == config_lib.SweepConfig().epochs
    preset = config_lib.resolve(preset="imdb")
    assert preset.tasks == ["imdb_reviews"] and preset.models == ["rnn"]
    layered = config_lib.resolve(preset="imdb", config_file=config_file, overrides={"epochs": "2"})
    assert layered.tasks == ["imdb_reviews"]  # from the preset
    assert layered.batch_size == 32  # file over preset
    assert layered.epochs == 2  # command line over file
    assert layered.activations == ["relu", "leaky_relu:negative_slope=0.2"]
    json_file = tmp_path / "c.json"
    json_file.write_text(json.dumps({"seeds": [3, 4], "learning-rate": 0.01}))
    cfg = config_lib.resolve(config_file=json_file)
    assert cfg.seeds == [3, 4] and cfg.learning_rate == 0.01


def test_activation_list_with_parameters():
    specs = config_lib.split_activation_list("relu,leaky_relu:negative_slope=0.2,prelu,rrelu:lower=0.1,upper=0.2")
    assert specs == ["relu", "leaky_relu:negative_slope=0.2", "prelu", "rrelu:lower=0.1,upper=0.2"]
    assert relu_zoo.get(specs[3]).upper == 0.2


BAD_INPUTS = [
    (["--task", "mnsit"], "Unknown task"),
    (["--model", "transfromer"], "Unknown model 'transfromer'"),
    (["--activations", "relu,prelux"], "Unknown activation 'prelux'"),
    (["--activations", "leaky_relu:negative_slope=-1"], "negative_slope"),
    (["--task", "mnist", "--model", "rnn"], "does not fit task 'mnist'"),
    (["--epochs", "0"], "`epochs` must be an integer >= 1"),
    (["--epochs", "two"], "`epochs` must be an integer"),
    (["--learning-rate", "-0.1"], "`learning_rate` must be a number > 0"),
    (["--batch-size", "1.5"], "`batch_size` must be an integer"),
    (["--seeds", "0"], "`seeds` must be a count >= 1"),
    (["--optimizer", "adamax"], "`optimizer` must be one of"),
    (["--model-kwargs", "{width: 3}"], "`model_kwargs` must be a JSON object"),
    (["--preset", "nope"], "Unknown preset 'nope'"),
    (["--activations", "relu,relu"], "listed twice"),
    (["--shard", "3/3"], "`shard` must be 'i/n'"),
    (["--distribute", "gpu"], "`distribute` must be one of"),
    (["--verbose", "loud"], "`verbose` must be one of auto, 0, 1, 2"),
    (["--jobs", "0"], "--jobs must be a number of processes >= 1"),
    (["--jobs", "2", "--distribute", "mirrored"], "without --ray or --distribute"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS)
def test_bad_input_is_one_clear_error_before_training(tmp_path, capsys, argv, message):
    code = console.main(argv + ["--out", str(tmp_path / "out")], prog="train.py")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "out" / "runs").exists()


BAD_TF_CONFIGS = [
    (None, "TF_CONFIG environment variable, which is not set"),
    ("{cluster: 1}", "TF_CONFIG is not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "needs a `cluster` mapping with a `worker` list"),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}', '"host:port" strings'),
    ('{"cluster": {"worker": ["a:1", "b:2"], "ps": ["c:3"]}, "task": {"type": "worker", "index": 0}}',
     "job(s) ['ps']"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}}', "needs a `task` with a `type` from the cluster"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     "task index must be an integer from 0 to 1"),
]


@pytest.mark.parametrize("tf_config,message", BAD_TF_CONFIGS)
def test_multi_worker_without_a_usable_tf_config_is_one_clear_error(tmp_path, capsys, monkeypatch, tf_config,
                                                                    message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    code = console.main(["--distribute", "multi_worker", "--out", str(tmp_path / "out")], prog="train.py")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert "TF_CONFIG='{\"cluster\": {\"worker\": [" in err  # how to fix it
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_multi_worker_with_cpu_devices_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker"}}')
    assert console.main(["--distribute", "multi_worker", "--cpu-devices", "2", "--out", str(tmp_path / "o")], prog="train.py") == 2
    assert "`cpu_devices` applies to --distribute mirrored only" in capsys.readouterr().err


def test_unknown_config_key_is_an_error(tmp_path, capsys):
    config_file = tmp_path / "c.yaml"
    config_file.write_text("epochs: 1\nlearnin_rate: 0.1\n")
    assert console.main(["--config", str(config_file), "--out", str(tmp_path / "o")], prog="train.py") == 2
    err = capsys.readouterr().err
    assert "Unknown configuration key 'learnin_rate'" in err and "learning_rate" in err


def test_out_holding_a_different_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    store.atomic_write_json(out / "config.json", {"sweep": {"epochs": 99}})
    assert console.main(["--out", str(out), "--epochs", "1"], prog="train.py") == 2
    assert "holds a different sweep" in capsys.readouterr().err


@pytest.mark.slow  # train.py in a fresh interpreter; the in-process test above checks the messages
def test_bad_input_exit_code_from_the_command_line(tmp_path):
    proc = run_cli(["--task", "nope", "--out", str(tmp_path / "o")], timeout=120)
    assert proc.returncode == 2
    assert "error: Unknown task 'nope'" in proc.stderr


def test_diagnostics_report_dead_units():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    # A hugely negative bias kills every unit of the first ReLU; the PReLU branch stays alive.
    dead = relu_zoo.ReLU()(keras.layers.Dense(16, bias_initializer=keras.initializers.Constant(-100.0))(inputs))
    alive = relu_zoo.PReLU()(keras.layers.Dense(16)(inputs))
    half = keras.layers.Dense(8, kernel_initializer="zeros",
                              bias_initializer=keras.initializers.Constant(np.r_[np.ones(4), -np.ones(4)]))(inputs)
    half = relu_zoo.ReLU()(half)
    outputs = keras.layers.Dense(3)(keras.layers.Concatenate()([dead, alive, half]))
    model = keras.Model(inputs, outputs)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, 64)
    diagnostics = ActivationDiagnostics(x[:32], y[:32])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[diagnostics])
    assert [r["epoch"] for r in diagnostics.history] == [-1, 0, 1]
    last = diagnostics.history[-1]["layers"]
    names = [layer.name for layer in model.layers if isinstance(layer, (relu_zoo.ReLU, relu_zoo.PReLU))]
    dead_name, alive_name, half_name = names
    assert last[dead_name]["dead_fraction"] == 1.0 and last[dead_name]["sparsity"] == 1.0
    assert last[dead_name]["never_active_fraction"] == 1.0
    assert last[alive_name]["dead_fraction"] == 0.0
    assert last[half_name]["dead_fraction"] == 0.5 and last[half_name]["never_active_fraction"] == 0.5
    assert last[dead_name]["grad_norm"] > 0  # gradient reaches the output even though nothing flows back
    assert set(last[alive_name]["params"]["alpha"]) == {"mean", "min", "max"}


def test_a_sweep_folder_may_gain_seeds_but_not_change_its_recipe(tmp_path):
    out = tmp_path / "out"
    store.prepare_out_dir(config_lib.resolve(overrides={"seeds": [0], "out": str(out)}))
    store.prepare_out_dir(config_lib.resolve(overrides={"seeds": 3, "out": str(out)}))
    assert json.loads((out / "config.json").read_text())["sweep"]["seeds"] == [0, 1, 2]
    store.prepare_out_dir(config_lib.resolve(overrides={"seeds": [5], "out": str(out)}))  # the union is kept
    assert json.loads((out / "config.json").read_text())["sweep"]["seeds"] == [0, 1, 2, 5]
    with pytest.raises(store.SweepConfigMismatch, match="differs in: epochs"):
        store.prepare_out_dir(config_lib.resolve(overrides={"seeds": [0], "epochs": 7, "out": str(out)}))

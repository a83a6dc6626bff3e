"""Fault injection: concurrent sweeps on one --out with a SIGKILL, corrupt records and resume state,
a full disk, bad paths, SIGINT/SIGTERM. Tiny mnist `mlp` sweeps; each run's training is counted from the log
lines `[i/n] <run_id>` (started) and `[<run_id>] test accuracy` (recorded)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from relu_zoo import console
from relu_zoo.run import locks, store
from test_train import ROOT, metrics_of, needs_mnist, run_cli, summary_rows

TINY = ["--task", "mnist", "--model", "mlp", "--model-kwargs", '{"width": 32}', "--max-train-examples", "256",
        "--max-eval-examples", "128", "--batch-size", "32", "--verbose", "0", "--seeds", "2"]
ONE_EPOCH = TINY + ["--activations", "relu,prelu", "--epochs", "1"]
TWO_EPOCHS = TINY + ["--activations", "relu,prelu,elu", "--epochs", "2"]
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def sweep(args, out):
    proc = run_cli(args + ["--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_epoch")
    sweep(ONE_EPOCH, out)
    return out


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_epochs")
    sweep(TWO_EPOCHS, out)
    return out


def started(log):
    return re.findall(r"^\[\d+/\d+\] (\S+)$", log, re.M)


def recorded(log):
    return re.findall(r"^\[(\S+)\] test accuracy", log, re.M)


def start(args, out, log_path):
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args, "--out", str(out)], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, env=ENV)


def wait_for_mid_run(out, procs, timeout=300):
    """A run with a finished epoch backed up and no record yet, and the pid of the process holding its lock."""
    deadline = time.time() + timeout
    while time.time() < deadline and any(p.poll() is None for p in procs):
        for meta in out.glob("runs/*/backup/current/training_metadata.json"):
            run_id = meta.parents[2].name
            holder = locks.holders(out, [run_id]).get(run_id)
            if holder and not (meta.parents[2] / "result.json").exists():
                return run_id, holder["pid"]
        time.sleep(0.01)
    raise AssertionError("no run was caught between its first and its last epoch; make the runs longer")


# --- locks, without training --------------------------------------------------------------------------------


def test_a_locked_run_cannot_be_locked_again_until_released(tmp_path):
    lock, _ = locks.try_lock(tmp_path, "run_a")
    assert lock is not None and lock.held()
    info = json.loads(lock.path.read_text())
    assert info["pid"] == os.getpid() and info["host"] and info["started"] <= time.time()
    again, holder = locks.try_lock(tmp_path, "run_a")
    assert again is None and holder == info
    other, _ = locks.try_lock(tmp_path, "run_b")  # other runs are independent
    assert other is not None
    lock.release()
    assert [p.name for p in (tmp_path / locks.LOCKS_DIR).iterdir()] == [other.path.name]
    other.release()
    assert not (tmp_path / locks.LOCKS_DIR).exists()  # no empty folder of locks left in the results
    again, _ = locks.try_lock(tmp_path, "run_a")
    assert again is not None
    again.release()


def write_lock(out, run_id, generation=0, **info):
    path = out / locks.LOCKS_DIR / f"{run_id}.{generation}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": run_id, **info}))
    return path


def test_a_lock_of_a_process_that_is_gone_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_lock(tmp_path, "r", machine=locks.machine_id(), pid=dead.pid, pid_start=None)
    # Our own pid with another start time: the pid of a dead process, reused.
    write_lock(tmp_path, "s", machine=locks.machine_id(), pid=os.getpid(), pid_start=-1)
    # A live process on this machine keeps its lock, however old the file.
    live = write_lock(tmp_path, "t", machine=locks.machine_id(), pid=os.getppid(), pid_start=None)
    os.utime(live, (0, 0))
    for run_id, generation in (("r", 1), ("s", 1)):
        lock, _ = locks.try_lock(tmp_path, run_id)
        assert lock is not None and lock.path.name == f"{run_id}.{generation}.json"
        lock.release()
    assert locks.try_lock(tmp_path, "t")[0] is None


def test_a_lock_from_another_machine_is_taken_over_after_its_heartbeat_stops(tmp_path):
    path = write_lock(tmp_path, "r", machine="elsewhere/boot/1", pid=1, host="elsewhere")
    lock, holder = locks.try_lock(tmp_path, "r", stale_after=60)
    assert lock is None and holder["host"] == "elsewhere"  # touched just now: alive
    old = time.time() - 61
    os.utime(path, (old, old))
    lock, _ = locks.try_lock(tmp_path, "r", stale_after=60)
    assert lock is not None and lock.path.name == "r.1.json"
    lock.release()
    assert not path.exists()  # the dead generation is cleaned up with the release


def test_the_holder_refreshes_its_heartbeat_and_sees_a_takeover(tmp_path):
    lock, _ = locks.try_lock(tmp_path, "r", heartbeat=0.05)
    os.utime(lock.path, (0, 0))
    time.sleep(0.3)
    assert time.time() - lock.path.stat().st_mtime < 5
    write_lock(tmp_path, "r", generation=1, machine="elsewhere", pid=1)  # another machine took it over
    assert not lock.held()
    lock.release()
    assert (tmp_path / locks.LOCKS_DIR / "r.1.json").exists()  # the newer holder's lock stays



def test_locks_where_stored_sweeps_keep_them_are_respected(tmp_path):
    # A sweep started by an earlier relu_zoo keeps its locks in <out>/claims/; resumed (or still running
    # beside a newer process), its runs must stay locked.
    path = tmp_path / "claims" / "r.0.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"run_id": "r", "machine": locks.machine_id(), "pid": os.getppid(),
                                "pid_start": None}))
    assert locks.holders(tmp_path, ["r", "s"]) == {"r": json.loads(path.read_text())}
    assert locks.try_lock(tmp_path, "r")[0] is None

RACE = """
import importlib.util, os, sys, time, types
# Without relu_zoo's Keras import: an empty package, so `from relu_zoo import _io` loads only that module.
package = types.ModuleType("relu_zoo")
package.__path__ = [os.path.dirname(os.path.dirname(sys.argv[1]))]
sys.modules["relu_zoo"] = package
spec = importlib.util.spec_from_file_location("locks", sys.argv[1])
locks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(locks)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.001)
lock, _ = locks.try_lock(sys.argv[2], "r", stale_after=60)
print("won" if lock else "lost")
time.sleep(1)  # hold it while the others try
"""


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "takeover"])
def test_concurrent_locks_have_one_winner(tmp_path, stale):
    if stale:
        path = write_lock(tmp_path, "r", machine="elsewhere", pid=1)
        os.utime(path, (0, 0))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACE, locks.__file__, str(tmp_path), str(go)],
                              stdout=subprocess.PIPE, text=True) for _ in range(8)]
    time.sleep(1)
    go.touch()
    outcomes = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]


# --- bad paths and input: exit 2, one line, no traceback ----------------------------------------------------


def assert_one_line_error(err, *parts):
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in lines[0], lines[0]


def test_out_a_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert console.main(ONE_EPOCH + ["--out", str(tmp_path / "afile")], prog="train.py") == 2
    assert_one_line_error(capsys.readouterr().err, str(tmp_path / "afile"), "is a file, not a folder")
    assert console.main(ONE_EPOCH + ["--out", str(tmp_path / "afile" / "sub")], prog="train.py") == 2
    assert_one_line_error(capsys.readouterr().err, "part of its path is a file")


def test_config_naming_a_missing_file_is_exit_2(tmp_path, capsys):
    assert console.main(["--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")], prog="train.py") == 2
    assert_one_line_error(capsys.readouterr().err, "nope.yaml' does not exist", "--config")


def test_unwritable_out_is_exit_2(tmp_path, capsys, monkeypatch):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o555)
    if os.getuid() == 0:
        # root writes anywhere: give the answer an unprivileged user gets from the kernel.
        real_mkdir = Path.mkdir

        def mkdir(self, *args, **kwargs):
            if self.parent == out:
                raise PermissionError(13, "Permission denied", str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    assert console.main(ONE_EPOCH + ["--out", str(out / "sub")], prog="train.py") == 2
    assert_one_line_error(capsys.readouterr().err, str(out / "sub"), "Permission denied", "another --out")


@pytest.mark.slow  # copies mnist and runs train.py in a fresh interpreter
@needs_mnist
def test_unreadable_dataset_folder_is_exit_2(tmp_path):
    source = Path(os.environ.get("TFDS_DATA_DIR", "")) / "mnist"
    shutil.copytree(source, tmp_path / "data" / "mnist")
    (train_file,) = (tmp_path / "data" / "mnist").glob("*/mnist-train.tfrecord*")
    train_file.chmod(0o644)
    os.truncate(train_file, 100_000)  # a copy cut short
    proc = run_cli(ONE_EPOCH + ["--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "o")], timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert_one_line_error(proc.stderr, f"Could not read the mnist data in {str(tmp_path / 'data')!r}",
                          "truncated record", "tfds build mnist")
    assert not list((tmp_path / "o").glob("runs/*"))


def test_a_sweep_that_cannot_start_leaves_nothing_behind(tmp_path, capsys):
    """Missing data fails before the first run: no config.json, and the folders the sweep made are gone again;
    a folder that was there before stays, with what it held."""
    args = ONE_EPOCH + ["--no-download", "--data-dir", str(tmp_path / "no_data")]
    assert console.main(args + ["--out", str(tmp_path / "new" / "out")], prog="train.py") == 2
    assert "error: TFDS dataset 'mnist'" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("kept")
    assert console.main(args + ["--out", str(tmp_path / "mine")], prog="train.py") == 2
    assert sorted(os.listdir(tmp_path / "mine")) == ["notes.txt"]


# --- corrupt state ------------------------------------------------------------------------------------------


@needs_mnist
@pytest.mark.slow
def test_corrupt_records_and_resume_state_are_quarantined_and_run_again(one_epoch, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(one_epoch, out)
    relu, prelu = (out / "runs" / f"mnist__mlp__{a}__seed0" for a in ("relu", "prelu"))
    text = (relu / "result.json").read_text()
    (relu / "result.json").write_text(text[:len(text) // 2])  # cut short
    (prelu / "result.json").write_text("\x00garbage\xff")
    # seed 1 of prelu: no record, and a backup whose files are damaged.
    broken = out / "runs" / "mnist__mlp__prelu__seed1"
    (broken / "result.json").unlink()
    (broken / "backup" / "epoch1").mkdir(parents=True)
    (broken / "backup" / "epoch1" / "training_metadata.json").write_text('{"epoch": 1}')
    (broken / "backup" / "epoch1" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n" + b"\x00" * 50)
    os.symlink("epoch1", broken / "backup" / "current")

    # The report never reads a damaged record: rebuilding it names the file and the fix.
    assert console.main(["report", str(out)]) == 2

    proc = sweep(ONE_EPOCH, out)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3, proc.stderr[-3000:]
    for run, what in ((relu, "run record"), (prelu, "run record"), (broken, "resume state")):
        (warning,) = [w for w in warnings if f"moved {str(run)!r}" in w]
        assert what in warning and "the run is trained again" in warning
    assert sorted(p.name.split(".")[0] for p in (out / "quarantine").iterdir()) == sorted(
        [relu.name, prelu.name, broken.name])
    assert sorted(started(proc.stdout)) == sorted(recorded(proc.stdout)) == sorted(
        [relu.name, prelu.name, broken.name])
    assert "resuming" not in proc.stdout  # the damaged backup was not resumed from
    assert metrics_of(out) == metrics_of(one_epoch)
    assert summary_rows(out) == summary_rows(one_epoch)


def test_rebuilding_a_report_from_a_damaged_record_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "runs" / "mnist__mlp__relu__seed0" / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"run_id": "mnist__mlp__relu__seed0", "status": "o')
    assert console.main(["report", str(tmp_path)]) == 2
    assert_one_line_error(capsys.readouterr().err, str(path), "is unreadable", "Re-run the sweep")


DISK_FULL = """
import errno, sys
from relu_zoo import _io, console

def full_disk_open(path, mode="r", *args, **kwargs):
    f = open(path, mode, *args, **kwargs)
    if "x" in mode and ".result.json." in str(path):
        real_write = f.write
        def write(text):
            real_write(text[:len(text) // 2])  # half of it fits
            raise OSError(errno.ENOSPC, "No space left on device")
        f.write = write
    return f

_io.open = full_disk_open
sys.exit(console.main(sys.argv[1:], prog="train.py"))
"""


@needs_mnist
@pytest.mark.slow
def test_a_full_disk_is_a_clear_error_and_leaves_nothing_half_written(one_epoch, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", DISK_FULL, *ONE_EPOCH, "--out", str(out)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=ENV)
    assert proc.returncode == 2, proc.stderr[-3000:]
    run = out / "runs" / "mnist__mlp__relu__seed0"
    assert_one_line_error(proc.stderr, "No space left writing", str(run / "result.json"), "Free space")
    assert not (run / "result.json").exists()
    assert not [p.name for p in out.rglob("*.tmp")]  # the half-written temporary file is gone
    assert not (out / "claims").exists()  # released, and the empty folder removed
    # With space again, the same command trains the run and finishes the sweep.
    assert started(sweep(ONE_EPOCH, out).stdout)[0] == run.name
    assert metrics_of(out) == metrics_of(one_epoch)


# --- signals ------------------------------------------------------------------------------------------------


@needs_mnist
@pytest.mark.slow
# One handler serves both signals (relu_zoo.run.interrupt): CI sends SIGINT; the full suite SIGTERM too.
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143,
                                                                           marks=pytest.mark.exhaustive)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_cleanly_and_the_resumed_sweep_gives_the_same_report(two_epochs, tmp_path, signum, code):
    out = tmp_path / "out"
    proc = start(TWO_EPOCHS, out, tmp_path / "log")
    try:
        run_id, pid = wait_for_mid_run(out, [proc])
        assert pid == proc.pid
        proc.send_signal(signum)
        assert proc.wait(120) == code
    finally:
        proc.kill()
        proc.wait()
    log = (tmp_path / "log").read_text()
    assert f"Stopped by {signal.Signals(signum).name}" in log and "Traceback" not in log, log[-3000:]
    assert not (out / "claims").exists()  # released on the way out
    assert (out / "runs" / run_id / "backup" / "current").exists()  # the resume point is kept
    resumed = sweep(TWO_EPOCHS, out)
    assert re.search(rf"^\[{run_id}\] resuming from epoch [12]$", resumed.stdout, re.M)
    assert metrics_of(out) == metrics_of(two_epochs)
    assert summary_rows(out) == summary_rows(two_epochs)


# --- concurrent processes on one --out ----------------------------------------------------------------------


@pytest.mark.slow
@needs_mnist
def test_three_processes_and_a_sigkill_train_each_run_once(two_epochs, tmp_path):
    out = tmp_path / "out"
    procs = [start(TWO_EPOCHS, out, tmp_path / f"log{i}") for i in range(3)]
    try:
        run_id, pid = wait_for_mid_run(out, procs)
        victim = next(p for p in procs if p.pid == pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        procs.append(start(TWO_EPOCHS, out, tmp_path / "log3"))  # restarted, as a scheduler would
        codes = [p.wait(600) for p in procs if p is not victim]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    logs = [(tmp_path / f"log{i}").read_text() for i in range(4)]
    assert codes == [0, 0, 0], "\n".join(log[-2000:] for log in logs)
    runs = [p.name for p in two_epochs.glob("runs/*") if p.is_dir()]
    assert len(runs) == 6
    # Every run recorded exactly once; only the killed run was started twice (then resumed).
    assert Counter(r for log in logs for r in recorded(log)) == Counter(runs)
    assert Counter(r for log in logs for r in started(log)) == Counter(runs + [run_id])
    assert any(re.search(rf"^\[{run_id}\] resuming from epoch [12]$", log, re.M) for log in logs)
    assert sum("Report:" in log for log in logs) >= 1
    assert not (out / "claims").exists()
    assert metrics_of(out) == metrics_of(two_epochs)
    assert summary_rows(out) == summary_rows(two_epochs)

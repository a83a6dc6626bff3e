"""Per-run locks, so that any number of processes (on one machine or several sharing a file system) can work
on one `--out` and each run is trained once.

A process locks a run before training it by creating `claims/<run_id>.<generation>.json` atomically: the
lock (host, pid, start time) is written to a temporary name and hard-linked to its final name, and `link`
fails when that name exists (also on NFS), so exactly one process wins. The holder touches the file every
`HEARTBEAT_S` seconds and removes it once the run's record is written or training stops.

A lock whose process is gone is taken over by creating the next generation (again exactly one process
wins). Whether it is gone:
- same machine (same host name, boot and pid namespace): its pid no longer runs, or runs another process
  (a different start time: the pid was reused);
- another machine: its file has not been touched for `STALE_AFTER_S` seconds, measured on the file system's
  clock (the mtime of a file touched just now), so the machines' clocks need not agree. A process stalled
  longer than that (a suspended machine, a hung mount) loses its lock and the run is trained a second time;
  both records are complete and, runs being deterministic, equal, and the later one replaces the earlier.
"""

import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from relu_zoo import _io

# Named "claims", not "locks": stored sweeps, and processes of earlier relu_zoo versions still working on the
# same --out, keep their locks there; locks split over two folders would let two processes each win one run.
LOCKS_DIR = "claims"
HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # ten missed heartbeats


def _read_first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError:
        return ""


def _process_start(pid):
    """The start time of process `pid` in clock ticks since boot (Linux /proc), None where unknown."""
    stat = _read_first_line(f"/proc/{pid}/stat")
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name in (...) may hold spaces
    except (IndexError, ValueError):
        return None


def machine_id():
    """Host name, boot and pid namespace: two processes with the same id can check each other's pids."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}/{_read_first_line('/proc/sys/kernel/random/boot_id')}/{namespace}"


def _process_alive(pid, start):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    return start is None or _process_start(pid) in (None, start)


def _fs_now(folder):
    """The file system's current time (the mtime of a file touched now): compared with mtimes written by
    other machines, it makes staleness independent of the clocks of the machines."""
    probe = Path(folder) / f".now.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        probe.touch()
        return probe.stat().st_mtime
    finally:
        probe.unlink(missing_ok=True)


def _generations(folder, run_id):
    """[(generation, path)] of the locks of `run_id`, oldest first."""
    found = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return found
    for name in names:
        parts = name.rsplit(".", 2)
        if len(parts) == 3 and parts[0] == run_id and parts[2] == "json" and parts[1].isdigit():
            found.append((int(parts[1]), Path(folder) / name))
    return sorted(found)


def _read(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: judged by its age alone


def is_stale(info, path, stale_after=STALE_AFTER_S):
    """Whether the lock `info` (read from `path`) belongs to a process that is gone (see the module doc)."""
    if info.get("machine") == machine_id() and isinstance(info.get("pid"), int):
        return not _process_alive(info["pid"], info.get("pid_start"))
    try:
        return _fs_now(Path(path).parent) - Path(path).stat().st_mtime > stale_after
    except FileNotFoundError:
        return True


class Lock:
    """A held lock: released by `release()` or by leaving its `with` block; touched every `heartbeat` s."""

    def __init__(self, path, info, heartbeat=HEARTBEAT_S):
        self.path, self.info = Path(path), info
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True)
        self._thread.start()

    def _beat(self, interval):
        while not self._stop.wait(interval):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def held(self):
        """Whether this lock is still the newest of its run (not taken over after a stall)."""
        newest = _generations(self.path.parent, self.info["run_id"])
        return bool(newest) and newest[-1][1] == self.path and _read(self.path) == self.info

    def release(self):
        self._stop.set()
        self._thread.join()
        ours = False
        for _, path in _generations(self.path.parent, self.info["run_id"]):
            if path == self.path:
                ours = True
            elif not ours:
                path.unlink(missing_ok=True)  # older generations, whose processes are gone
        if ours and _read(self.path) == self.info:
            self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()  # the last lock gone: no empty claims/ left in the results
        except OSError:  # another run's lock is in it (a process that has just created the folder retries)
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _create(folder, run_id, generation, info):
    """Creates generation `generation` of `run_id`'s lock holding `info`; False when another process has.
    (Without hard links a reader may briefly see an unreadable lock, which counts as held until it is
    STALE_AFTER_S old.)"""
    return _io.create_text(Path(folder) / f"{run_id}.{generation}.json", json.dumps(info))


def try_lock(out, run_id, stale_after=STALE_AFTER_S, heartbeat=HEARTBEAT_S):
    """(Lock, None) when this process now holds `run_id`; (None, the holder's info) when another does."""
    folder = Path(out) / LOCKS_DIR
    info = {"run_id": run_id, "host": socket.gethostname(), "machine": machine_id(), "pid": os.getpid(),
            "pid_start": _process_start(os.getpid()), "started": time.time(), "token": secrets.token_hex(8)}
    for _ in range(100):  # each round, another process made progress (locked, released or took over)
        folder.mkdir(parents=True, exist_ok=True)  # again each round: the last releasing holder removes it
        existing = _generations(folder, run_id)
        generation = 0
        if existing:
            top, path = existing[-1]
            holder = _read(path)
            if holder is None:
                continue  # released just now
            if not is_stale(holder, path, stale_after):
                return None, holder
            generation = top + 1
        try:
            created = _create(folder, run_id, generation, info)
        except FileNotFoundError:  # the folder was removed by a holder releasing its lock just now
            continue
        if created:
            return Lock(folder / f"{run_id}.{generation}.json", info, heartbeat), None
    raise RuntimeError(f"Could not lock {run_id} in {folder}: its locks keep changing.")


def holders(out, run_ids):
    """{run_id: holder info} of the given runs that some process holds now."""
    found = {}
    for run_id in run_ids:
        existing = _generations(Path(out) / LOCKS_DIR, run_id)
        if existing:
            holder = _read(existing[-1][1])
            if holder is not None and not is_stale(holder, existing[-1][1]):
                found[run_id] = holder
    return found

"""The output folder of a sweep (`--out`): atomic writes, run records, resume state, loading results.

    config.json                 the resolved sweep configuration (identity checked on resume)
    runs/<run_id>/result.json   one finished run (written atomically as soon as it ends)
    runs/<run_id>/history.csv   per-epoch metrics (Keras CSVLogger)
    runs/<run_id>/diagnostics.json, tensorboard/
    runs/<run_id>/backup/       while a run trains: epoch<N>/ and a `current` symlink to the newest one
    results.json, results.csv, summary.md, plots/*.png   the report (relu_zoo.run.report)
    claims/                     which process trains which run now: its lock (relu_zoo.run.locks)
    quarantine/                 unreadable run folders, moved aside (`quarantine`) and trained again

Every file another process (or a resumed run) may read is written to a temporary name and renamed, so a
reader or a crash never sees half a file; a failed write removes its temporary file.
"""

import csv
import errno
import json
import os
import shutil
import sys
import time
from pathlib import Path

from relu_zoo import _io
from relu_zoo.run.spec import ConfigError, identity

RESULT_FILE = "result.json"
BACKUP_DIR = "backup"
BACKUP_METADATA = "training_metadata.json"
BACKUP_WEIGHTS = "latest.weights.h5"
# Values of the model's non-trainable variables, random-generator states included (save_weights skips those).
BACKUP_STATE = "non_trainable_state.npz"


class SweepConfigMismatch(ConfigError):
    pass


class OutputError(ConfigError):
    """The output folder cannot be used (a file, not writable, full); the message names the path and the fix."""


class CorruptRecord(ConfigError):
    """A run record that cannot be read (cut short, garbage, not a run's result)."""


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def output_error(error, path):
    """The OutputError for an OSError met while writing `path`, None when it is not about the storage."""
    path = getattr(error, "filename", None) or path
    if error.errno in DISK_FULL or "No space left" in str(error):
        return OutputError(f"No space left writing {str(path)!r} ({error.strerror or error}). Free space on that "
                           "disk, or pass another --out; re-running the same command resumes, finished runs are kept.")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"Cannot write {str(path)!r} ({error.strerror}). Make the folder writable, or pass "
                           "another --out.")
    return None


def atomic_write(path, write, suffix=".tmp"):
    """`write(tmp)` fills a temporary path beside `path` (`suffix`: the format a writer such as `numpy.savez`
    chooses by name), which is then renamed to `path`; a storage failure is raised as an OutputError."""
    try:
        return _io.atomic_write(path, write, suffix)
    except OSError as e:
        error = output_error(e, path)
        if error is None:
            raise
        raise error from None


def atomic_write_text(path, text):
    """`relu_zoo._io.atomic_write_text`, a storage failure (a full disk) raised as an OutputError naming `path`
    and the fix."""
    try:
        return _io.atomic_write_text(path, text)
    except OSError as e:
        error = output_error(e, path)
        if error is None:
            raise
        raise error from None


def atomic_write_json(path, data):
    atomic_write_text(path, _io.json_text(data))


def switch_current(root, stage):
    """Points `root/current` at the folder `stage` (inside `root`) with one atomic rename, then removes the
    other `epoch*` folders: a reader of `current` sees the old complete folder or the new one, never a mix."""
    root = Path(root)
    link = root / f".current.{os.getpid()}.tmp"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(Path(stage).name, link)
    os.replace(link, root / "current")
    for old in root.glob("epoch*"):
        if old.name != Path(stage).name:
            shutil.rmtree(old, ignore_errors=True)


def versions():
    import keras
    import tensorflow as tf

    import relu_zoo

    found = {"relu_zoo": relu_zoo.__version__, "keras": keras.__version__, "tensorflow": tf.__version__}
    backend = keras.backend.backend()
    if backend != "tensorflow":  # TensorFlow still reads the data (tf.data); the model runs on this one
        found[backend] = __import__(backend).__version__
    return found


# Keys of a sweep that may differ between the runs stored in a folder: which seeds (a seed is a run of its own).
GROWABLE_KEYS = ("seeds",)


def prepare_out_dir(config, write=True):
    """Creates `out` and writes config.json, or checks that an existing one describes the same sweep.

    `write=False` (a multi-worker non-chief) only checks."""
    out = check_out_dir(config.out, create=write)
    path = out / "config.json"
    current = json.loads(json.dumps(identity(config)))
    stored = current
    if path.exists():
        try:
            stored = json.loads(path.read_text())["sweep"]
        except (ValueError, KeyError, TypeError) as e:
            if write:
                # Every result records its sweep configuration too, so this file can be written anew.
                quarantine(out, path, f"{str(path)!r} is unreadable ({type(e).__name__}: {e})",
                           then="it is written anew")
                stored = current
        stored = stored if isinstance(stored, dict) else {}
        diff = sorted(k for k in set(current) | set(stored) if k not in GROWABLE_KEYS and stored.get(k) != current.get(k))
        if diff or stored.keys() ^ current.keys():
            raise SweepConfigMismatch(
                f"Output folder {str(out)!r} holds a different sweep (differs in: {', '.join(diff) or 'file'}). "
                "Use a new --out, or delete the folder to start over; to add runs, re-run with that folder's "
                "config (see its config.json)."
            )
    if write:
        # A sweep may gain seeds: `--seeds 1` now and `--seeds 5` later trains seeds 1-4 into the same folder.
        sweep = {**current, **{k: sorted(set(stored.get(k) or []) | set(current[k]))
                               for k in GROWABLE_KEYS if k in current}}
        atomic_write_json(path, {"sweep": sweep, "relu_zoo_version": versions()["relu_zoo"]})
    return out


def check_out_dir(out, create=True):
    """`out` as a Path, created and checked writable; an OutputError naming the path and the fix otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {str(out)!r} is a file, not a folder. Pass a folder (it is created if missing).")
    if not create:
        return out
    probe = out / f".write-test.{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except (NotADirectoryError, FileExistsError):
        raise OutputError(f"--out {str(out)!r} cannot be created: part of its path is a file. Pass a folder "
                          "path.") from None
    except OSError as e:
        raise (output_error(e, out) or OutputError(f"--out {str(out)!r} cannot be used ({e}). Pass another "
                                                   "folder.")) from None
    return out


def run_dir(out, run):
    return Path(out) / "runs" / run.run_id


REQUIRED_KEYS = ("run_id", "task", "model", "activation", "seed", "status", "test_accuracy", "test_loss",
                 "params", "history")


def read_result(path):
    """The run record at `path`; a CorruptRecord when it is cut short, garbage or not a run's result."""
    try:
        result = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise CorruptRecord(f"{str(path)!r} is unreadable ({type(e).__name__}: {e})") from None
    missing = [k for k in REQUIRED_KEYS if k not in result] if isinstance(result, dict) else ["a JSON object"]
    if missing:
        raise CorruptRecord(f"{str(path)!r} is not a run record (missing {', '.join(missing)})")
    if result["run_id"] != Path(path).parent.name:
        raise CorruptRecord(f"{str(path)!r} records run {result['run_id']!r}, not {Path(path).parent.name!r}")
    return result


def is_finished(out, run):
    """Whether `run` has a readable record."""
    try:
        read_result(run_dir(out, run) / RESULT_FILE)
        return True
    except (FileNotFoundError, CorruptRecord):
        return False


def warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


def quarantine(out, path, reason, then="the run is trained again"):
    """Moves `path` (inside `out`) to `out/quarantine/<name>.<time>.<pid>` and warns naming both; returns the
    new path. Nothing is deleted: the unreadable files stay there for a look."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    dest = Path(out) / "quarantine" / f"{Path(path).name}.{stamp}.{os.getpid()}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, dest)
    except FileNotFoundError:
        return None  # another process moved it first
    warn(f"{reason}; moved {str(path)!r} to {str(dest)!r}; {then}.")
    return dest


def _backup_problem(backup):
    """Why the backup `current` points at cannot be resumed from, None when it can (or there is none)."""
    current = Path(backup) / "current"
    if not current.is_symlink() and not current.exists():
        return None  # no epoch finished yet: nothing to resume
    try:
        int(json.loads((current / BACKUP_METADATA).read_text())["epoch"])
        import h5py
        import numpy as np

        for path in current.iterdir():
            if path.suffix == ".h5":
                with h5py.File(path, "r") as f:
                    f.visititems(lambda name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)
            elif path.suffix == ".npz":
                with np.load(path) as saved:
                    for key in saved.files:
                        saved[key]
    except Exception as e:  # json, h5py and zipfile each raise their own types for a damaged file
        return f"{type(e).__name__}: {e}"
    return None


def prepare_run(out, run):
    """Called while holding the run's lock: True when `run` is finished; otherwise quarantines an unreadable
    record or resume state (so the run is trained again from the start) and returns False."""
    folder = run_dir(out, run)
    try:
        read_result(folder / RESULT_FILE)
        return True
    except FileNotFoundError:
        pass
    except CorruptRecord as e:
        quarantine(out, folder, f"run record {e}")
        return False
    problem = _backup_problem(folder / BACKUP_DIR)
    if problem:
        quarantine(out, folder, f"the resume state in {str(folder / BACKUP_DIR)!r} is unreadable ({problem})")
    return False


def write_result(folder, result):
    """Records a finished run (atomically) and removes its backups, which only a resume needs."""
    atomic_write_json(Path(folder) / RESULT_FILE, result)
    shutil.rmtree(Path(folder) / BACKUP_DIR, ignore_errors=True)


def resume_epoch(backup_dir):
    """The number of finished epochs in a run's backup (`current/training_metadata.json`), 0 for a fresh run."""
    path = Path(backup_dir) / "current" / BACKUP_METADATA
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def history_from_csv(path):
    """Per-epoch metrics from CSVLogger's file; a row repeated by a restart keeps its last occurrence."""
    if not Path(path).exists():
        return []
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                # "NA": CSVLogger's value for validation keys in epochs that had no validation.
                rows[int(row["epoch"])] = {k: float(v) for k, v in row.items() if k != "epoch" and v not in ("", "NA")}
            except (KeyError, ValueError):
                continue
    return [dict(epoch=e, **rows[e]) for e in sorted(rows)]


def load_results(out_dir):
    """Every finished run's result in `out_dir`, sorted by run id; a CorruptRecord for an unreadable one."""
    results = []
    for path in sorted(Path(out_dir).glob(f"runs/*/{RESULT_FILE}")):
        try:
            results.append(read_result(path))
        except FileNotFoundError:
            continue  # being quarantined by a sweep right now
        except CorruptRecord as e:
            raise CorruptRecord(f"{e}. Re-run the sweep on {str(out_dir)!r} to quarantine it and train the run "
                                "again, or delete that run's folder.") from None
    return results


def _layer_key(item):
    name, entry = item
    if isinstance(entry, dict) and isinstance(entry.get("index"), int):
        return (0, entry["index"], "")
    # Records without an index: Keras numbers each layer class's auto-names in creation order ("re_lu",
    # "re_lu_1", … "re_lu_10"), which for the zoo's models is call order within a class.
    prefix, _, number = name.rpartition("_")
    if prefix and number.isdigit():
        return (1, int(number), prefix)
    return (1, 0, name)


def ordered_layers(layers):
    """A record's `{layer name: entry}` in call order. Records are stored with sorted keys, where "re_lu_10"
    comes before "re_lu_2": entries carry their call-order `index` (relu_zoo.diagnostics); older ones are
    ordered by the number Keras put in the name."""
    return dict(sorted(layers.items(), key=_layer_key))


def final_layers(result):
    """The per-layer diagnostics of a run's last recorded epoch, in call order ({} when it recorded none)."""
    diagnostics = result.get("diagnostics") or []
    if not diagnostics:
        return {}
    return ordered_layers(max(diagnostics, key=lambda r: r["epoch"])["layers"])

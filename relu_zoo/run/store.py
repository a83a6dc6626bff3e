"""The output folder of a sweep (`--out`): atomic writes, run records, resume state, loading results.

    config.json                 the resolved sweep configuration (identity checked on resume)
    runs/<run_id>/result.json   one finished run (written atomically as soon as it ends)
    runs/<run_id>/history.csv   per-epoch metrics (Keras CSVLogger)
    runs/<run_id>/diagnostics.json, tensorboard/
    runs/<run_id>/backup/       while a run trains: epoch<N>/ and a `current` symlink to the newest one
    results.json, results.csv, summary.md, plots/*.png   the report (relu_zoo.run.report)

Every file another process (or a resumed run) may read is written to a temporary name and renamed, so a
reader or a crash never sees half a file.
"""

import csv
import json
import os
import shutil
from pathlib import Path

from relu_zoo.run.spec import ConfigError, identity

RESULT_FILE = "result.json"
BACKUP_DIR = "backup"
BACKUP_METADATA = "training_metadata.json"
BACKUP_WEIGHTS = "latest.weights.h5"


class SweepConfigMismatch(ConfigError):
    pass


def atomic_write_text(path, text):
    """Writes via a temporary file + rename, so a reader (or a crash) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def switch_current(root, stage):
    """Points `root/current` at the folder `stage` (inside `root`) with one atomic rename, then removes the
    other `epoch*` folders: a reader of `current` sees the old complete folder or the new one, never a mix."""
    root = Path(root)
    link = root / ".current.tmp"
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

    return {"relu_zoo": relu_zoo.__version__, "keras": keras.__version__, "tensorflow": tf.__version__}


def prepare_out_dir(config, write=True):
    """Creates `out` and writes config.json, or checks that an existing one describes the same sweep.

    `write=False` (a multi-worker non-chief) only checks."""
    out = Path(config.out)
    path = out / "config.json"
    current = json.loads(json.dumps(identity(config)))
    if path.exists():
        try:
            stored = json.loads(path.read_text()).get("sweep", {})
        except json.JSONDecodeError:
            stored = None
        if stored != current:
            diff = sorted(k for k in set(current) | set(stored or {}) if (stored or {}).get(k) != current.get(k))
            raise SweepConfigMismatch(
                f"Output folder {str(out)!r} holds a different sweep (differs in: {', '.join(diff) or 'file'}). "
                "Use a new --out, or delete the folder to start over; to add runs, re-run with that folder's "
                "config (see its config.json)."
            )
    if write:
        atomic_write_json(path, {"sweep": identity(config), "relu_zoo_version": versions()["relu_zoo"]})
    return out


def run_dir(out, run):
    return Path(out) / "runs" / run.run_id


def is_finished(out, run):
    return (run_dir(out, run) / RESULT_FILE).exists()


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
                rows[int(row["epoch"])] = {k: float(v) for k, v in row.items() if k != "epoch" and v != ""}
            except (KeyError, ValueError):
                continue
    return [dict(epoch=e, **rows[e]) for e in sorted(rows)]


def load_results(out_dir):
    """Every finished run's result in `out_dir`, sorted by run id."""
    return [json.loads(path.read_text()) for path in sorted(Path(out_dir).glob(f"runs/*/{RESULT_FILE}"))]


def final_layers(result):
    """The per-layer diagnostics of a run's last recorded epoch ({} when it recorded none)."""
    diagnostics = result.get("diagnostics") or []
    if not diagnostics:
        return {}
    return max(diagnostics, key=lambda r: r["epoch"])["layers"]

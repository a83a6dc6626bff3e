"""Atomic file writes: every file relu_zoo writes goes through here.

A file is written under a temporary name beside its destination and renamed into place, so a reader (another
process, a resumed run) or a crash never sees half a file; a write that fails removes its temporary file.
The bottom of the package's import order: it imports nothing from relu_zoo.
"""

import json
import os
import secrets
import shutil
from pathlib import Path


def temporary_path(path, suffix=".tmp"):
    """A fresh hidden name beside `path` (`.<name>.<pid>.<random><suffix>`). Keras and matplotlib choose the
    format from the suffix, so callers saving `.keras` or `.png` files pass it."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write(path, write, suffix=".tmp"):
    """Calls `write(tmp)` to fill a temporary path beside `path` (a file or a folder), then renames it to `path`.

    An existing folder at `path` is replaced (a rename cannot replace a non-empty folder, so it is removed
    first: readers may see no folder for a moment, never a half-written one). Returns `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path, suffix)
    try:
        write(tmp)
        if tmp.is_dir() and path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


def _synced_text(text):
    def write(tmp):
        with open(tmp, "x") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return write


def atomic_write_text(path, text):
    """Writes `text` to `path` atomically (fsynced before the rename)."""
    return atomic_write(path, _synced_text(text))


def json_text(data):
    """`data` as relu_zoo writes JSON files: indented, keys sorted, anything else as `str`."""
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def atomic_write_json(path, data):
    """Writes `data` as `json_text` to `path` atomically."""
    return atomic_write_text(path, json_text(data))


def create_text(path, text):
    """Creates `path` holding `text` only if no file is there; True when this call created it.

    Writes a temporary file and hard-links it to `path`, so the file appears complete or not at all. Without
    hard links on the file system it falls back to an exclusive create, whose content appears a moment later.
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        _synced_text(text)(tmp)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    try:
        with open(path, "x") as f:
            f.write(text)
        return True
    except FileExistsError:
        return False

"""Finished runs kept in a folder of their own (committed), so a long sweep accumulates across sessions and machines.

A sweep trains into a work folder that is not committed (backups, TensorBoard logs). `save` copies each
finished run's record (`**/runs/<run_id>/result.json`) into a committed folder of records, one JSON file per
run; `restore` puts them back into a fresh work folder, where the runner takes them as finished and trains
only the rest. Both are idempotent.
"""

import shutil
from pathlib import Path

RESULT = "result.json"
SEPARATOR = "__in__"


def _record_name(work, result):
    # The run folder's path below `work`, flattened: "<cell>/runs/<run_id>" -> "<run_id>__in__<cell>.json".
    parts = result.parent.relative_to(work).parts
    run_id, above = parts[-1], [p for p in parts[:-1] if p != "runs"]
    return run_id + "".join(SEPARATOR + p for p in above) + ".json"


def save(work, records, accept=None):
    """Copies records of finished runs from `work` into `records` (those whose result file `accept(path)` accepts,
    when given); returns the names of the new ones."""
    work, records = Path(work), Path(records)
    added = []
    for result in sorted(work.rglob(f"runs/*/{RESULT}")):
        target = records / _record_name(work, result)
        if not target.exists() and (accept is None or accept(result)):
            records.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(result, tmp)
            tmp.replace(target)
            added.append(target.name)
    return added


def restore(records, work, accept=None):
    """Puts every record of `records` (that `accept(path)` accepts, when given) back into `work` where that run has
    no record yet; returns how many."""
    records, work = Path(records), Path(work)
    restored = 0
    for record in sorted(records.glob("*.json")) if records.is_dir() else []:
        if accept is not None and not accept(record):
            continue
        run_id, *above = record.stem.split(SEPARATOR)
        folder = work.joinpath(*above, "runs", run_id)
        if not (folder / RESULT).exists():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(record, folder / RESULT)
            restored += 1
    return restored

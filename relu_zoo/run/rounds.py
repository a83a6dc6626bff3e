"""A `target_ci` sweep: seeds added in rounds until every paired interval is narrow enough, or the cap.

Each round is an ordinary sweep (relu_zoo.run.sweep) of seeds 0 ... n-1 for the next planned look n
(relu_zoo.run.sequential), so finished runs are skipped and the same command resumes. After each round the rule
is replayed on the records (`sequential.progress`); it decides from them alone, so a resumed sweep stops where
an uninterrupted one did and a re-run of a finished one trains nothing. Besides the report it writes

    sequential.json   the planned looks, the level of their intervals, the half-widths at each look, the look it
                      stopped at and whether the target was met (`sequential.progress`)

and summary.md says the same in a paragraph (relu_zoo.run.report renders it from the records).
"""

from pathlib import Path

from relu_zoo.run import sequential, store
from relu_zoo.run.spec import ConfigError
from relu_zoo.run.sweep import sweep

RECORD_FILE = "sequential.json"


def records(out):
    """The readable run records in `out`; an unreadable one is the sweep's to quarantine and train again."""
    found = []
    for path in sorted(Path(out).glob(f"runs/*/{store.RESULT_FILE}")):
        try:
            found.append(store.read_result(path))
        except (FileNotFoundError, store.CorruptRecord):
            continue
    return found


def check_started_alike(out, config):
    """A ConfigError when `out` holds runs of a `target_ci` sweep that started with other seeds: its looks, and so
    its intervals' level, were planned from those (`seeds` may otherwise grow between runs of one folder)."""
    started = {tuple(r["config"]["seeds"]) for r in records(out)
               if (r.get("config") or {}).get("target_ci") is not None}
    others = sorted(started - {tuple(config.seeds)})
    if others:
        first = len(others[0])
        raise ConfigError(f"Output folder {str(out)!r} holds a --target-ci sweep that started with --seeds {first} "
                          f"(looks at {', '.join(map(str, sequential.looks(first, config.max_seeds)))} seeds), not "
                          f"--seeds {len(config.seeds)}. Re-run it with --seeds {first}, or use a new --out.")


def sweep_until(config, log=print, command=None, distribution=None):
    """Trains `config`'s sweep look by look until every paired half-width is at most `config.target_ci` points or
    the last planned look is done; writes the report and sequential.json. Returns the summary.md path (None when
    runs of the round are still held by other processes, as `sweep` does)."""
    check_started_alike(config.out, config)
    planned, alpha = sequential.looks(len(config.seeds), config.max_seeds), sequential.alpha_per_look(config)
    log(f"--target-ci {config.target_ci:g}: looks at {', '.join(map(str, planned))} seeds, every interval at "
        f"{100 * (1 - alpha):.4g}% (0.05 over {len(planned)} looks)")
    for n in planned:
        summary = sweep(config, log=log, command=command, distribution=distribution, seeds=range(n))
        if summary is None:
            return None
        out = summary.parent
        # Only seeds 0 ... n-1: the decision at this look sees what an uninterrupted sweep saw here.
        record = sequential.progress([r for r in records(out) if r["seed"] < n], config)
        log(sequential.look_line(record, record["seen"][-1]))
        if record["stopped"] is not None:
            break
    if not record["target_met"]:
        log(sequential.outcome(record))
    store.atomic_write_json(out / RECORD_FILE, record)
    return summary

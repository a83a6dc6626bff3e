"""Named protocols: a fixed set of task x model cells, seeds and budgets under which any activation is compared
with the zoo's own, against baselines stored once.

A protocol (`relu_zoo/protocols/<name>.yaml`) lists its baseline activations, its seeds, overrides common to every
cell, and its cells: each a preset plus overrides, i.e. a sweep of its own; a cell may set its own `seeds` (a count
or a list), sized so that its stored baselines resolve the difference the protocol is for. `compare` trains, cell by cell, the
given activations and every baseline run the stored records do not already hold, then writes one report across
the cells (paired by seed against the first baseline, Holm-adjusted per cell) and a summary figure.

Stored baselines are finished runs' records (relu_zoo.run.records) in `benchmarks/reports/<name>/records/` of a
checkout, or any folder passed as `baselines`. A record is used only if it was trained under this protocol's
cell as it is now (its recorded sweep configuration, apart from the activations, equals the cell's): a protocol
changed since, or a record from elsewhere, is left out and that run is trained again.
"""

import dataclasses
import json
from pathlib import Path

from relu_zoo.run import records, spec
from relu_zoo.run.spec import ConfigError

PROTOCOL_DIR = Path(__file__).parents[1] / "protocols"
# A checkout's stored baselines; an installed package has none (then the baselines are trained too).
STORED = Path(__file__).parents[2] / "benchmarks" / "reports"
# Keys a stored baseline may differ in from the cell it is used for: the list of activations around it, and the
# seeds of the sweep it came from (a cell that gains seeds keeps the records of the seeds it had; each record's own
# seed is checked against the cell's) and the design that chose how many seeds to train.
FREE_KEYS = ("activations", "seeds") + ("target_ci", "max_seeds")
# A comparison's own design on top of a cell's seeds (`--target-ci`): it decides how many seeds train, never what
# one run gives, so a stored baseline serves it (FREE_KEYS).
DESIGN_KEYS = ("target_ci", "max_seeds")
SUMMARY_FIGURE = "compare.png"


@dataclasses.dataclass(frozen=True)
class Protocol:
    name: str
    baselines: tuple
    seeds: tuple
    common: dict
    cells: dict  # cell name -> {"preset": ..., optional "seeds", other SweepConfig keys}

    def seeds_of(self, cell):
        """The cell's seeds: its own `seeds` (a count n means 0..n-1, or a list), else the protocol's."""
        seeds = self.cells[cell].get("seeds", self.seeds)
        return tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)

    def config(self, cell, activations=(), out="runs/compare", settings=None):
        """The cell's sweep: the baselines, then `activations` not among them, into `out/<cell>`. `settings`: keys
        that change no result (spec.NON_IDENTITY_KEYS: data_dir, verbose, ...) and `target_ci`/`max_seeds`, which
        add seeds beyond the cell's own in rounds (relu_zoo.run.rounds)."""
        overrides = dict(self.cells[cell])
        preset = overrides.pop("preset", None)
        labels = {spec.activation_label(a) for a in self.baselines}
        extra = [a for a in activations if spec.activation_label(a) not in labels]
        settings = dict(settings or {})
        changing = sorted(set(settings) - set(spec.NON_IDENTITY_KEYS) - set(DESIGN_KEYS))
        if changing:
            raise ConfigError(f"A protocol fixes {', '.join(changing)}; only {', '.join(spec.NON_IDENTITY_KEYS)} "
                              "may be set. Use `relu-zoo train` for other settings.")
        overrides = {**self.common, **overrides, "activations": [*self.baselines, *extra],
                     "seeds": list(self.seeds_of(cell)), **settings, "out": str(Path(out) / cell)}
        try:
            return spec.resolve(preset, overrides=overrides, check=False)
        except ConfigError as e:
            raise ConfigError(f"Protocol {self.name!r}, cell {cell!r}: {e}") from None


def list_protocols():
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def load(name):
    """The protocol `name` (a shipped one, see `list_protocols`)."""
    path = PROTOCOL_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"Unknown protocol {name!r}. Protocols: {', '.join(list_protocols())}.")
    data = spec.load_file(path)
    missing = [k for k in ("baselines", "seeds", "cells") if not data.get(k)]
    if missing:
        raise ConfigError(f"Protocol file {str(path)!r} lacks {', '.join(missing)}.")
    return Protocol(name, tuple(data["baselines"]), tuple(data["seeds"]), dict(data.get("common") or {}),
                    dict(data["cells"]))


def stored_baselines(name):
    """The checkout's stored baseline records of protocol `name`, or None."""
    path = STORED / name / "records"
    return path if path.is_dir() else None


def _comparable(identity):
    return {k: v for k, v in identity.items() if k not in FREE_KEYS}


def usable(protocol, record_path):
    """Whether the stored record at `record_path` was trained under its cell of `protocol` as it is now."""
    return stored_filter(protocol)(record_path)


def stored_filter(protocol):
    """`usable` for many records: each cell's sweep configuration resolved once (a preset file read per cell)."""
    # JSON-normalized (tuples -> lists), as the records hold it.
    wanted = {cell: json.loads(json.dumps(_comparable(spec.identity(protocol.config(cell)))))
              for cell in protocol.cells}
    # Only the protocol's baselines: runs of an activation stored ahead of its joining them stay out of comparisons.
    labels = {spec.activation_label(a) for a in protocol.baselines}

    def accept(record_path):
        cell = record_path.stem.partition(records.SEPARATOR)[2]
        if cell not in wanted:
            return False
        try:
            result = json.loads(record_path.read_text())
        except (OSError, ValueError):
            return False
        return (result.get("activation") in labels and result.get("seed") in protocol.seeds_of(cell)
                and _comparable(result.get("config") or {}) == wanted[cell])

    return accept


def default_out(protocol, activations):
    """runs/compare/<protocol>__<activations>: a folder per comparison, so that comparing another activation
    under the same protocol never meets the first one's sweep configuration."""
    labels = [spec.activation_label(a) for a in activations] or ["baselines"]
    return Path("runs") / "compare" / "__".join([protocol, *labels]).replace("/", "-").replace(":", "-")


def check(protocol, activations, settings=None):
    """Every cell's sweep validated (names, tasks, models) before any data is loaded or any run trains."""
    for cell in protocol.cells:
        try:
            spec.validate(protocol.config(cell, activations, settings=settings))
        except (ConfigError, ValueError) as e:
            raise ConfigError(f"Protocol {protocol.name!r}, cell {cell!r}: {e}") from None


def compare(activations, protocol="standard", out=None, baselines="stored", save_baselines=None, settings=None,
            log=print, command=None):
    """Trains `activations` (and any baseline run not stored) under `protocol`; returns the report's summary.md.

    `baselines`: a folder of stored records, "stored" for the checkout's (when there is one), or None to train
    every baseline too. `save_baselines`: a folder that the finished baseline runs' records are copied into
    (how the stored ones are made). Each cell is a sweep in `out/<cell>`, resumable like any other."""
    from relu_zoo.run.report import write_report
    from relu_zoo.run.rounds import sweep_until
    from relu_zoo.run.sweep import sweep

    protocol = load(protocol) if isinstance(protocol, str) else protocol
    activations = list(activations)
    check(protocol, activations, settings)
    out = Path(out) if out is not None else default_out(protocol.name, activations)
    source = stored_baselines(protocol.name) if baselines == "stored" else baselines
    stored = source is not None and Path(source).is_dir()
    if stored:
        restored = records.restore(source, out, accept=stored_filter(protocol))
        log(f"{restored} stored baseline run(s) of protocol {protocol.name!r} restored from {source}")
    else:
        log(f"No stored baselines of protocol {protocol.name!r} here: the baselines are trained too.")
    folders = []
    for cell in protocol.cells:
        config = protocol.config(cell, activations, out, settings)
        log(f"== {protocol.name} / {cell}")
        (sweep_until if config.target_ci is not None else sweep)(config, log=log, command=command)
        folders.append(out / cell)
        if save_baselines is not None:  # after each cell: a long first run keeps what it finished
            saved = records.save(out, save_baselines, accept=lambda path: _is_baseline(protocol, path))
            log(f"{len(saved)} baseline record(s) saved into {save_baselines}")
    # Stored baselines were timed in another session (also when restored by an earlier call): no time ratios.
    path = write_report(folders, out, command=command, timed_together=not stored)
    summary_figure(json.loads((out / "results.json").read_text())["summary"], out / "plots" / SUMMARY_FIGURE,
                   highlight=[spec.activation_label(a) for a in activations])
    return path


def _is_baseline(protocol, result_path):
    labels = {spec.activation_label(a) for a in protocol.baselines}
    return json.loads(Path(result_path).read_text()).get("activation") in labels


def figure_points(summary):
    """Per compared activation, in order of appearance: `(cell index, Δ, Δ - low, high - Δ)` in points for each
    cell where it has a paired difference to the baseline (`stats.paired_comparison`'s mean and 95% CI)."""
    points = {}
    for x, group in enumerate(summary):
        for row in group["rows"]:
            diff = row.get("vs_baseline") or {}
            if diff.get("mean_diff") is None:
                continue
            mean = diff["mean_diff"]
            low, high = diff.get("ci95") or (mean, mean)
            points.setdefault(row["activation"], []).append((x, 100 * mean, 100 * (mean - low), 100 * (high - mean)))
    return points


def summary_figure(summary, path, highlight=()):
    """One panel: each activation's test accuracy minus the baseline's per cell (paired by seed, 95% CI)."""
    from relu_zoo.run.plots import pyplot, save_figure

    plt = pyplot()
    cells = [f"{g['task']}\n{g['model']}" for g in summary]
    points = figure_points(summary)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(cells), 4))
    width = 0.8 / max(len(points), 1)
    for i, (name, found) in enumerate(points.items()):
        xs = [x - 0.4 + width * (i + 0.5) for x, *_ in found]
        bold = name in highlight
        ax.errorbar(xs, [p[1] for p in found], yerr=[[p[2] for p in found], [p[3] for p in found]],
                    fmt="o" if bold else ".", capsize=3, label=name, markersize=8 if bold else 5,
                    linewidth=2 if bold else 1, zorder=3 if bold else 2)
    baseline = summary[0]["baseline"] if summary else "baseline"
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(cells)), cells)
    ax.set_ylabel(f"test accuracy − {baseline} (points)")
    ax.set_title(f"Paired by seed against {baseline}; bars: 95% CI")
    if points:
        ax.legend(fontsize=8, ncol=2)
    else:  # the baselines' own runs only (as when they are stored): nothing is compared with the baseline
        ax.text(0.5, 0.5, f"only {baseline}: nothing to compare", transform=ax.transAxes, ha="center")
    save_figure(fig, path)
    return path

"""Studies: the claims made about ReLU, each measured with the zoo's layers, models and real data.

    relu-zoo study NAME [--out DIR] [--work DIR] [--quick]
    relu-zoo study NAME --restate [--out DIR]

Each study (a module here, see `relu_zoo.studies.common`) trains its grid through the resumable runner
(`relu_zoo.run.sweep`), one sweep per grid cell, then writes `results.json`, `figures/*.png` and a `README.md`
stating the finding with numbers into `--out` (default `benchmarks/reports/studies/<name>/`). `--restate`
recomputes a stored study's comparisons and verdict from its `results.json` alone.
"""

import importlib
import shlex
from pathlib import Path

from relu_zoo.names import Registry
from relu_zoo.run.spec import ConfigError

STUDIES = Registry("study", listing="Studies")
for _name, _module in (("vanishing", "vanishing"), ("init", "init"), ("dying", "dying"), ("born_dead", "born_dead"),
                      ("sparsity", "sparsity"), ("trains_faster", "trains_faster"),
                      ("glu_variants", "glu_variants"), ("squared_relu", "squared_relu")):
    STUDIES.register(_name, f"relu_zoo.studies.{_module}")


def list_studies():
    return STUDIES.names()


def get(name):
    """The module of study `name`; a ValueError naming the valid studies otherwise."""
    return importlib.import_module(STUDIES.get(name))


def default_out(name, quick=False):
    return Path("runs/studies-quick" if quick else "benchmarks/reports/studies") / name


def default_work(name, quick=False):
    return Path("runs/studies-quick" if quick else "runs/studies") / name / "runs"


def run_study(name, out=None, work=None, quick=False, data_dir=None, log=print, train=True):
    """Runs (or resumes) study `name` and writes its results; returns the README.md path.

    Each finished run's record is also kept in `<out>/records/` (committed with the report), and put back into
    `work` before training: a study resumes from those on another machine, not only from its work folder.
    `train=False` (`--report-only`) trains nothing: it writes the results of the runs finished so far,
    marked as partial when some are missing."""
    from relu_zoo.run import records
    from relu_zoo.studies import common

    module = get(name)
    needs = getattr(module, "NEEDS_TENSORFLOW", None)
    if needs and train:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise ConfigError(f"Study {name!r} cannot train on Keras' {keras.backend.backend()} backend: {needs}. "
                              "Run it with KERAS_BACKEND=tensorflow.")
    out = Path(out) if out else default_out(name, quick)
    work = Path(work) if work else default_work(name, quick)
    kept = out / "records"
    records.restore(kept, work)

    def log_and_keep(line):
        log(line)
        records.save(work, kept)  # cheap and idempotent: any line may follow a finished run

    command = "relu-zoo study " + " ".join(
        shlex.quote(a) for a in [name, *(["--quick"] if quick else []), "--out", str(out), "--work", str(work)])
    results, expected = common.run_cells(module.cells(quick), quick, work, data_dir=data_dir, log=log_and_keep,
                                         command=command, train=train)
    records.save(work, kept)
    if expected and not results:
        raise ConfigError(f"No finished runs of study {name!r} in {str(work)!r}: nothing to report. Run it "
                          "without --report-only first.")
    analysis = module.analyze(results, quick, work)
    return common.write_outputs(module, name, analysis, results, out, command, quick, expected)


def restate_study(name, out=None, quick=False):
    """Recomputes the comparisons and verdict of study `name` stored in `out` from its results.json alone
    (`common.restate`: nothing is trained or read from a work folder) and rewrites the report; returns the
    README.md path."""
    from relu_zoo.studies import common

    out = Path(out) if out else default_out(name, quick)
    if not (out / "results.json").is_file():
        raise ConfigError(f"No stored results of study {name!r} in {str(out)!r}: nothing to restate. Run the "
                          "study first.")
    return common.restate(get(name), name, out)

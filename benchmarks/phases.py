"""Where a `python train.py` process spends its time: its phases, timed inside one process.

    python benchmarks/phases.py [--json F] [-- train.py flags]    (no flags: the default sweep)

It runs `relu_zoo.console.main` in this process with timers wrapped around the functions each phase runs (Keras' public
methods and relu_zoo's own; nothing it computes changes), and charges every second to exactly one phase:
time inside a nested phase counts for it, not for its caller, so the phases add up to the whole run.

Phases: importing TensorFlow, Keras and relu_zoo; loading the data (`load_data`, one pass over every
split); building and compiling each model; the first call of each model's train function (tracing it into
a graph, then one step) and the later calls (training steps, each taking its batch from the input pipeline
inside the graph); the first call of the test function (tracing) and the validation batches; each Keras
callback's hooks, by class (diagnostics, CSV, TensorBoard, backups, ...); `fit`'s own loop; the test
evaluation; the rest of each run (result.json, memory sampling); the report and its plots; and what is
left (command line, configuration, output folder). Wall time and this process' CPU time are charged alike.
Setting up a run's diagnostics (its probe batch) counts as the run's other work; their callback's hooks are
timed as the callback. After the run, one run's training batches are drawn from its input pipeline alone.
"""

import argparse
import contextlib
import functools
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

if not __package__:  # `python benchmarks/phases.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting, train_process  # noqa: E402

# Keras callback hooks timed per callback class (the batch hooks run once per step).
CALLBACK_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
                  "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end")


class PhaseClock:
    """Exclusive time per phase: while a phase nested in another runs, only the inner one is charged.

    `clocks` maps a measure's name to a clock (default: wall time and this process' CPU time).
    """

    def __init__(self, clocks=None):
        self.clocks = clocks or {"wall_s": time.perf_counter, "cpu_s": time.process_time}
        self.totals = {}  # phase -> {measure: seconds}
        self.calls = {}
        self.stack = []
        self._since = None

    def _now(self):
        return {k: clock() for k, clock in self.clocks.items()}

    def _charge(self, now):
        totals = self.totals.setdefault(self.stack[-1], dict.fromkeys(self.clocks, 0.0))
        for k, value in now.items():
            totals[k] += value - self._since[k]
        self._since = now

    @contextlib.contextmanager
    def phase(self, name):
        now = self._now()
        if self.stack:
            self._charge(now)
        self.stack.append(name)
        self._since = now
        try:
            yield
        finally:
            self._charge(self._now())
            self.stack.pop()
            self.calls[name] = self.calls.get(name, 0) + 1

    def timed(self, fn, name):
        """`fn` run inside phase `name` (a string, or a function of fn's arguments returning one)."""

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.phase(name(*args, **kwargs) if callable(name) else name):
                return fn(*args, **kwargs)

        wrapper.phase_timed = True
        return wrapper

    def first_call_apart(self, fn, first, later):
        """`fn` timed as phase `first` on its first call and `later` after (a traced function's first call)."""
        called = []

        def name(*args, **kwargs):
            if called:
                return later
            called.append(True)
            return first

        return self.timed(fn, name)

    def report(self):
        """Phases in first-entered order with seconds, calls and share of the total wall time."""
        total = {k: sum(t[k] for t in self.totals.values()) for k in self.clocks}
        rows = [{"phase": phase, **{k: round(v, 3) for k, v in t.items()}, "calls": self.calls.get(phase, 0),
                 "share": t["wall_s"] / total["wall_s"] if total.get("wall_s") else None}
                for phase, t in self.totals.items()]
        return {"total": {k: round(v, 3) for k, v in total.items()}, "phases": rows}


def _time_callbacks(clock, callback_list):
    """Wraps the hooks of each callback in a Keras `CallbackList` (on the instances: the list calls them)."""
    for callback in callback_list.callbacks:
        for hook in CALLBACK_HOOKS:
            method = getattr(callback, hook)
            if not getattr(method, "phase_timed", False):
                setattr(callback, hook, clock.timed(method, f"callback {type(callback).__name__}"))


@contextlib.contextmanager
def instrumented(clock):
    """relu_zoo's sweep and Keras' fit/evaluate with every phase timed by `clock` (undone on exit)."""
    import keras

    from relu_zoo.run import sweep as sweep_lib
    from relu_zoo.run import train as train_lib
    from relu_zoo.run.report import write_report

    def evaluate_phase(*args, **kwargs):
        return "validation batches" if "fit" in clock.stack else "test evaluation"

    def traced(kind, first, later):
        make = getattr(keras.Model, f"make_{kind}_function")

        def make_and_wrap(model, *args, **kwargs):
            result = make(model, *args, **kwargs)
            fn = getattr(model, f"{kind}_function")
            if fn is not None and not getattr(fn, "phase_timed", False):
                fn = clock.first_call_apart(fn, first, later)
                setattr(model, f"{kind}_function", fn)
            return fn if result is not None else result

        return make_and_wrap

    original_init = keras.callbacks.CallbackList.__init__

    def callback_list_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _time_callbacks(clock, self)

    patches = [
        (sweep_lib, "load_data", clock.timed(sweep_lib.load_data, "data loading")),
        (sweep_lib, "run_one", clock.timed(sweep_lib.run_one, "run: other (result.json, memory sampling)")),
        (sweep_lib, "write_report", clock.timed(write_report, "report + plots")),
        (train_lib, "build_model", clock.timed(train_lib.build_model, "model build + compile")),
        (keras.Model, "fit", clock.timed(keras.Model.fit, "fit")),
        (keras.Model, "evaluate", clock.timed(keras.Model.evaluate, evaluate_phase)),
        (keras.Model, "make_train_function",
         traced("train", "first train step (tracing)", "train steps (input pipeline inside)")),
        (keras.Model, "make_test_function", traced("test", "first test step (tracing)", "test steps")),
        (keras.callbacks.CallbackList, "__init__", callback_list_init),
    ]
    with contextlib.ExitStack() as stack:
        for owner, attribute, value in patches:
            stack.enter_context(mock.patch.object(owner, attribute, value))
        yield


def pipeline_pass(config, task=None, seed=0):
    """Seconds to draw one run's training batches (every epoch) from the input pipeline alone, no model."""
    from relu_zoo.run.train import TaskCache

    data = TaskCache(config).get(task or config.tasks[0])
    batches = data.train_epochs(0, config.epochs, seed=seed)
    start = time.perf_counter()
    count = sum(1 for _ in batches)
    return {"batches": count, "seconds": time.perf_counter() - start}


def profile_train_py(argv, out):
    """Runs `train.py argv --out out` in this process with its phases timed; returns the phase report.

    Must be called before this process imports TensorFlow: importing it is the first phase.
    """
    clock = PhaseClock()
    with clock.phase("import TensorFlow, Keras, relu_zoo"):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        from relu_zoo import console
        from relu_zoo.run import sweep  # noqa: F401  (what train.py imports on its way to training)
    argv = [*argv, "--out", str(out)]
    with clock.phase("other (command line, configuration, output folder)"), instrumented(clock):
        code = console.main(argv, prog="train.py")
    if code:
        raise RuntimeError(f"train.py {' '.join(argv)} exited with {code}")
    report = clock.report()
    report["command"] = " ".join(["python train.py", *argv[:-2]])
    report["loadavg_end"] = list(os.getloadavg())
    return report


def process_age_s():
    """Seconds since this process started (Linux /proc), or None where that cannot be read."""
    try:
        with open("/proc/self/stat") as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, in clock ticks
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - started / os.sysconf("SC_CLK_TCK")


def phases(extra=()):
    """`python train.py [extra]` (no flags: the default sweep) run in this process with its time split into
    phases, then one run's training batches drawn from its input pipeline alone. Call it before this process
    imports TensorFlow: the import is the first phase."""
    loadavg = list(os.getloadavg())
    with tempfile.TemporaryDirectory() as out:
        report = profile_train_py(list(extra), out)
        report["report_files"] = train_process.report_files(out)
    report["process_s"] = process_age_s()  # interpreter start to here (what `time python ...` sees)
    from relu_zoo import console

    report["pipeline_alone"] = pipeline_pass(console.train_config(list(extra)))
    report["loadavg_start"] = loadavg
    report["train_command"] = report.pop("command")
    return report


def markdown(report):
    total, alone = report["total"], report["pipeline_alone"]
    rows = [[r["phase"], f"{r['wall_s']:.1f}", f"{100 * r['share']:.1f}%", f"{r['cpu_s']:.1f}", r["calls"]]
            for r in report["phases"]]
    return (f"`{report['train_command']}` in one process: {total['wall_s']:.1f} s wall, {total['cpu_s']:.1f} s CPU "
            f"(process {report['process_s'] or float('nan'):.1f} s); input pipeline alone: {alone['batches']} "
            f"batches in {alone['seconds']:.1f} s\n\n"
            + reporting.table(["phase", "wall s", "share", "CPU s", "calls"], rows))


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(prog="python benchmarks/phases.py", description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="also write the phases to this JSON file")
    args, extra = parser.parse_known_args(argv)
    report = phases([e for e in extra if e != "--"])
    reporting.publish(report, "phases.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

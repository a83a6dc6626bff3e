"""Quiet by default: TensorFlow's C++ start-up lines are not output of relu_zoo's commands.

Importing TensorFlow writes lines like `cudart_stub.cc:31] Could not find cuda drivers` and
`cpu_feature_guard.cc ... rebuild TensorFlow` straight to file descriptor 2 from C++, before its own
`TF_CPP_MIN_LOG_LEVEL` is read for some of them, so no Python setting reaches them. `filtered_stderr()` captures
descriptor 2 and writes back every line that is not one of those known start-up notices: anything else (a real
error) still shows. relu_zoo's own commands (`is_command()`) import TensorFlow inside it (`relu_zoo._startup`); a
program that imports relu_zoo as a library gets TensorFlow's start-up lines as TensorFlow writes them.

`quiet_xla_start()` spends XLA's once-per-process start-up lines inside one capture before relu_zoo's first XLA
cluster: those lines come from relu_zoo's clusters, not from the user's own TensorFlow code.

Show everything: `RELU_ZOO_VERBOSE=2` (or `--verbose 2` on relu_zoo's commands, or set `TF_CPP_MIN_LOG_LEVEL`
yourself).
"""

import contextlib
import json
import logging
import os
import re
import sys
import tempfile

VERBOSE_ENV = "RELU_ZOO_VERBOSE"
# The console script of `[project.scripts]` (pyproject.toml), with the suffixes of its Windows launchers.
CONSOLE_SCRIPT = re.compile(r"relu-zoo(\.exe|-script\.pyw?)?")
# The start-up notices TensorFlow prints on every import; nothing a user can act on.
TENSORFLOW_START = (r"All log messages before absl::InitializeLog|cudart_stub\.cc|cpu_feature_guard\.cc|"
                    r"To enable the following instructions: |cuda_(platform|executor|dnn|fft|blas)\.cc|"
                    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
                    r"Created TensorFlow Lite XNNPACK delegate|"
                    # Every import with oneDNN's kernels on (relu_zoo._startup):
                    r"oneDNN custom operations are on")
# XLA's first compilation in a process (see quiet_xla_start).
XLA_START = (r"XLA service 0x[0-9a-f]+ initialized for platform|StreamExecutor (\[\d+\]|device \(\d+\))|"
             r"Compiled cluster using XLA!")
NOISE = re.compile(f"{TENSORFLOW_START}|{XLA_START}")


def verbosity(argv=None, environ=None):
    """2 when the user asked to see everything (`RELU_ZOO_VERBOSE=2`, or `--verbose 2` on our commands)."""
    environ = os.environ if environ is None else environ
    if environ.get(VERBOSE_ENV, "").strip():
        try:
            return int(environ[VERBOSE_ENV])
        except ValueError:
            return 2
    argv = sys.argv if argv is None else argv
    if not is_command(argv):
        return 0
    for i, arg in enumerate(argv):
        if arg == "--verbose=2" or (arg == "--verbose" and argv[i + 1:i + 2] == ["2"]):
            return 2
    return 0


_RUNNING = []


@contextlib.contextmanager
def running_command():
    """Within it (or in a function it decorates) `is_command()` is True: a command's `main` called in-process
    (`relu-zoo train` calling train.py's, tests) runs as a command, though `sys.argv` is another program's."""
    _RUNNING.append(True)
    try:
        yield
    finally:
        _RUNNING.pop()


def is_command(argv=None):
    """True for relu_zoo's own programs: the `relu-zoo` script, `python -m relu_zoo.<module>` (whose `argv[0]` is a
    file of this package once it runs), the checkout's `train.py` and `benchmarks/*.py`, and within
    `running_command()`. A script of the same name elsewhere (a user's own `train.py`) is not one."""
    if argv is None and _RUNNING:
        return True
    argv = sys.argv if argv is None else argv
    if not argv or not argv[0]:
        return False
    if argv[0] == "-m":
        # `python -m relu_zoo.x` while the package is imported, before the module runs: the interpreter's own
        # command line has the module name where sys.argv has "-m" (sys.argv = [*interpreter's, module][-len:]).
        orig = getattr(sys, "orig_argv", [])
        module = orig[len(orig) - len(argv)] if len(orig) > len(argv) else ""
        return module == "relu_zoo" or module.startswith("relu_zoo.")
    if CONSOLE_SCRIPT.fullmatch(os.path.basename(argv[0])):
        return True
    package = os.path.dirname(os.path.realpath(__file__))
    checkout = os.path.dirname(package)
    program = os.path.realpath(argv[0])
    return (program == os.path.join(checkout, "train.py")
            or program.startswith((package + os.sep, os.path.join(checkout, "benchmarks") + os.sep)))


def filter_noise(text):
    """`text` without TensorFlow's start-up notices."""
    return "".join(line for line in text.splitlines(keepends=True) if not NOISE.search(line))


# The functions made once per model from one piece of code: Keras' step functions (fit/evaluate's and
# train_on_batch's), and the diagnostics' probe (`relu_zoo.diagnostics._probe_statistics`).
_PER_MODEL_FUNCTIONS = (".multi_step_on_iterator ", ".one_step_on_data ", "_probe_statistics.<locals>.statistics ")


class _NewModelStepTraces(logging.Filter):
    """Drops TensorFlow's retracing warning about functions made once per model, which a sweep of short runs
    sets off.

    TensorFlow counts traces per Python code object, and each model gets its own step function (and diagnostics
    probe) made from the same code: a sweep traces every new model's train and test step once, and after a few
    runs of a few steps TensorFlow reports that as retracing ("5 out of the last 9 calls to
    ...multi_step_on_iterator"), though no function was traced twice for one shape. Retracing warnings about
    any other function still show.
    """

    def filter(self, record):
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message
                    and any(name in message for name in _PER_MODEL_FUNCTIONS))


@contextlib.contextmanager
def new_models_traced():
    """Within it, TensorFlow's retracing warnings about functions made once per model are dropped (see
    `_NewModelStepTraces`): for code that builds and fits a new model each time, like a sweep's runs."""
    logger, only = logging.getLogger("tensorflow"), _NewModelStepTraces()
    logger.addFilter(only)
    try:
        yield
    finally:
        logger.removeFilter(only)


_XLA_STARTED = []


def quiet_xla_start():
    """Compiles one tiny XLA cluster with stderr filtered, once per process, before relu_zoo's own clusters.

    XLA's first compilation writes `XLA service ... initialized`, `StreamExecutor [0]: Host` and `Compiled
    cluster using XLA!` from C++ at INFO level. TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` once, at its first log
    line (during import), so a library cannot lower it later without changing the user's whole log; and the
    compilation happens inside `fit`'s step, out of Python's reach. Those lines are written once per process
    (per platform), so compiling a cluster here, inside the capture, spends them where they are filtered.
    """
    if _XLA_STARTED or verbosity() >= 2:
        return
    _XLA_STARTED.append(True)
    import tensorflow as tf

    try:
        with filtered_stderr(), tf.init_scope():  # out of the graph being traced: compile and run now
            tf.function(lambda x: x + 1, jit_compile=True, autograph=False)(tf.zeros((1,)))
    except Exception:  # noqa: BLE001  (no XLA in this TensorFlow build: the real cluster reports it)
        pass


@contextlib.contextmanager
def filtered_stderr():
    """Captures file descriptor 2 (C++ writes too) and writes back what `filter_noise` keeps; unfiltered
    when verbose."""
    if verbosity() >= 2:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (e.g. some notebook kernels): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            rest = filter_noise(captured.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)


def keras_backend():
    """The backend Keras runs on, or will once imported, as Keras decides it: `KERAS_BACKEND`, else the
    `backend` of `$KERAS_HOME/keras.json` (`~/.keras`), else TensorFlow. Read without importing Keras, which
    on the TensorFlow backend imports TensorFlow: relu_zoo's commands start it first (relu_zoo._startup)."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.join(os.path.expanduser(home), "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"

"""How relu_zoo's own programs start TensorFlow: with its oneDNN kernels on and without its start-up notices (and,
on Keras' torch backend, PyTorch's threads sleeping when idle).

These are choices for relu_zoo's commands, the programs `relu_zoo._logs.is_command` names (the `relu-zoo` script,
`python -m relu_zoo.<module>`, the checkout's `train.py` and `benchmarks/*.py`), not for a program that imports
relu_zoo as a library: there `import relu_zoo` sets no environment variable, captures no file descriptor and leaves
TensorFlow's kernels as TensorFlow chooses them (tests/test_startup.py).

- oneDNN: TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 and newer; on an AVX2-only CPU
  it keeps its Eigen kernels, with which the airbench train step took 2.3x as long (benchmarks/reports/
  cifar10_parity). A command sets `TF_ENABLE_ONEDNN_OPTS=1` unless it is set: `TF_ENABLE_ONEDNN_OPTS=0` keeps
  TensorFlow's default, and the processes a command starts (`--jobs`) inherit the choice.
- Quiet: TensorFlow is imported inside `relu_zoo._logs.filtered_stderr()`, and looks for GPUs there (where CUDA's
  absl lines come from, which no log level hides); `TF_CPP_MIN_LOG_LEVEL=3` is set unless it is set, which hides
  the runtime C++ lines (errors still reach Python as exceptions). `--verbose 2` or `RELU_ZOO_VERBOSE=2` shows
  everything.
- PyTorch's idle threads sleep: on Keras' torch backend a command sets `OMP_WAIT_POLICY=PASSIVE` unless it is set
  (PyTorch's OpenMP library reads it when it loads). By default an OpenMP thread that finishes its share of an op
  spins, holding its core, before it sleeps; where other processes, or the `tf.data` threads reading the data in
  the same process, want the core, every op waits for them: the mnist `cnn_small` train step took 6-72× as long
  on a shared 2-core CPU (docs/howto/backends.md). `OMP_WAIT_POLICY=ACTIVE` spins.

On Keras' JAX and PyTorch backends TensorFlow is no part of the model, but where it is installed it still loads
(`relu_zoo.tasks` reads the data with `tf.data`; Keras itself imports it to save a model or to seed): a command
then imports it quietly in the same way and hides the GPUs from it, so that TensorFlow, running only the input
pipeline, takes no accelerator memory from the backend that trains (oneDNN is left as TensorFlow chooses: it
runs no model there).

TensorFlow reads both variables once, during its first import. Python runs relu_zoo/__init__.py, which imports
TensorFlow (the layers register with Keras), before any module of the package: before `relu_zoo.console`, which
the console script imports for its entry point, and before the module `python -m` runs. So the package's
`__init__` calls `start()` before anything else, and `start()` does nothing unless this process' main program is
one of relu_zoo's commands.
"""

import contextlib
import importlib.util
import os
import sys

from relu_zoo import _logs

_STARTED = []


def start():
    """Starts TensorFlow for relu_zoo's commands as the module docstring says; does nothing in any other program,
    on Keras' other backends where TensorFlow is not installed, or when called again."""
    if _STARTED or not _logs.is_command():
        return
    if _logs.keras_backend() == "torch" and "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    training = _logs.keras_backend() == "tensorflow"
    if not training and importlib.util.find_spec("tensorflow") is None:
        return
    _STARTED.append(True)
    verbose = _logs.verbosity() >= 2
    if "tensorflow" not in sys.modules:  # once imported, TensorFlow has read both
        if training:
            os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
        if not verbose:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.nullcontext() if verbose else _logs.filtered_stderr():
        import tensorflow

        # TensorFlow looks for GPUs once per process, at the latest on its first op; listing physical devices
        # leaves logical ones configurable.
        gpus = tensorflow.config.list_physical_devices("GPU")
        if gpus and not training:
            tensorflow.config.set_visible_devices([], "GPU")

"""relu_zoo adds nothing to stderr: its commands' stays empty, and a user's own script using relu_zoo's layers gets
only what TensorFlow itself writes there."""

import logging
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import relu_zoo
from relu_zoo import _logs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    """The environment a user has: none of the variables that would quiet or unquiet TensorFlow."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RELU_ZOO_VERBOSE")}
    return {**env, "PYTHONPATH": ROOT + os.pathsep + env.get("PYTHONPATH", "")}


def test_eager_calls_at_many_shapes_do_not_retrace(caplog):
    """A model's layers each have their own shape; eager passes over them (diagnostics' probe, plots) traced the
    shared XLA function once per shape until TensorFlow warned about retracing."""
    import keras
    import tensorflow as tf

    layers = [relu_zoo.layers.PReLU() for _ in range(8)]
    rrelus = [relu_zoo.layers.RReLU(seed=i) for i in range(8)]
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for width, (prelu, rrelu) in enumerate(zip(layers, rrelus), start=1):
            x = tf.random.normal((4, width))
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = prelu(x) + rrelu(x, training=True)
            grads = tape.gradient(y, [x, prelu.alpha])
            np.testing.assert_array_equal(np.asarray(prelu(x)), np.where(x > 0, x, 0.25 * np.asarray(x)))
            assert all(g is not None for g in grads)
    assert not [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]
    assert keras.backend.backend() == "tensorflow"


@pytest.mark.slow  # a fresh interpreter: the import's own stderr is what is checked
def test_library_script_training_prelu_is_quiet(tmp_path):
    """`import relu_zoo` and fitting a model with PReLU and RReLU adds nothing to stderr: no `Compiled cluster using
    XLA!` from relu_zoo's XLA clusters, no retracing warning. TensorFlow's own start-up notices (CUDA, CPU features)
    are TensorFlow's, written as in any program that imports it: a library import leaves them alone."""
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent("""
        import relu_zoo
        import keras
        import numpy as np

        x = np.random.default_rng(0).random((64, 8, 8, 3), dtype="float32")
        y = np.arange(64) % 10
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), relu_zoo.layers.PReLU(),
                                  keras.layers.Conv2D(4, 3), relu_zoo.layers.RReLU(), keras.layers.Flatten(),
                                  keras.layers.Dense(8), relu_zoo.layers.PReLU(), keras.layers.Dense(10)])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        model.predict(x[:8], verbose=0)
        print("done")
    """))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "done\n"
    assert [line for line in result.stderr.splitlines() if not re.search(_logs.TENSORFLOW_START, line)] == []


@pytest.mark.slow
def test_train_run_with_prelu_is_quiet(tmp_path, real_tfds_dir):
    """A default-style `train.py` run with the learnable and random ReLUs (the default `cnn`, fit's default
    verbosity, diagnostics and plots on) writes nothing to stderr."""
    real_tfds_dir("mnist/3.0.1")
    args = ["--activations", "relu,prelu,rrelu", "--seeds", "1", "--epochs", "1", "--max-train-examples", "256",
            "--max-eval-examples", "128", "--out", str(tmp_path / "out")]
    result = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, env=_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Report:" in result.stdout
    assert result.stderr == ""
    # stdout is a pipe here: one line per epoch, no progress bar redrawn with carriage returns and colours.
    assert "\r" not in result.stdout and "\x1b" not in result.stdout
    assert len([line for line in result.stdout.splitlines() if "val_accuracy" in line]) == 3  # 3 runs x 1 epoch


def test_auto_verbosity_is_one_line_per_epoch_into_a_file(tmp_path):
    import io

    from relu_zoo.run.train import fit_verbosity

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    with open(tmp_path / "log", "w") as file:
        assert fit_verbosity("auto", file) == 2
    assert fit_verbosity("auto", io.StringIO()) == 2
    assert fit_verbosity("auto", Terminal()) == 1
    assert [fit_verbosity(v, io.StringIO()) for v in (0, 1, 2)] == [0, 1, 2]  # an explicit choice stays

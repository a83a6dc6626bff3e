"""The `relu-zoo` command, run as a user runs it: a subprocess on the real checkpoints."""

import argparse
import os
import shutil
import subprocess
import sys
import wave
from unittest import mock

import numpy as np
import pytest

from relu_zoo import _logs, pretrained


def relu_zoo(*args, env=None):
    exe = shutil.which("relu-zoo")
    command = [exe] if exe else [sys.executable, "-m", "relu_zoo.console"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def _raw_examples(task, n):
    root = os.environ.get("TFDS_DATA_DIR")
    if not (root and os.path.isdir(os.path.join(root, task))):
        if os.environ.get("CI"):
            pytest.fail(f"TFDS_DATA_DIR has no {task}: CI must run the console tests")
        pytest.skip(f"{task} not prepared in TFDS_DATA_DIR")
    from relu_zoo import tasks

    examples = list(tasks.get(task).raw_splits(max_examples={"test": n})["test"].as_numpy_iterator())
    return [x for x, _ in examples], [y for _, y in examples]


def _expected_top1(name, x):
    model = pretrained.load(name, compile=False, raw_inputs=True)
    from relu_zoo import tasks

    names = tasks.get(pretrained.metadata(name)["task"]).class_names
    return [names[int(np.argmax(model.predict_on_batch(np.asarray(e)[None])[0]))] for e in x]


def _top1(stdout):
    return [line.split(": ", 1)[1].split(" (")[0] for line in stdout.strip().splitlines()]


def _write_wav(path, samples, rate):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.asarray(samples, "<i2").tobytes())


@pytest.mark.slow  # each `relu-zoo` run is a fresh interpreter importing TensorFlow
def test_list_is_quiet_and_lists_the_zoo():
    result = relu_zoo("list", "pretrained")
    assert result.returncode == 0
    rows, legend = result.stdout.split("\n\n")
    assert dict(line.split() for line in rows.splitlines()) == pretrained.list_pretrained(where=True)
    assert legend.strip() == "checkout: " + str(pretrained.CHECKOUT)  # this checkout: every weight is here
    assert result.stderr == ""  # no TensorFlow start-up lines, no warnings
    everything = relu_zoo("list")
    assert everything.returncode == 0 and "prelu" in everything.stdout and "spoken_digit" in everything.stdout


@pytest.mark.slow
def test_usage_errors_exit_2():
    assert relu_zoo("lst").returncode == 2 and "Did you mean 'list'" in relu_zoo("lst").stderr
    bad = relu_zoo("predict", "cnn_relu.mnst", __file__)
    assert bad.returncode == 2 and "Unknown pretrained model 'cnn_relu.mnst'" in bad.stderr
    assert relu_zoo("predict", "cnn_relu.mnist", "no/such/file.png").returncode == 2


@pytest.mark.slow
def test_predict_images_matches_the_keras_model(tmp_path):
    import tensorflow as tf

    x, _ = _raw_examples("mnist", 4)
    paths = []
    for i, image in enumerate(x):
        path = tmp_path / f"digit{i}.{'png' if i % 2 else 'jpg'}"
        encode = tf.io.encode_png if i % 2 else lambda im: tf.io.encode_jpeg(im, quality=100)
        path.write_bytes(encode(image).numpy())
        paths.append(path)
    decoded = np.stack([tf.io.decode_image(p.read_bytes()).numpy() for p in paths])
    result = relu_zoo("predict", "cnn_relu.mnist", *map(str, paths), "--top-k", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _top1(result.stdout) == _expected_top1("cnn_relu.mnist", decoded)
    assert all(line.count("%") == 2 for line in result.stdout.strip().splitlines())


@pytest.mark.slow
def test_predict_wav_and_text(tmp_path):
    waves, _ = _raw_examples("spoken_digit", 3)
    paths = []
    for i, w in enumerate(waves):
        _write_wav(tmp_path / f"{i}.wav", w, 8000)
        paths.append(tmp_path / f"{i}.wav")
    result = relu_zoo("predict", "cnn_relu.spoken_digit", *map(str, paths))
    assert result.returncode == 0, result.stderr
    assert _top1(result.stdout) == _expected_top1("cnn_relu.spoken_digit", waves)

    texts, _ = _raw_examples("imdb_reviews", 2)
    for i, t in enumerate(texts):
        (tmp_path / f"{i}.txt").write_bytes(t)
    result = relu_zoo("predict", "rnn_relu.imdb_reviews", str(tmp_path / "0.txt"), str(tmp_path / "1.txt"))
    assert result.returncode == 0, result.stderr
    assert _top1(result.stdout) == _expected_top1("rnn_relu.imdb_reviews", texts)


@pytest.mark.slow
def test_predict_refuses_inputs_that_do_not_fit_the_task(tmp_path):
    _write_wav(tmp_path / "a.wav", np.zeros(16000), 16000)
    wrong_task = relu_zoo("predict", "cnn_relu.mnist", str(tmp_path / "a.wav"))
    assert wrong_task.returncode == 2
    assert "is WAV audio, but task 'mnist' takes 28x28 grayscale PNG or JPEG images" in wrong_task.stderr
    wrong_rate = relu_zoo("predict", "cnn_relu.spoken_digit", str(tmp_path / "a.wav"))
    assert wrong_rate.returncode == 2 and "at 16000 Hz" in wrong_rate.stderr and "8000 Hz" in wrong_rate.stderr
    import tensorflow as tf

    (tmp_path / "big.png").write_bytes(tf.io.encode_png(np.zeros((64, 64, 3), "uint8")).numpy())
    too_big = relu_zoo("predict", "cnn_relu.mnist", str(tmp_path / "big.png"))
    assert too_big.returncode == 2 and "64x64 pixels" in too_big.stderr


@pytest.mark.slow
def test_export_command_writes_and_checks(tmp_path):
    _raw_examples("mnist", 1)
    out = tmp_path / "m.tflite"
    result = relu_zoo("export", "cnn_prelu.mnist", "--format", "tflite", "--out", str(out), "--check", "200")
    assert result.returncode == 0, result.stderr
    assert out.is_file() and str(out) in result.stdout
    agreement = float(result.stdout.split("top-1 agreement ")[1].split("%")[0])
    assert agreement >= 99.5 and "on 200 test inputs" in result.stdout
    assert result.stderr == ""


@pytest.mark.slow
def test_export_check_without_the_data_is_one_error_and_writes_nothing(tmp_path):
    """`--check` without the task's data (none here, and the network's proxy refuses): one `error:` message, exit
    2, no traceback, no export left behind unchecked; the fixes offered are the command line's."""
    import socket

    with socket.socket() as s:  # a port nothing listens on once closed: every download host is unreachable
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = f"http://127.0.0.1:{port}"
    out = tmp_path / "m.tflite"
    result = relu_zoo("export", "cnn_prelu.mnist", "--format", "tflite", "--out", str(out), "--check", "8",
                      env={"TFDS_DATA_DIR": str(tmp_path / "data"), "https_proxy": proxy, "http_proxy": proxy,
                           "no_proxy": ""})
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.startswith("error: TFDS dataset 'mnist'") and "Traceback" not in result.stderr
    assert "download=True" not in result.stderr and "TFDS_DATA_DIR" in result.stderr
    assert not out.exists() and result.stdout == ""


def test_verbosity_and_noise_filter():
    assert _logs.verbosity(["relu-zoo", "train", "--verbose", "2"], environ={}) == 2
    package = os.path.dirname(_logs.__file__)
    train_py = os.path.join(os.path.dirname(package), "train.py")
    assert _logs.verbosity([train_py, "--verbose=2"], environ={}) == 2
    assert _logs.verbosity(["pytest", "--verbose", "2"], environ={}) == 0  # not our command
    assert _logs.verbosity(["/x/train.py", "--verbose=2"], environ={}) == 0  # a user's own train.py
    assert _logs.is_command([os.path.join(package, "console.py")])  # python -m relu_zoo.console
    assert not _logs.is_command([os.path.join(os.path.dirname(package), "my_script.py")])
    # `python -m relu_zoo.console`: while the package is imported, sys.argv[0] is "-m" (the module runs later).
    with mock.patch.object(sys, "orig_argv", ["python", "-m", "relu_zoo.console", "export"]), \
            mock.patch.object(sys, "argv", ["-m", "export"]):
        assert _logs.is_command()
    with mock.patch.object(sys, "orig_argv", ["python", "-m", "pytest", "-q"]), \
            mock.patch.object(sys, "argv", ["-m", "-q"]):
        assert not _logs.is_command()
    # A script's own "-m" argument is not the interpreter's.
    with mock.patch.object(sys, "orig_argv", ["python", train_py, "-m", "x"]), \
            mock.patch.object(sys, "argv", [train_py, "-m", "x"]):
        assert _logs.is_command()
    assert _logs.verbosity(["relu-zoo"], environ={"RELU_ZOO_VERBOSE": "2"}) == 2
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1 1 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
            "I0000 00:00:1 1 port.cc:153] oneDNN custom operations are on. You may see slightly different "
            "numerical results due to floating-point round-off errors from different computation orders.\n"
            "E0000 something real.cc:1] a real error\n")
    assert _logs.filter_noise(text) == "E0000 something real.cc:1] a real error\n"


@pytest.mark.slow
def test_train_is_train_py(tmp_path):
    """`relu-zoo train` is train.py's entry: same config errors, same exit status."""
    result = relu_zoo("train", "--task", "mnst", "--out", str(tmp_path))
    direct = subprocess.run([sys.executable, "train.py", "--task", "mnst", "--out", str(tmp_path)],
                            capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == direct.returncode != 0
    assert "mnst" in result.stderr and result.stderr.splitlines()[-1] == direct.stderr.splitlines()[-1]


def test_train_no_download_refuses_missing_data(tmp_path, monkeypatch, capsys):
    """`relu-zoo train --no-download` (train.py's flag) fails at once on missing data, exit 2, probing nothing."""
    import tensorflow_datasets as tfds

    from relu_zoo import console
    from relu_zoo.tasks import tfds_data

    def forbidden(*args, **kwargs):
        raise AssertionError("--no-download must neither probe the network nor download")

    monkeypatch.setattr(tfds_data, "unreachable", forbidden)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", forbidden)
    status = console.main(["train", "--no-download", "--data-dir", str(tmp_path / "data"), "--out",
                           str(tmp_path / "out"), "--activations", "relu", "--seeds", "1", "--epochs", "1"])
    error = capsys.readouterr().err
    assert status == 2
    assert "'mnist'" in error and "Downloading is off (--no-download)." in error and "tfds build" in error
    assert "download=False" not in error  # in-process too, the fixes offered are the command line's


def test_predict_without_reachable_weights_exits_2_naming_the_variables(tmp_path, monkeypatch, capsys):
    """An installed zoo (index, no weights) with no RELU_ZOO_BASE_URL: a usage error, not a traceback."""
    from relu_zoo import console

    name = "cnn_prelu.spoken_digit"
    zoo = pretrained.zoo_dir()
    (tmp_path / "zoo" / name).mkdir(parents=True)
    for file in (pretrained.METADATA_FILE, pretrained.CARD_FILE):
        shutil.copy2(zoo / name / file, tmp_path / "zoo" / name / file)
    monkeypatch.setenv("RELU_ZOO_MODELS", str(tmp_path / "zoo"))
    monkeypatch.setenv("RELU_ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RELU_ZOO_BASE_URL", raising=False)
    _write_wav(tmp_path / "digit.wav", np.zeros(8000), 8000)
    assert console.main(["predict", name, str(tmp_path / "digit.wav")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: Checkpoint 'cnn_prelu.spoken_digit': model.keras is not in the zoo folder")
    assert "RELU_ZOO_BASE_URL is not set" in error and "RELU_ZOO_CACHE" in error


@pytest.mark.slow
def test_default_train_run_is_quiet(tmp_path, real_tfds_dir):
    """A default `train.py` run prints no TensorFlow C++ log lines and no Python warnings on stderr;
    RELU_ZOO_VERBOSE=2 shows TensorFlow's lines again."""
    import re

    real_tfds_dir("mnist/3.0.1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RELU_ZOO_VERBOSE")}
    args = ["--model", "mlp", "--activations", "relu", "--seeds", "1", "--epochs", "2", "--max-train-examples", "300",
            "--max-eval-examples", "100", "--verbose", "0"]
    quiet = subprocess.run([sys.executable, "train.py", *args, "--out", str(tmp_path / "quiet")], cwd=root, env=env,
                           capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert quiet.stderr == ""  # no absl / cuda / cpu_feature lines, no tf.data or Keras warnings
    assert "Report:" in quiet.stdout
    loud = subprocess.run([sys.executable, "train.py", *args, "--out", str(tmp_path / "loud")], cwd=root,
                          env={**env, "RELU_ZOO_VERBOSE": "2"}, capture_output=True, text=True, timeout=600)
    assert loud.returncode == 0, loud.stderr[-3000:]
    assert re.search(r"^[IWEF]\d{4} ", loud.stderr, re.MULTILINE)  # TensorFlow's C++ log lines are back
    assert "did not fully read the dataset being cached" not in loud.stderr  # fixed at its cause, not hidden


# -- flags: one name per meaning, old names for one release ----------------------------------------------------

def command_parser(command):
    """The argparse parser of `relu-zoo COMMAND`, from relu_zoo.console without running the command: each command
    builds its parser and parses its arguments before anything else, so parse_args is stopped there and hands the
    parser over. (`train` has its own parser function.)"""
    from relu_zoo import console

    class Parsed(Exception):
        pass

    def stop(parser, *args, **kwargs):
        raise Parsed(parser)

    if command == "train":
        return console.train_parser()
    with mock.patch.object(argparse.ArgumentParser, "parse_args", autospec=True, side_effect=stop):
        try:
            console.COMMANDS[command]([])
        except Parsed as parsed:
            return parsed.args[0]
    raise AssertionError(f"relu-zoo {command} did not parse its arguments")


def _all_parsers():
    """(name, parser) of every command and subcommand of relu-zoo."""
    from relu_zoo import console

    found = [(name, command_parser(name)) for name in console.COMMANDS]
    # argparse lists subcommands only in a private table (read here, never changed).
    return found + [(f"{name} {sub}", subparser) for name, parser in found for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction) for sub, subparser in action.choices.items()]


# Spellings of a meaning that has one flag: where output goes is --out, the TFDS folder --data-dir.
OTHER_SPELLINGS = {"--out": ["--dest", "--output", "--output-dir", "--out-dir", "--outdir", "--destination"],
                   "--data-dir": ["--data", "--tfds-dir", "--tfds-data-dir", "--datadir"]}


def test_every_command_spells_a_meaning_with_one_flag():
    from relu_zoo._deprecation import RenamedFlag

    for name, parser in _all_parsers():
        options = parser._option_string_actions
        for flag, others in OTHER_SPELLINGS.items():
            current = [o for o in others if o in options and not isinstance(options[o], RenamedFlag)]
            assert not current, f"relu-zoo {name} takes {current}: the flag for this is {flag}"


def test_report_writes_to_out_and_dest_is_an_old_spelling_of_it(tmp_path, monkeypatch, capsys):
    from relu_zoo import console
    from relu_zoo.run import report

    written = []
    monkeypatch.setattr(report, "write_report", lambda dirs, dest: written.append((dirs, dest)) or dest)
    assert console.main(["report", "a", "b", "--out", "merged"]) == 0
    assert written.pop() == (["a", "b"], "merged") and capsys.readouterr().err == ""
    assert console.main(["report", "a"]) == 0
    assert written.pop() == (["a"], "a")  # default: the first folder
    assert console.main(["report", "a", "b", "--dest", "merged"]) == 0
    assert written.pop() == (["a", "b"], "merged")
    assert capsys.readouterr().err.splitlines() == [
        "DeprecationWarning: relu-zoo report --dest is deprecated: use --out (it will be removed in the next "
        "release)."]
    with pytest.raises(SystemExit):
        console.main(["report", "--help"])
    usage = capsys.readouterr().out
    assert "--out OUT" in usage and "--dest" not in usage  # the old spelling is not offered


def test_train_refuses_an_activation_that_needs_context_in_a_model_without_it(tmp_path, capsys):
    """An activation that draws on its input's context (FReLU) in a model of rank-2 features (the MLP): one line that
    names the problem and the models that fit, exit 2, before any data is read or anything is written."""
    from relu_zoo import console

    out = tmp_path / "out"
    status = console.main(["train", "--activations", "relu,frelu", "--model", "mlp", "--task", "mnist",
                           "--no-download", "--data-dir", str(tmp_path / "data"), "--out", str(out), "--seeds", "1",
                           "--epochs", "1"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2 and not out.exists() and not (tmp_path / "data").exists()
    assert len(lines) == 1 and lines[0].startswith("error: Task 'mnist': Model 'mlp' applies its activation to "
                                                   "tensors of rank 2"), lines
    assert "frelu" in lines[0] and lines[0].endswith("for image tasks: airbench.")

"""`import relu_zoo` leaves the process as it found it; relu_zoo's own commands start TensorFlow their way, with
oneDNN's kernels and quietly (relu_zoo._startup)."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from relu_zoo import _logs

ROOT = Path(__file__).parents[1]
SETTINGS = ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", "RELU_ZOO_VERBOSE")

# Imports MODULE, recording the process' environment, file descriptor 2 and the calls that would change them (an
# environment variable set and unset again during the import leaves no trace in the environment afterwards, but
# TensorFlow has read it by then; so does capturing descriptor 2 and putting it back).
IMPORT_PROBE = textwrap.dedent("""
    import json, os, sys

    calls = []
    for name in ("putenv", "unsetenv", "dup2"):
        def record(*args, _real=getattr(os, name), _name=name, **kwargs):
            key = args[0].decode() if isinstance(args[0], bytes) else args[0]
            calls.append([_name, key if _name != "dup2" else args[1]])
            return _real(*args, **kwargs)
        setattr(os, name, record)

    def state():
        fd2 = os.fstat(2)
        return {"environ": dict(os.environ), "fd2": [fd2.st_dev, fd2.st_ino, fd2.st_mode],
                "stderr": sys.stderr.fileno()}

    before = state()
    import MODULE
    after, during = state(), list(calls)
    print("stderr after the import", file=sys.stderr, flush=True)
    os.write(2, b"descriptor 2 after the import\\n")
    from relu_zoo import _compat
    print(json.dumps({"before": before, "after": after, "calls": during, "onednn": _compat.onednn_enabled()}))
""")


def _env(**settings):
    """This environment without relu_zoo's and TensorFlow's settings (a user's), plus `settings`; the checkout
    importable."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, **{k: v for k, v in settings.items() if v is not None}}


def _probe_import(module, env, cwd):
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE.replace("MODULE", module)], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def _changed(probe):
    before, after = probe["before"]["environ"], probe["after"]["environ"]
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@pytest.mark.slow  # four fresh interpreters, each importing TensorFlow
@pytest.mark.parametrize("onednn_opts", [None, "0"])
def test_import_leaves_the_process_as_it_found_it(onednn_opts, tmp_path):
    """`import relu_zoo` changes nothing that `import keras` (which it needs) does not: no environment variable
    set, even for a moment; descriptor 2 neither captured nor replaced, and stderr still reaches the parent; and
    TensorFlow's oneDNN kernels on or off as TensorFlow chose them, whether or not the user set
    TF_ENABLE_ONEDNN_OPTS."""
    env = _env(TF_ENABLE_ONEDNN_OPTS=onednn_opts)
    probe, stderr = _probe_import("relu_zoo", env, tmp_path)
    keras, _ = _probe_import("keras", env, tmp_path)

    assert not [call for call in probe["calls"] if call[0] == "dup2"]
    assert probe["after"]["fd2"] == probe["before"]["fd2"] and probe["after"]["stderr"] == 2
    assert "stderr after the import\n" in stderr and "descriptor 2 after the import\n" in stderr

    written = {key for name, key in probe["calls"] if name != "dup2"}
    assert written <= {key for name, key in keras["calls"] if name != "dup2"}, written  # TensorFlow's own
    assert not written & set(SETTINGS)
    assert _changed(probe) == _changed(keras)
    assert probe["after"]["environ"].get("TF_ENABLE_ONEDNN_OPTS") == onednn_opts
    assert probe["onednn"] == keras["onednn"]
    if onednn_opts == "0":
        assert probe["onednn"] is False


# Run at interpreter start (sitecustomize, from PYTHONPATH), so a command runs unchanged; prints the settings of
# the command's process at its exit.
EXIT_PROBE = textwrap.dedent("""
    import atexit, json, os, sys

    def report():
        onednn = None
        if "tensorflow" in sys.modules:
            from relu_zoo import _compat
            onednn = _compat.onednn_enabled()
        settings = {k: os.environ.get(k) for k in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")}
        print("settings:", json.dumps({**settings, "onednn": onednn}), flush=True)

    atexit.register(report)
""")


def console_script(folder):
    """The `relu-zoo` script pip writes for pyproject's `[project.scripts]` entry point, written into `folder`."""
    entry = re.search(r'^relu-zoo = "([\w.]+):(\w+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    script = folder / "relu-zoo"
    script.write_text(f"import sys\nfrom {entry[1]} import {entry[2]}\nif __name__ == '__main__':\n"
                      f"    sys.exit({entry[2]}())\n")
    return script


@pytest.mark.slow  # a fresh interpreter importing TensorFlow each
@pytest.mark.parametrize("entry, onednn_opts", [("relu-zoo", None), ("-m", None), ("train.py", None), ("-m", "0")])
def test_commands_start_tensorflow_with_onednn_and_quietly(entry, onednn_opts, tmp_path):
    """relu_zoo's commands (pyproject's console script, `python -m relu_zoo.console`, train.py) turn oneDNN's
    kernels on for their own process (TensorFlow's default only with AVX-512) unless the user set
    TF_ENABLE_ONEDNN_OPTS, and start quietly."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(EXIT_PROBE)
    env = _env(TF_ENABLE_ONEDNN_OPTS=onednn_opts)
    env["PYTHONPATH"] = os.pathsep.join([str(probe), env["PYTHONPATH"]])
    command = {"relu-zoo": [str(console_script(tmp_path)), "--version"], "-m": ["-m", "relu_zoo.console", "--version"],
               "train.py": [str(ROOT / "train.py"), "--help"]}[entry]
    result = subprocess.run([sys.executable, *command], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    settings = json.loads(result.stdout.rsplit("settings: ", 1)[1])
    if onednn_opts is None:
        assert settings == {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "onednn": True}
    else:
        assert settings == {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3", "onednn": False}
    assert result.stderr == ""


def test_only_relu_zoos_own_programs_are_commands(tmp_path):
    """The programs whose import of relu_zoo starts TensorFlow relu_zoo's way: a user's script of the same name
    (train.py is a common one), `python -c` and pytest are not among them."""
    for program in ["/usr/local/bin/relu-zoo", "/venv/Scripts/relu-zoo.exe", str(ROOT / "train.py"),
                    str(ROOT / "benchmarks" / "ops.py"), str(ROOT / "relu_zoo" / "console.py")]:
        assert _logs.is_command([program]), program
    user_script = tmp_path / "train.py"
    user_script.write_text("import relu_zoo\n")
    for program in [str(user_script), "-c", "", str(ROOT / "tools" / "docs_tables.py"), "/usr/bin/pytest",
                    str(tmp_path / "relu-zoo-notes.py")]:
        assert not _logs.is_command([program]), program

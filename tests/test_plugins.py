"""Plug-in activations (relu_zoo.plugins): the `module:attr` grammar, the checks before training, entry points
from an installed distribution, the CLI's errors, and a real tiny sweep with `relu_zoo.compare`."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import console, plugins, registry
from relu_zoo.run.plan import RunSpec
from relu_zoo.run.spec import ConfigError, activation_label

ROOT = Path(__file__).parents[1]
MODULE = "relu_zoo_test_acts"  # unique: plug-ins are resolved once per process
PLUGIN_CODE = '''
import keras
from keras import ops


def swish2(x):
    return x * ops.sigmoid(2.0 * x)


class Swish2(keras.layers.Layer):
    """A learnable beta, to show that every use site gets its own weight."""

    def __init__(self, beta=2.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta

    def build(self, input_shape):
        self.b = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.beta), name="beta")

    def call(self, x):
        return x * ops.sigmoid(self.b * x)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


def make_swish2(beta=2.0):
    return Swish2(beta=beta)


SHARED = Swish2()


def shared():
    return SHARED


def not_a_layer():
    return 3


def widen(x):
    return ops.concatenate([x, x], axis=-1)


def log(x):
    return ops.log(x)


def raises(x):
    raise RuntimeError("this activation is broken")


class NoConfig(keras.layers.Layer):
    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        return self.scale * x

    def get_config(self):
        return super().get_config()  # forgets `scale`: the layer cannot be rebuilt from its config


class NotALayer:
    pass


square = lambda x: x * x  # noqa: E731
number = 3
'''
BROKEN = "relu_zoo_test_broken"  # a module whose own code fails on import


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    (folder / f"{MODULE}.py").write_text(PLUGIN_CODE)
    (folder / f"{BROKEN}.py").write_text("raise ValueError('needs a GPU named Bob')\n")
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def acts(plugin_dir):
    import importlib

    return importlib.import_module(MODULE)


# -- grammar -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,parsed", [
    ("relu", ("relu", {})),
    ("leaky_relu:negative_slope=0.2", ("leaky_relu", {"negative_slope": 0.2})),
    ("my_pkg.acts:swish2", ("my_pkg.acts:swish2", {})),
    ("my_acts:Swish2:beta=2,gamma=1", ("my_acts:Swish2", {"beta": 2, "gamma": 1})),
    ("pkg.mod:Outer.make", ("pkg.mod:Outer.make", {})),
    (" my_acts:swish2 ", ("my_acts:swish2", {})),
    # A registered name before ':' is never a module: its parameters keep their meaning (and errors).
    ("elu:alpha", None),
    # '=' after ':' makes parameters, not an attribute: an unknown activation 'mod', not a plug-in.
    ("mod:attr=1", ("mod", {"attr": 1})),
])
def test_grammar(spec, parsed):
    if parsed is None:
        with pytest.raises(ValueError, match="expected key=value"):
            registry.parse_spec(spec)
    else:
        assert registry.parse_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["relu", "mod:", ":attr", "1mod:attr", "mod:attr=1", "mod:at-tr", "a..b:c"])
def test_not_plugin_targets(spec):
    assert plugins.split_target(spec) is None


def test_labels_and_run_ids_need_no_import():
    spec = "not_installed_anywhere.acts:Swish2:beta=3"
    assert activation_label(spec) == "not_installed_anywhere.acts:Swish2:beta=3"
    assert activation_label("not_installed_anywhere.acts:swish2") == "not_installed_anywhere.acts:swish2"
    run = RunSpec("mnist", "cnn", spec, 0)
    assert run.run_id == "mnist__cnn__not_installed_anywhere.acts-Swish2-beta=3__seed0"
    with pytest.raises(ValueError, match="Unknown activation 'mod'"):
        relu_zoo.get("mod:attr=1")


# -- resolving -----------------------------------------------------------------------------------------------

def test_function_plugin_is_wrapped_and_new_per_call(acts):
    a, b = relu_zoo.get(f"{MODULE}:swish2"), relu_zoo.get(f"{MODULE}:swish2")
    assert isinstance(a, keras.layers.Activation) and a is not b
    x = np.linspace(-3, 3, 12, dtype="float32").reshape(3, 4)
    np.testing.assert_allclose(np.asarray(a(x)), x / (1 + np.exp(-2 * x)), rtol=1e-5)
    assert registry.name_of(f"{MODULE}:swish2") == f"{MODULE}:swish2"


def test_redefined_functions_are_picked_up_and_keras_own_functions_keep_their_names(acts, monkeypatch):
    def swish2(x):  # a notebook cell run again with a new formula
        return 2.0 * x

    monkeypatch.setattr(acts, "swish2", swish2)
    assert relu_zoo.get(f"{MODULE}:swish2").activation is swish2
    assert relu_zoo.get("keras.activations:hard_silu").activation is keras.activations.hard_silu
    assert keras.saving.get_registered_name(keras.activations.hard_silu) == "hard_silu"


def test_class_and_factory_plugins_take_parameters_and_never_share_weights(acts):
    for spec in (f"{MODULE}:Swish2:beta=3", f"{MODULE}:make_swish2:beta=3"):
        a, b = relu_zoo.get(spec), relu_zoo.get(spec)
        assert type(a) is acts.Swish2 and a.beta == 3 and a is not b
        model = keras.Sequential([keras.Input((4,)), a, keras.layers.Dense(4), b])
        assert len({id(v) for v in model.weights}) == len(model.weights)
    assert relu_zoo.get({"name": f"{MODULE}:Swish2", "beta": 1.5}).beta == 1.5
    assert relu_zoo.get(f"{MODULE}:Swish2", beta=0.5).beta == 0.5


@pytest.mark.parametrize("spec", [f"{MODULE}:swish2", f"{MODULE}:Swish2:beta=3"])
def test_models_holding_plugins_save_and_load_in_safe_mode(acts, tmp_path, spec):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(relu_zoo.get(spec)(keras.layers.Dense(4)(inputs))))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


@pytest.mark.parametrize("attr,message", [
    ("nothing", rf"'{MODULE}' has no attribute 'nothing'\. Name a function"),
    ("swish3", r"has no attribute 'swish3'\. Did you mean 'swish2' or 'Swish2'\?"),
    ("number", r"is not callable \(it is of type int\)"),
    ("square", r"is a lambda, which Keras cannot save by name\. Define it with `def`"),
    ("NotALayer", r"is a class but not a keras\.layers\.Layer subclass"),
    ("widen", r"is not shape-preserving: a probe tensor of shape \(2, 4, 4, 3\) became \(2, 4, 4, 6\)"),
    ("log", r"returns non-finite values"),
    ("raises", r"fails on a float32 probe tensor of shape \(2, 4, 4, 3\) \(RuntimeError: this activation is broken\)"),
    ("shared", r"returned the same layer twice\. Models need a new layer per use"),
    ("not_a_layer", r"the factory .*:not_a_layer returned int, not a keras\.layers\.Layer"),
    ("swish2:beta=2", r"is a function, which takes no parameters \(received beta\)"),
    ("Swish2:gamma=1", r"Swish2\(gamma=1\) failed \(Unrecognized keyword arguments.*Pass the parameters it accepts: "
                       r"\(beta=2\.0, \*\*kwargs\)"),
    ("NoConfig:scale=2", r"cannot be saved and loaded by Keras .*Give the layer a get_config\(\)"),
])
def test_bad_plugins_are_one_line_errors_naming_spec_and_fix(plugin_dir, attr, message):
    spec = f"{MODULE}:{attr}"
    with pytest.raises(plugins.PluginError, match=message) as error:
        relu_zoo.get(spec)
    assert str(error.value).startswith(f"Activation {spec!r}") and "\n" not in str(error.value)


def test_modules_that_cannot_be_imported(plugin_dir):
    with pytest.raises(plugins.PluginError, match=r"cannot import module 'no_such_module_xyz.acts' \(ModuleNotFoundError: "
                                                  r"No module named 'no_such_module_xyz'\)\. Install the package"):
        relu_zoo.get("no_such_module_xyz.acts:swish2")
    with pytest.raises(plugins.PluginError, match=r"\(ValueError: needs a GPU named Bob\)\. Fix the module"):
        relu_zoo.get(f"{BROKEN}:swish2")


def test_python_objects_are_named_by_module_and_qualname(acts):
    from relu_zoo.comparison import activation_spec

    assert activation_spec(acts.swish2) == f"{MODULE}:swish2"
    assert activation_spec(acts.Swish2) == f"{MODULE}:Swish2"
    assert activation_spec(relu_zoo.PReLU) == "prelu"
    assert activation_spec("elu:alpha=0.5") == "elu:alpha=0.5"

    def local(x):
        return x

    with pytest.raises(ConfigError, match="has no importable name"):
        activation_spec(local)
    with pytest.raises(ConfigError, match="is a layer instance"):
        activation_spec(acts.Swish2())
    assert relu_zoo.compare is __import__("relu_zoo.comparison").comparison.compare


# -- entry points ---------------------------------------------------------------------------------------------

@pytest.fixture
def installed(plugin_dir, tmp_path, monkeypatch):
    """A distribution installed the way pip leaves one: a dist-info folder with METADATA and entry_points.txt on
    sys.path. It declares a working plug-in, one that shadows a built-in and one whose module is gone."""
    info = tmp_path / "relu_zoo_test_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: relu-zoo-test-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(f"""\
        [relu_zoo.activations]
        Swish-Two = {MODULE}:swish2
        relu = {MODULE}:Swish2
        broken = no_such_module_xyz.acts:thing
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_points_are_listed_and_resolve_by_name(installed, capsys):
    assert relu_zoo.list_plugins() == {
        "broken": "no_such_module_xyz.acts:thing (relu-zoo-test-plugins 0.1)",
        "swish_two": f"{MODULE}:swish2 (relu-zoo-test-plugins 0.1)"}
    layer = relu_zoo.get("swish-two")
    assert isinstance(layer, keras.layers.Activation) and layer.activation.__name__ == "swish2"
    assert activation_label("Swish-Two") == "swish_two"
    # The built-in wins a name conflict; the listing warns and names the spec that reaches the plug-in.
    assert type(relu_zoo.get("relu")) is relu_zoo.ReLU
    assert console.main(["list", "activations"]) == 0
    out, err = capsys.readouterr()
    assert "swish_two (plug-in: relu_zoo_test_acts:swish2 (relu-zoo-test-plugins 0.1))" in out.splitlines()
    assert "relu" in out.splitlines()
    assert err == (f"warning: plug-in activation 'relu' of relu-zoo-test-plugins 0.1 ({MODULE}:Swish2) is shadowed "
                   f"by the built-in 'relu'; use the spec '{MODULE}:Swish2' to sweep it\n")


@pytest.mark.slow
def test_import_relu_zoo_imports_no_plugin_and_no_runner(installed):
    """A fresh process with a broken plug-in installed: `import relu_zoo` imports no plug-in, nor the runner that
    `relu_zoo.compare` brings on first use."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), str(ROOT)])}
    code = ("import sys, relu_zoo; loaded = sorted(m for m in sys.modules if m.startswith(('relu_zoo.run', "
            "'relu_zoo.comparison', 'no_such_module_xyz', 'relu_zoo_test'))); relu_zoo.compare; "
            "print(loaded, 'relu_zoo.comparison' in sys.modules)")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert fresh.returncode == 0 and fresh.stdout.split("\n")[-2] == "[] True", fresh.stderr[-2000:]


def test_a_broken_entry_point_fails_on_use_only(installed, capsys):
    assert console.main(["list", "activations"]) == 0
    assert "broken (plug-in: no_such_module_xyz.acts:thing (relu-zoo-test-plugins 0.1))" in capsys.readouterr().out
    assert "no_such_module_xyz" not in sys.modules  # listing reads metadata only
    with pytest.raises(plugins.PluginError, match=r"^Activation 'broken' \(entry point broken = no_such_module_xyz"
                                                  r"\.acts:thing of relu-zoo-test-plugins 0\.1\): cannot import module "
                                                  r"'no_such_module_xyz\.acts' \(ModuleNotFoundError: .*PYTHONPATH\.$"):
        relu_zoo.get("broken")


# -- the command line: errors before any training, nothing written ---------------------------------------------

TINY = ["--task", "mnist", "--model", "cnn", "--max-train-examples", "64", "--max-eval-examples", "32",
        "--batch-size", "32", "--model-kwargs", '{"filters": [4, 8], "dense_units": 8}', "--probe-examples", "32",
        "--verbose", "0", "--seeds", "1", "--epochs", "1"]


@pytest.mark.parametrize("bad,message", [
    ("no_such_module_xyz:swish2", "cannot import module 'no_such_module_xyz' (ModuleNotFoundError: No module named"),
    (f"{MODULE}:swish3", f"'{MODULE}' has no attribute 'swish3'. Did you mean"),
    (f"{MODULE}:number", "is not callable"),
    (f"{MODULE}:widen", "is not shape-preserving"),
])
def test_cli_rejects_bad_plugins_before_training(plugin_dir, tmp_path, capsys, bad, message):
    out = tmp_path / "sweep"
    assert console.main(["train", *TINY, "--activations", f"relu,{bad}", "--out", str(out)], prog="relu-zoo") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: Activation {bad!r}") and message in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert not out.exists()


def test_plugin_runs_do_not_become_zoo_checkpoints(tmp_path, capsys):
    run = tmp_path / f"mnist__cnn__{MODULE}-swish2__seed0"
    run.mkdir()
    (run / "result.json").write_text(json.dumps({"task": "mnist", "model": "cnn", "activation": f"{MODULE}:swish2",
                                                 "activation_spec": f"{MODULE}:swish2"}))
    for name in ("model.keras", "preprocessor.keras"):
        (run / name).write_text("")
    assert console.main(["zoo", "export", str(run), "--root", str(tmp_path / "zoo")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "the zoo holds built-in activations only" in err and err.count("\n") == 1
    assert f"relu_zoo.get('{MODULE}:swish2')" in err and not (tmp_path / "zoo").exists()


# -- a real tiny sweep ------------------------------------------------------------------------------------------

def _tiny(out):
    return dict(tasks=["mnist"], models=["cnn"], seeds=1, out=str(out), epochs=1, max_train_examples=64,
                max_eval_examples=32, batch_size=32, probe_examples=32,
                model_kwargs={"filters": [4, 8], "dense_units": 8}, verbose=0)


@pytest.mark.slow  # two sweeps through relu_zoo.compare (~10 s); CI runs it
def test_compare_runs_plugins_through_the_sweep(acts, real_tfds_dir, tmp_path):
    real_tfds_dir("mnist/3.0.1")
    logged = []
    report = relu_zoo.compare(activations=[acts.swish2, f"{MODULE}:Swish2:beta=3"], save_checkpoint=True,
                              log=logged.append, **_tiny(tmp_path / "sweep"))
    labels = [f"{MODULE}:swish2", f"{MODULE}:Swish2:beta=3"]
    assert [row["activation"] for row in report.rows()] == labels
    assert report.rows()[0]["baseline"] == labels[0] and report.rows()[1]["verdict"] == "too few seeds"
    assert all(0 <= row["accuracy"] <= 1 and row["dead_fraction"] is not None for row in report.rows())
    assert report.summary_path.is_file() and labels[1] in str(report)
    assert {"val_accuracy.png", "activations.png"} <= set(report.plots)
    assert json.loads((report.out / "config.json").read_text())["sweep"]["activations"] == labels
    for run in report.runs:
        assert run["activation_spec"] == run["activation"] and run["status"] == "ok"
        # The same diagnostics as a zoo activation: every activation layer of the cnn is probed.
        assert len(run["diagnostics"][-1]["layers"]) == 5
        model_file = report.out / "runs" / run["run_id"] / "model.keras"
        assert keras.saving.load_model(model_file, safe_mode=True, compile=False).count_params() == run["params"]
    # Called again, it resumes: nothing is trained, the same report comes back.
    again = relu_zoo.compare(activations=[acts.swish2, f"{MODULE}:Swish2:beta=3"], save_checkpoint=True,
                             log=logged.append, **_tiny(tmp_path / "sweep"))
    assert "2 finished run(s) were already in" in logged[-1] and again.rows() == report.rows()


@pytest.mark.slow
def test_train_py_with_a_plugin_file_on_pythonpath(plugin_dir, real_tfds_dir, tmp_path):
    """The user's path: a file outside the package, `python train.py --activations relu,module:attr`; then the
    saved model loads in a fresh process that resolves the recorded spec."""
    real_tfds_dir("mnist/3.0.1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(ROOT)])}
    out = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *TINY, "--activations", f"relu,{MODULE}:Swish2",
                           "--save-checkpoint", "--out", str(out)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{MODULE}:Swish2" in proc.stdout
    result = json.loads((out / "runs" / f"mnist__cnn__{MODULE}-Swish2__seed0" / "result.json").read_text())
    assert result["activation_spec"] == f"{MODULE}:Swish2" and result["diagnostics"][-1]["layers"]
    load = ("import sys, keras, relu_zoo; relu_zoo.get(sys.argv[1]); "
            "print(keras.saving.load_model(sys.argv[2], safe_mode=True).count_params())")
    loaded = subprocess.run([sys.executable, "-c", load, result["activation_spec"],
                             str(out / "runs" / result["run_id"] / "model.keras")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert loaded.returncode == 0 and int(loaded.stdout.split()[-1]) == result["params"], loaded.stderr[-2000:]

"""relu_zoo.activation_spec: every form of an activation parsed once into one value, which knows its name,
parameters, source, initializer family and label, and builds a new layer per call; tanh and sigmoid as classics."""

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo import console, models
from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.classics import CLASSICS
from relu_zoo.layers.base import RECORDS
from relu_zoo.run import spec as spec_lib
from relu_zoo.run.plan import RunSpec, run_grid

# (given, name, params, source, family, label). The labels are the run ids' and reports' own: stored records
# hold them, so they may never change.
FORMS = [
    ("relu", "relu", {}, "zoo", "rectifier", "relu"),
    ("Leaky-ReLU", "leaky_relu", {}, "zoo", "rectifier", "leaky_relu"),
    ("leaky", "leaky_relu", {}, "zoo", "rectifier", "leaky_relu"),  # an alias's defaults stay out of the label
    ("leaky_relu:negative_slope=0.2", "leaky_relu", {"negative_slope": 0.2}, "zoo", "rectifier",
     "leaky_relu:negative_slope=0.2"),
    ("rrelu:upper=8,lower=3,parameterization=inverse", "rrelu", {"upper": 8, "lower": 3, "parameterization": "inverse"},
     "zoo", "rectifier", "rrelu:lower=3,parameterization='inverse',upper=8"),
    ({"name": "elu", "alpha": 0.5}, "elu", {"alpha": 0.5}, "zoo", "smooth", "elu:alpha=0.5"),
    ("selu", "selu", {}, "zoo", "self_normalizing", "selu"),
    ("tanh", "tanh", {}, "keras", "smooth", "tanh"),
    ("Sigmoid", "sigmoid", {}, "keras", "smooth", "sigmoid"),
    ("keras.activations:hard_silu", "keras.activations:hard_silu", {}, "plugin", None, "keras.activations:hard_silu"),
    ("not_installed.acts:Swish2:beta=3", "not_installed.acts:Swish2", {"beta": 3}, "plugin", None,
     "not_installed.acts:Swish2:beta=3"),
]


@pytest.mark.parametrize("given,name,params,source,family,label", FORMS)
def test_a_spec_knows_its_name_parameters_source_family_and_label(given, name, params, source, family, label):
    spec = ActivationSpec.parse(given)
    assert (spec.name, spec.params, spec.source, spec.family, spec.label) == (name, params, source, family, label)
    assert ActivationSpec.parse(spec) is spec
    assert spec_lib.activation_label(given) == label  # the sweep's label is the spec's


def test_classes_and_instances_are_specs_too():
    assert ActivationSpec.parse(relu_zoo.PReLU).name == "prelu" and ActivationSpec.parse(relu_zoo.PReLU).builtin
    copy = ActivationSpec.parse(relu_zoo.ELU(alpha=0.3, name="mine")).build()
    assert type(copy) is relu_zoo.ELU and copy.alpha == 0.3 and copy.name != "mine"
    other = ActivationSpec.parse(keras.layers.Activation("softsign"))
    assert (other.name, other.source, other.family, other.builtin) == ("Activation", "layer", None, False)


def test_build_gives_a_new_layer_each_call_with_the_alias_defaults_and_overrides():
    spec = ActivationSpec.parse("rrelu_xu")
    first, second = spec.build(), spec.build()
    assert first is not second and first.parameterization == "inverse" and first.upper == 8.0
    assert spec.build(upper=9.0).upper == 9.0
    assert type(relu_zoo.get(spec)) is relu_zoo.RReLU  # the registry takes a parsed spec as it is


def test_unknown_names_fail_when_parsed_with_the_closest_match():
    with pytest.raises(ValueError, match=r"Unknown activation 'tahn'\. Did you mean 'tanh'\?"):
        ActivationSpec.parse("tahn")
    with pytest.raises(ValueError, match="A plug-in activation is named 'module:attr'"):
        ActivationSpec.parse("my_acts.swish2")


def test_run_ids_and_models_take_the_spec():
    assert RunSpec("mnist", "mlp", "leaky_relu:negative_slope=0.2", 3).run_id == \
        "mnist__mlp__leaky_relu-negative_slope=0.2__seed3"
    assert RunSpec("mnist", "mlp", "tanh", 0).run_id == "mnist__mlp__tanh__seed0"
    assert models.kernel_initializer_for(ActivationSpec.parse("selu")) == "lecun_normal"


@pytest.mark.parametrize("name", sorted(CLASSICS))
def test_tanh_and_sigmoid_are_classic_baselines_initialized_by_glorot(tmp_path, name):
    layer = relu_zoo.get(name)
    assert isinstance(layer, keras.layers.Activation)  # the diagnostics probe it as any Activation
    x = np.array([[-3.0, 0.0, 0.5, 4.0]], "float32")
    expected = np.tanh(x) if name == "tanh" else 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-6, atol=1e-7)
    assert models.kernel_initializer_for(name) == "glorot_uniform"
    assert name not in relu_zoo.list_activations() and name not in RECORDS  # not a zoo layer: no layer tests
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), relu_zoo.get(name)])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_a_comparison_names_tanh_and_the_listing_marks_the_classics():
    config = spec_lib.resolve(overrides={"activations": "relu,tanh,sigmoid"})  # validated, as `relu-zoo train`
    assert [run.label for run in run_grid(config) if run.seed == 0] == ["relu", "tanh", "sigmoid"]
    listed = console.listing("activations")["activations"]
    assert "tanh (classic baseline: keras.activations.tanh)" in listed
    assert "sigmoid (classic baseline: keras.activations.sigmoid)" in listed
    assert listed.index("relu") < listed.index("tanh (classic baseline: keras.activations.tanh)")

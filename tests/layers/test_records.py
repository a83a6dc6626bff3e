"""The activation records (relu_zoo.layers.base.Record): one per activation, complete, and what the registry,
the models' initializers and the layer tests are derived from. Forgetting a piece of a new activation fails here."""

from pathlib import Path

import keras
import pytest

import relu_zoo
from relu_zoo import activations, models
from relu_zoo.layers.base import INITIALIZERS, RECORDS

LAYER_FILES = sorted(p.stem for p in (Path(relu_zoo.__file__).parent / "layers").glob("*.py")
                     if p.stem not in ("__init__", "base"))


def test_every_layer_file_holds_a_recorded_layer():
    # A layer file that relu_zoo/layers/__init__.py does not import, or a class without @activation, has no record.
    recorded = {record.layer.__module__.rpartition(".")[2] for record in RECORDS.values()}
    assert sorted(set(LAYER_FILES) - recorded) == []


def test_every_function_has_one_record():
    by_function = sorted(record.function.__name__ for record in RECORDS.values())
    assert by_function == sorted(activations.FUNCTIONS)


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_the_registry_and_the_public_api_come_from_the_record(name):
    record = RECORDS[name]
    assert name in relu_zoo.list_activations()
    assert getattr(relu_zoo, record.layer.__name__) is record.layer
    assert type(relu_zoo.get(name)) is record.layer
    for alias, defaults in record.aliases.items():
        assert relu_zoo.list_aliases()[alias] == name
        layer = relu_zoo.get(alias)
        assert {key: getattr(layer, key) for key in defaults} == defaults


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_models_initialize_by_the_record_family(name):
    assert models.kernel_initializer_for(name) == INITIALIZERS[RECORDS[name].family]


def test_a_registered_custom_activation_declares_its_family():
    class Cube(keras.layers.Layer):
        def call(self, x):
            return x ** 3

    relu_zoo.register_activation("test_cube", Cube, family="rectifier")
    try:
        assert models.kernel_initializer_for("test_cube") == "he_normal"
        with pytest.raises(ValueError, match="family"):
            relu_zoo.register_activation("test_cube2", Cube, family="relu")
    finally:
        relu_zoo.registry.ACTIVATIONS.remove("test_cube")


def test_the_docs_table_is_generated_from_the_records():
    # One row per record, its paper from the layer docstring's Reference: (a missing one is a ValueError there).
    from tools import docs_tables

    table = docs_tables.activations_markdown()
    assert [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]] == sorted(
        RECORDS, key=lambda name: (list(INITIALIZERS).index(RECORDS[name].family), name))
    page = docs_tables.LAYERS_PAGE.read_text()
    assert f"{docs_tables.ACTIVATIONS_MARKERS[0]}\n{table}\n{docs_tables.ACTIVATIONS_MARKERS[1]}" in page, \
        f"the activation table of {docs_tables.LAYERS_PAGE} is stale: run `python tools/docs_tables.py`"


def test_citations_come_from_the_docstring_reference():
    from tools import docs_tables

    assert docs_tables.citation(relu_zoo.LeakyReLU) == "Maas et al. 2013"
    assert docs_tables.citation(relu_zoo.GELU) == "Hendrycks & Gimpel 2016"
    assert docs_tables.citation(relu_zoo.Mish) == "Misra 2019"
    assert docs_tables.citation(relu_zoo.SELU) == "Klambauer et al. 2017"
    with pytest.raises(ValueError, match="Reference"):
        docs_tables.citation(keras.layers.Layer)


def test_a_record_states_its_formula_and_its_derivative_at_zero():
    from relu_zoo.layers.base import activation

    with pytest.raises(TypeError, match="formula"):
        activation("test_cube", function=activations.relu, family="rectifier", derivative_at_zero=0.0)
    with pytest.raises(ValueError, match="derivative at 0"):
        activation("test_cube", function=activations.relu, family="rectifier", formula="x³")
    assert all(record.formula for record in RECORDS.values())

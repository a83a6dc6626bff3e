"""Shared pytest fixtures: quiet TensorFlow, real TFDS data (skip locally, fail in CI), mocked TFDS; Hypothesis
profiles."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The kernels relu_zoo's commands choose (relu_zoo._startup), which `import relu_zoo` leaves to TensorFlow: the tests
# that run a command's code in this process (console.main, sweeps) and compare its numbers with the commands'
# then see what the commands compute, on CPUs where TensorFlow's default differs (AVX2 without AVX-512) too.
# Subprocesses inherit it; tests/test_startup.py removes it where TensorFlow's own choice is the point.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pytest  # noqa: E402

import relu_zoo  # noqa: E402,F401  (after the settings above: TensorFlow reads them on its first import)

try:
    import hypothesis
except ImportError:  # the other backends' and the smoke run's venvs install pytest only (.ci/run)
    hypothesis = None

if hypothesis is not None:
    # "ci": the same examples on every run (derandomized, no example database), few enough for CI's time budget.
    # "long": many random examples, for the tests marked exhaustive (tests/layers/test_fuzz.py), before a release.
    # Both: no deadline (a layer's first eager call traces and compiles).
    hypothesis.settings.register_profile(
        "ci", derandomize=True, database=None, max_examples=16, deadline=None, print_blob=True,
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much])
    hypothesis.settings.register_profile(
        "long", max_examples=400, deadline=None, print_blob=True,
        suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much])
    hypothesis.settings.load_profile("ci")


# The test modules whose fast tests CI also runs under KERAS_BACKEND=jax and torch (.ci/run, marker all_backends):
# what relu_zoo does on every backend. A test in them that needs TensorFlow's backend skips itself elsewhere.
ALL_BACKENDS = ("layers/test_layer_core.py", "layers/test_keras_compat.py", "test_registry.py", "models/test_models.py",
                "tasks/test_tasks.py", "test_diagnostics.py", "run/test_report.py", "test_backends.py")


def pytest_collection_modifyitems(config, items):
    tests = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if os.path.relpath(str(item.path), tests).replace(os.sep, "/") in ALL_BACKENDS:
            item.add_marker(pytest.mark.all_backends)


@pytest.fixture
def real_tfds_dir():
    """Returns `require(*paths)`: the TFDS data dir if it holds every `<name>[/<config>]/<version>` path.

    When data is missing the test is skipped on a developer machine and fails when `CI` is set, so CI can
    never pass by skipping the real-data tests.
    """

    def require(*paths):
        data_dir = os.environ.get("TFDS_DATA_DIR")
        missing = [p for p in paths
                   if not (data_dir and os.path.isfile(os.path.join(data_dir, p, "dataset_info.json")))]
        if missing:
            message = (f"Prepared TFDS data missing: {', '.join(missing)} in TFDS_DATA_DIR={data_dir!r}. "
                       f"Point TFDS_DATA_DIR at the prepared datasets (shared/tensorflow_datasets).")
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return data_dir

    return require


@pytest.fixture(scope="session")
def tfds_metadata_dir(tmp_path_factory):
    """A TFDS data dir holding only the metadata (`dataset_info.json`, ...) of every registered task.

    TFDS 4.9 ships no metadata for `tfds.testing.mock_data`; written from the builder code, it lets mocked
    loads go through the same "is the dataset prepared?" check as real ones.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from relu_zoo import tasks

    root = str(tmp_path_factory.mktemp("tfds_metadata"))
    for name in tasks.list_tasks():
        builder = tfds.builder(tasks.get(name).tfds_name, data_dir=root)
        tf.io.gfile.makedirs(os.fspath(builder.data_dir))
        builder.info.write_to_directory(builder.data_dir)
    return root


@pytest.fixture
def mock_tfds(tfds_metadata_dir):
    """Returns `mock(num_examples, as_dataset_fn=None)`, a context in which TFDS serves random examples.

    Every split yields the same `num_examples` examples (a `tfds.testing.mock_data` property).
    """
    import tensorflow_datasets as tfds

    def mock(num_examples, as_dataset_fn=None):
        return tfds.testing.mock_data(num_examples=num_examples, data_dir=tfds_metadata_dir,
                                      policy=tfds.testing.MockPolicy.USE_FILES, as_dataset_fn=as_dataset_fn)

    return mock


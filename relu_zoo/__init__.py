"""relu_zoo: ReLU-family activation layers for Keras 3, a model zoo and honest activation comparisons.

    import relu_zoo
    layer = relu_zoo.get("prelu")             # a new layer on every call
    relu_zoo.list_activations()
    report = relu_zoo.compare(activations=["relu", "prelu", "my_pkg.acts:swish2"], seeds=5, out="runs/x")

A `.keras` file holding relu_zoo's layers loads with `keras.saving.load_model` (safe_mode, no custom_objects) in
a process that has imported relu_zoo: the import registers the layers, and Keras imports no other package's
modules while loading, so without it the load fails with "Functional could not be deserialized properly".
Models of `relu_zoo.models` that use its own blocks (text models, airbench) also need `import relu_zoo.models`,
raw-input models `import relu_zoo.tasks`; `relu_zoo.pretrained.load` imports both.
"""

__version__ = "0.1.0"

from relu_zoo import _startup

# Before anything imports TensorFlow: relu_zoo's own commands start it their way (oneDNN kernels, quiet); in any
# other program this does nothing, and TensorFlow starts as it would without relu_zoo (see relu_zoo._startup).
_startup.start()

from relu_zoo import activations, layers, losses, schedules  # noqa: E402,F401  (losses, schedules: registered)
from relu_zoo.layers import *  # noqa: F401,F403  (the layer classes are the public API)
from relu_zoo.registry import get, list_activations, list_aliases, list_plugins, register_activation
from relu_zoo.swap import count_activations, swap_activations

__all__ = ["activations", "count_activations", "get", "layers", "list_activations", "list_aliases", "list_plugins",
           "register_activation", "swap_activations", *layers.__all__]


def __getattr__(name):
    # `compare` runs sweeps: it brings TensorFlow's data stack and the runner, which import this package. It
    # is imported on first use (PEP 562), after this package has finished importing, so `import relu_zoo`
    # stays light and no import circle forms.
    if name == "compare":
        from relu_zoo.comparison import compare

        return compare
    raise AttributeError(f"module 'relu_zoo' has no attribute {name!r}")

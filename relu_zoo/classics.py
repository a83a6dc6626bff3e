"""tanh and the logistic sigmoid: the saturating activations that ReLU replaced, kept nameable as baselines.

They are Keras' own functions (`keras.activations.tanh`, `.sigmoid`) in a `keras.layers.Activation`, not zoo layers:
relu_zoo states nothing new about them, so they have no file in `relu_zoo/layers/` and are left out of
`relu_zoo.list_activations()` and of the layer tests that run over it. Every comparison can still name them
(`relu-zoo train --activations relu,tanh`), as the studies do for the claims about vanishing gradients and
training speed (Glorot & Bengio 2010; Krizhevsky et al. 2012).
"""

import keras

from relu_zoo.layers.base import Record


class _Classic(keras.layers.Activation):
    """A `keras.layers.Activation` fixed to one Keras function (`FUNCTION`), so that it has a name of its own: the
    diagnostics probe it as any `Activation`, and a saved model loads it with `safe_mode=True`."""

    FUNCTION = None

    def __init__(self, **kwargs):
        kwargs.pop("activation", None)  # its config holds the function: loading passes it back
        super().__init__(self.FUNCTION, **kwargs)


@keras.saving.register_keras_serializable(package="relu_zoo")
class Tanh(_Classic):
    """tanh(x) as a layer (`keras.activations.tanh`), the saturating baseline of the comparisons."""

    FUNCTION = "tanh"


@keras.saving.register_keras_serializable(package="relu_zoo")
class Sigmoid(_Classic):
    """The logistic sigmoid 1 / (1 + exp(-x)) as a layer (`keras.activations.sigmoid`), the saturating baseline of
    the comparisons."""

    FUNCTION = "sigmoid"


# Glorot & Bengio 2010 derived their uniform initialization for tanh: the "smooth" family (Glorot uniform).
CLASSICS = {
    "tanh": Record("tanh", Tanh, keras.activations.tanh, "smooth", derivative_at_zero=1.0, formula="tanh(x)"),
    "sigmoid": Record("sigmoid", Sigmoid, keras.activations.sigmoid, "smooth", derivative_at_zero=0.25,
                      formula="1 / (1 + exp(-x))"),
}

import keras

from relu_zoo import activations
from relu_zoo.layers.base import (ParametricActivation, activation, check_int, serialize_weight_options,
                                  set_weight_options)


@activation("apl", function=activations.apl, family="rectifier",
            formula="max(0, x) + Σₛ aₛ·max(0, −x + bₛ)",
            parameters="hinges S (2); a (0), b (U[−1, 1]) per channel",
            derivative_text="each max(0, ·) term: 0 at its own kink")
class APL(ParametricActivation):
    """Adaptive piecewise linear unit: ReLU plus `hinges` learned hinge functions.

    Formula:
    ```
    f(x) = max(0, x) + sum_{s=1..hinges} a[s] * max(0, -x + b[s])
    ```
    Derivative at a kink: each `max(0, .)` term contributes 0 at its own kink
    (`relu'(0) = 0`).

    `a` starts at 0 (the layer starts as ReLU) and `b` uniform in [-1, 1] so
    the hinges start at different places. The paper regularizes `a` with L2
    (0.001); pass `a_regularizer="l2"` or a `keras.regularizers.L2`.

    Args:
        hinges: Number of hinges S, >= 1. Default 2.
        a_initializer, b_initializer: Initializers of slopes and offsets.
        a_regularizer, b_regularizer, a_constraint, b_constraint: As usual.
        channelwise, shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> layer = APL(hinges=1, a_initializer=keras.initializers.Constant(0.5), b_initializer="ones")
    >>> np.asarray(layer(np.array([[-2.0, 0.0, 3.0]])))
    array([[1.5, 0.5, 3. ]], dtype=float32)

    Reference:
        Agostinelli, Hoffman, Sadowski & Baldi, "Learning Activation
        Functions to Improve Deep Neural Networks", ICLR 2015 workshop.
    """

    def __init__(
        self,
        hinges=2,
        a_initializer="zeros",
        b_initializer=None,
        a_regularizer=None,
        b_regularizer=None,
        a_constraint=None,
        b_constraint=None,
        channelwise=True,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        check_int("hinges", hinges, 1)
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        self.hinges = hinges
        if b_initializer is None:
            b_initializer = keras.initializers.RandomUniform(-1.0, 1.0)
        set_weight_options(self, "a", a_initializer, a_regularizer, a_constraint)
        set_weight_options(self, "b", b_initializer, b_regularizer, b_constraint)

    def build(self, input_shape):
        shape = (self.hinges,) + self.parameter_shape(input_shape)
        self.a = self._add_parameter("a", shape, self.a_initializer, self.a_regularizer, self.a_constraint)
        self.b = self._add_parameter("b", shape, self.b_initializer, self.b_regularizer, self.b_constraint)

    def call(self, inputs):
        return activations.apl(inputs, self._param(self.a), self._param(self.b))

    def get_config(self):
        return {**super().get_config(), "hinges": self.hinges, **serialize_weight_options(self, ["a", "b"])}

import keras

from relu_zoo import activations
from relu_zoo.layers.base import ParametricActivation, activation, serialize_weight_options, set_weight_options

_NAMES = ("t_left", "a_left", "t_right", "a_right")


@activation("srelu", function=activations.srelu, family="rectifier", aliases={"s_relu": {}},
            formula="t_r + a_r(x − t_r) if x ≥ t_r; x between; t_l + a_l(x − t_l) if x ≤ t_l",
            parameters="t_l (0), a_l (0.2), t_r (1), a_r (1) per channel",
            derivative_text="a_l at t_l, a_r at t_r")
class SReLU(ParametricActivation):
    """S-shaped ReLU: three linear pieces with learned thresholds and slopes.

    Formula:
    ```
    f(x) = t_right + a_right * (x - t_right)   if x >= t_right
    f(x) = x                                   if t_left < x < t_right
    f(x) = t_left + a_left * (x - t_left)      if x <= t_left
    ```
    Derivative at `t_left`: `a_left`; at `t_right`: `a_right`.

    Default initialization starts as a leaky ReLU: `t_left = 0`,
    `a_left = 0.2`, `a_right = 1` (so the value of `t_right`, initially 1, does
    not change the function until `a_right` moves). The paper's data-dependent
    initialization of `t_right` is not implemented.

    Args:
        t_left_initializer, a_left_initializer, t_right_initializer, a_right_initializer:
            Initializers of the four parameters.
        *_regularizer, *_constraint: Per-parameter regularizers/constraints
            (same prefixes).
        channelwise, shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(SReLU()(np.array([[-2.0, 0.5, 3.0]])))
    array([[-0.4,  0.5,  3. ]], dtype=float32)

    Reference:
        Jin et al., "Deep Learning with S-shaped Rectified Linear Activation
        Units", AAAI 2016.
    """

    def __init__(
        self,
        t_left_initializer="zeros",
        a_left_initializer=None,
        t_right_initializer="ones",
        a_right_initializer="ones",
        t_left_regularizer=None,
        a_left_regularizer=None,
        t_right_regularizer=None,
        a_right_regularizer=None,
        t_left_constraint=None,
        a_left_constraint=None,
        t_right_constraint=None,
        a_right_constraint=None,
        channelwise=True,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        if a_left_initializer is None:
            a_left_initializer = keras.initializers.Constant(0.2)
        options = locals()
        for name in _NAMES:
            set_weight_options(
                self, name, options[f"{name}_initializer"], options[f"{name}_regularizer"], options[f"{name}_constraint"]
            )

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        for name in _NAMES:
            variable = self._add_parameter(
                name,
                shape,
                getattr(self, f"{name}_initializer"),
                getattr(self, f"{name}_regularizer"),
                getattr(self, f"{name}_constraint"),
            )
            setattr(self, name, variable)

    def call(self, inputs):
        return activations.srelu(inputs, *(self._param(getattr(self, name)) for name in _NAMES))

    def get_config(self):
        return {**super().get_config(), **serialize_weight_options(self, _NAMES)}

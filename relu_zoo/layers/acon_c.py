import keras

from relu_zoo import activations
from relu_zoo.layers.base import ParametricActivation, activation, serialize_weight_options, set_weight_options


@activation("acon_c", function=activations.acon_c, family="smooth",
            formula="(p₁ − p₂)·x·sigmoid(β(p₁ − p₂)x) + p₂·x, p₁, p₂ and β learned",
            parameters="p₁, p₂ (N(0, 1)), β (1) per channel",
            derivative_text="(p₁ + p₂)/2",
            torch=[("acon_c", {}, {"p1": 1.0, "p2": 0.25, "beta": 1.5},
                    "(p1 - p2) * x * torch.sigmoid(beta * (p1 - p2) * x) + p2 * x")])
class AconC(ParametricActivation):
    """ACON-C: learns per channel whether to activate, between the slopes p1 and p2.

    Formula:
    ```
    f(x) = (p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x
    ```
    Derivative at 0: `(p1 + p2) / 2`. With p1 = 1, p2 = 0 it is swish with `beta`; as `beta -> inf` it tends to
    `max(p1 x, p2 x)` (for p1 > p2), and to the linear `(p1 + p2) x / 2` as `beta -> 0`. Ma et al. draw p1 and p2
    from N(0, 1) and start beta at 1, one of each per channel.

    Args:
        p1_initializer, p2_initializer: Default `RandomNormal(0, 1)`.
        beta_initializer: Default "ones".
        p1_regularizer, p2_regularizer, beta_regularizer: Default None.
        p1_constraint, p2_constraint, beta_constraint: Default None.
        channelwise, shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> layer = AconC(p1_initializer="ones", p2_initializer="zeros")
    >>> np.asarray(layer(np.array([[-2.0, 0.0, 3.0]])))
    array([[-0.23840584,  0.        ,  2.8577223 ]], dtype=float32)

    Reference:
        Ma, Zhang, Liu, Sun & Sun, "Activate or Not: Learning Customized Activation", CVPR 2021.
    """

    def __init__(
        self,
        p1_initializer=None,
        p2_initializer=None,
        beta_initializer="ones",
        p1_regularizer=None,
        p2_regularizer=None,
        beta_regularizer=None,
        p1_constraint=None,
        p2_constraint=None,
        beta_constraint=None,
        channelwise=True,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        set_weight_options(self, "p1", p1_initializer or keras.initializers.RandomNormal(0.0, 1.0), p1_regularizer,
                           p1_constraint)
        set_weight_options(self, "p2", p2_initializer or keras.initializers.RandomNormal(0.0, 1.0), p2_regularizer,
                           p2_constraint)
        set_weight_options(self, "beta", beta_initializer, beta_regularizer, beta_constraint)

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        for name in ("p1", "p2", "beta"):
            setattr(self, name, self._add_parameter(name, shape, getattr(self, f"{name}_initializer"),
                                                    getattr(self, f"{name}_regularizer"),
                                                    getattr(self, f"{name}_constraint")))

    def call(self, inputs):
        return activations.acon_c(inputs, self._param(self.p1), self._param(self.p2), self._param(self.beta))

    def get_config(self):
        return {**super().get_config(), **serialize_weight_options(self, ["p1", "p2", "beta"])}

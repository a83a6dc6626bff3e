from relu_zoo import activations
from relu_zoo.layers.base import ParametricActivation, activation, serialize_weight_options, set_weight_options


@activation("swish_beta", function=activations.swish, family="smooth",
            formula="x·sigmoid(β·x), β learned",
            parameters="β per channel (1)",
            derivative_text="0.5")
class Swish(ParametricActivation):
    """Swish with a learnable `beta` (registry name `swish_beta`).

    Formula:
    ```
    f(x) = x * sigmoid(beta * x)
    ```
    Derivative at 0: 0.5 for every beta. `beta = 1` is SiLU; `beta -> inf`
    approaches ReLU. Ramachandran et al. train one beta per channel
    (`channelwise=True`, default) starting from 1.

    Args:
        beta_initializer: Default "ones".
        beta_regularizer, beta_constraint: As usual.
        channelwise, shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
            `trainable=False` freezes beta.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(Swish()(np.array([[-2.0, 0.0, 3.0]])))
    array([[-0.23840584,  0.        ,  2.8577223 ]], dtype=float32)

    Reference:
        Ramachandran, Zoph & Le, "Searching for Activation Functions", 2017.
    """

    def __init__(
        self,
        beta_initializer="ones",
        beta_regularizer=None,
        beta_constraint=None,
        channelwise=True,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        set_weight_options(self, "beta", beta_initializer, beta_regularizer, beta_constraint)

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        self.beta = self._add_parameter("beta", shape, self.beta_initializer, self.beta_regularizer, self.beta_constraint)

    def call(self, inputs):
        return activations.swish(inputs, self._param(self.beta))

    def get_config(self):
        return {**super().get_config(), **serialize_weight_options(self, ["beta"])}

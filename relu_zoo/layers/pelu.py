import keras
from keras import ops

from relu_zoo import activations
from relu_zoo.layers.base import (
    ParametricActivation,
    activation,
    check_number,
    register,
    serialize_weight_options,
    set_weight_options,
)


@register
class MinValue(keras.constraints.Constraint):
    """Clips a weight from below: `w = max(w, min_value)`.

    PELU needs `alpha, beta > 0`; a floor (rather than NonNeg) keeps `alpha / beta`
    finite when a parameter is pushed towards 0.
    """

    def __init__(self, min_value=0.1):
        self.min_value = check_number("min_value", min_value)

    def __call__(self, w):
        return ops.maximum(w, ops.cast(self.min_value, w.dtype))

    def get_config(self):
        return {"min_value": self.min_value}


@activation("pelu", function=activations.pelu, family="smooth",
            formula="(α/β)·x if x ≥ 0 else α(exp(x/β) − 1)",
            parameters="α (1), β (1) per channel, kept ≥ 0.1",
            derivative_text="α/β")
class PELU(ParametricActivation):
    """Parametric exponential linear unit, `alpha, beta > 0` learned.

    Formula:
    ```
    f(x) = (alpha / beta) * x               if x >= 0
    f(x) = alpha * (exp(x / beta) - 1)      otherwise
    ```
    Derivative at 0: `alpha / beta` from both sides (differentiable by
    construction). Both start at 1 (= ELU) and are kept >= 0.1 by a
    `MinValue` constraint so the function stays differentiable at 0.

    Args:
        alpha_initializer, beta_initializer: Default "ones".
        alpha_regularizer, beta_regularizer: Default None.
        alpha_constraint, beta_constraint: Default `MinValue(0.1)`.
        channelwise, shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(PELU()(np.array([[-2.0, 0.0, 3.0]])))
    array([[-0.86466473,  0.        ,  3.        ]], dtype=float32)

    Reference:
        Trottier, Giguère & Chaib-draa, "Parametric Exponential Linear Unit
        for Deep Convolutional Neural Networks", ICMLA 2017.
    """

    def __init__(
        self,
        alpha_initializer="ones",
        beta_initializer="ones",
        alpha_regularizer=None,
        beta_regularizer=None,
        alpha_constraint=None,
        beta_constraint=None,
        channelwise=True,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        set_weight_options(self, "alpha", alpha_initializer, alpha_regularizer, alpha_constraint or MinValue(0.1))
        set_weight_options(self, "beta", beta_initializer, beta_regularizer, beta_constraint or MinValue(0.1))

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        self.alpha = self._add_parameter(
            "alpha", shape, self.alpha_initializer, self.alpha_regularizer, self.alpha_constraint
        )
        self.beta = self._add_parameter("beta", shape, self.beta_initializer, self.beta_regularizer, self.beta_constraint)

    def call(self, inputs):
        return activations.pelu(inputs, self._param(self.alpha), self._param(self.beta))

    def get_config(self):
        return {**super().get_config(), **serialize_weight_options(self, ["alpha", "beta"])}

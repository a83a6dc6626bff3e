import keras

from relu_zoo import activations
from relu_zoo.layers.base import ParametricActivation, activation, serialize_weight_options, set_weight_options

# Yu et al. 2023, §3.1: 1/sqrt(1.25) and -0.5/sqrt(1.25) as the paper rounds them, the scale and shift that give
# max(x, 0)**2 mean 0 and variance 1 for x ~ N(0, 1).
SCALE, BIAS = 0.8944, -0.4472


@activation("star_relu", function=activations.star_relu, family="rectifier",
            formula="s·max(x, 0)² + b, s and b learned",
            parameters="s (0.8944), b (−0.4472), one each per layer",
            derivative_text="0",
            # One scale and bias per element of the fixture's row (`channelwise=True`): each gradient has its input.
            torch=[("star_relu", {"channelwise": True}, {"scale": 0.875, "bias": -0.4375},
                    "scale * F.relu(x) ** 2 + bias")])
class StarReLU(ParametricActivation):
    """StarReLU: squared ReLU with a learned scale and bias, from the MetaFormer baselines.

    Formula:
    ```
    f(x) = scale * max(x, 0) ** 2 + bias
    ```
    Derivative at 0: 0, for every scale and bias. Yu et al. learn one scale and one bias per layer (the default
    here) starting from 0.8944 and -0.4472, which standardize `max(x, 0)**2` for x ~ N(0, 1); timm's `StarReLU`
    class defaults to 1 and 0 instead.

    Args:
        scale_initializer: Default `Constant(0.8944)`.
        bias_initializer: Default `Constant(-0.4472)`.
        scale_regularizer, bias_regularizer: Default None.
        scale_constraint, bias_constraint: Default None.
        channelwise: One scale and bias per channel (True) or per layer (False). Default None: per layer,
            unless `shared_axes` is given.
        shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(StarReLU()(np.array([[-2.0, 0.0, 3.0]])))
    array([[-0.4472, -0.4472,  7.6024]], dtype=float32)

    Reference:
        Yu, Si, Zhou, Yu, Wang, Feng & Yan, "MetaFormer Baselines for Vision", TPAMI 2023.
    """

    per_layer_by_default = True

    def __init__(
        self,
        scale_initializer=None,
        bias_initializer=None,
        scale_regularizer=None,
        bias_regularizer=None,
        scale_constraint=None,
        bias_constraint=None,
        channelwise=None,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        set_weight_options(self, "scale", scale_initializer or keras.initializers.Constant(SCALE), scale_regularizer,
                           scale_constraint)
        set_weight_options(self, "bias", bias_initializer or keras.initializers.Constant(BIAS), bias_regularizer,
                           bias_constraint)

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        self.scale = self._add_parameter("scale", shape, self.scale_initializer, self.scale_regularizer,
                                         self.scale_constraint)
        self.bias = self._add_parameter("bias", shape, self.bias_initializer, self.bias_regularizer,
                                        self.bias_constraint)

    def call(self, inputs):
        return activations.star_relu(inputs, self._param(self.scale), self._param(self.bias))

    def get_config(self):
        return {**super().get_config(), **serialize_weight_options(self, ["scale", "bias"])}

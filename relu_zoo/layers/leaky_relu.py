import warnings

from relu_zoo import activations
from relu_zoo.layers.base import (
    ElementwiseActivation,
    KerasCompatible,
    activation,
    check_dtype_range,
    check_number,
)


@activation("leaky_relu", function=activations.leaky_relu, family="rectifier", derivative_at_zero=0.01,
            aliases={"leaky": {}, "lrelu": {}, "leakyrelu": {}},
            formula="x if x > 0 else negative_slope·x",
            parameters="negative_slope (0.01)",
            derivative_text="negative_slope")
class LeakyReLU(KerasCompatible, ElementwiseActivation):
    """Leaky ReLU: a small fixed slope for negative inputs.

    Formula:
    ```
    f(x) = x                    if x > 0
    f(x) = negative_slope * x   otherwise
    ```
    Derivative at 0: `negative_slope`; at NaN: NaN.

    The default 0.01 is Maas et al.'s and PyTorch's, and is also the default of
    `relu_zoo.activations.leaky_relu` (keras.layers.LeakyReLU uses 0.3;
    `LeakyReLU.from_keras(layer)` keeps a Keras layer's slope). In float64 the
    slope is applied exactly (TensorFlow's fused kernel rounds it to float32).

    Args:
        negative_slope: Slope for `x <= 0`, >= 0. Default 0.01.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
            Keras' deprecated `alpha` is accepted for `negative_slope`, with
            Keras' warning.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(LeakyReLU()(np.array([-2.0, 0.0, 3.0])))
    array([-0.02,  0.  ,  3.  ], dtype=float32)
    >>> np.asarray(LeakyReLU(negative_slope=0.2)(np.array([-2.0, 0.0, 3.0])))
    array([-0.4,  0. ,  3. ], dtype=float32)

    Reference:
        Maas, Hannun & Ng, "Rectifier Nonlinearities Improve Neural Network
        Acoustic Models", ICML 2013 workshop.
    """

    keras_class = "LeakyReLU"
    keras_default = "negative_slope (0.3)"

    def __init__(self, negative_slope=0.01, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.")
        negative_slope = check_number("negative_slope", negative_slope, minimum=0)
        super().__init__(**kwargs)
        check_dtype_range(self, negative_slope=negative_slope)
        self.negative_slope = negative_slope

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}

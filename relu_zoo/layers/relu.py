from relu_zoo import activations
from relu_zoo.layers.base import (
    ElementwiseActivation,
    KerasCompatible,
    activation,
    check_dtype_range,
    check_number,
)


@activation("relu", function=activations.relu, family="rectifier", derivative_at_zero=0.0,
            formula="min(x, max_value) if x > threshold else negative_slope·(x − threshold)",
            parameters="max_value (None), negative_slope (0), threshold (0)")
class ReLU(KerasCompatible, ElementwiseActivation):
    """Rectified linear unit, optionally capped, thresholded and leaky: a drop-in for `keras.layers.ReLU`.

    Formula:
    ```
    f(x) = max_value                          if x >= max_value
    f(x) = x                                  if threshold < x < max_value
    f(x) = negative_slope * (x - threshold)   otherwise
    ```
    Derivative at `x == threshold` (0 by default): `negative_slope` (the left branch, 0 by default);
    at `x == max_value`: 0; at NaN: NaN.

    The arguments, their defaults and their validation are `keras.layers.ReLU`'s, so a Keras ReLU's
    `get_config()` loads with `ReLU.from_config`. One check is stricter: `threshold > max_value`
    (an output that jumps from 0 to `max_value` and has no gradient anywhere) is rejected.

    Args:
        max_value: Upper bound of the output, >= 0, or None for no bound. Default None.
        negative_slope: Slope below the threshold, >= 0. Default 0.0.
        threshold: Inputs at or below this value take the negative slope, >= 0. Default 0.0.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(ReLU()(np.array([-2.0, 0.0, 3.0])))
    array([0., 0., 3.], dtype=float32)
    >>> np.asarray(ReLU(max_value=2.0, threshold=0.5)(np.array([0.5, 1.0, 3.0])))
    array([0., 1., 2.], dtype=float32)
    >>> np.asarray(ReLU(max_value=10, negative_slope=0.5)(np.array([-10.0, -5.0, 0.0, 5.0, 10.0])))
    array([-5. , -2.5,  0. ,  5. , 10. ], dtype=float32)

    Reference:
        Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann
        Machines", ICML 2010.
    """

    keras_class = "ReLU"
    keras_default = None  # same defaults as keras.layers.ReLU

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        max_value = check_number("max_value", max_value, minimum=0, allow_none=True)
        negative_slope = check_number("negative_slope", negative_slope, minimum=0)
        threshold = check_number("threshold", threshold, minimum=0)
        if max_value is not None and threshold > max_value:
            raise ValueError(
                "Argument `threshold` must not exceed `max_value`. "
                f"Received: threshold={threshold}, max_value={max_value}"
            )
        super().__init__(**kwargs)
        check_dtype_range(self, max_value=max_value, negative_slope=negative_slope, threshold=threshold)
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def call(self, inputs):
        return activations.relu(
            inputs, negative_slope=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }

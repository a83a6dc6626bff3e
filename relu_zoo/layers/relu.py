from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, check_number, register


@register
class ReLU(ElementwiseActivation):
    """Rectified linear unit, optionally capped and with a threshold.

    Formula:
    ```
    f(x) = min(x, max_value)   if x > threshold
    f(x) = 0                   otherwise
    ```
    Derivative at `x == threshold` (0 by default) and at `x == max_value`: 0.

    Args:
        max_value: Upper bound of the output, or None for no bound. Must be >= 0.
        threshold: Inputs at or below this value give 0. Default 0.0.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(ReLU()(np.array([-2.0, 0.0, 3.0])))
    array([0., 0., 3.], dtype=float32)
    >>> np.asarray(ReLU(max_value=2.0, threshold=0.5)(np.array([0.5, 1.0, 3.0])))
    array([0., 1., 2.], dtype=float32)

    Reference:
        Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann
        Machines", ICML 2010.
    """

    def __init__(self, max_value=None, threshold=0.0, **kwargs):
        check_number("max_value", max_value, minimum=0, allow_none=True)
        check_number("threshold", threshold)
        if max_value is not None and threshold >= max_value:
            raise ValueError(
                "Argument `threshold` must be below `max_value`. "
                f"Received: threshold={threshold}, max_value={max_value}"
            )
        super().__init__(**kwargs)
        self.max_value = max_value
        self.threshold = threshold

    def call(self, inputs):
        return activations.relu(inputs, max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "threshold": self.threshold}

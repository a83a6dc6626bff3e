from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("hard_swish", function=activations.hard_swish, family="smooth", derivative_at_zero=0.5,
            aliases={"hardswish": {}, "hard_silu": {}},
            formula="x·relu6(x + 3)/6",
            torch=[("hard_swish", {}, {}, "F.hardswish(x)")])
class HardSwish(ElementwiseActivation):
    """Hard swish: swish with the hard sigmoid as its gate (MobileNetV3), as `torch.nn.Hardswish`.

    Formula:
    ```
    f(x) = x * min(max(x + 3, 0), 6) / 6
    ```
    Derivative `(2x + 3) / 6` on [-3, 3], 0 below and 1 above: at 0, 0.5; at -3 and 3 the middle piece's (-0.5,
    1.5), as PyTorch. `keras.activations.hard_swish` is the same function up to rounding, but NaN at -inf.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(HardSwish()(np.array([-4.0, -1.0, 0.0, 1.0, 4.0])))
    array([ 0.        , -0.33333334,  0.        ,  0.6666667 ,  4.        ], dtype=float32)

    Reference:
        Howard et al., "Searching for MobileNetV3", ICCV 2019.
    """

    def call(self, inputs):
        return activations.hard_swish(inputs)

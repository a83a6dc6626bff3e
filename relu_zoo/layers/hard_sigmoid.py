from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("hard_sigmoid", function=activations.hard_sigmoid, family="smooth", derivative_at_zero=1 / 6,
            derivative_text="1/6",
            aliases={"hardsigmoid": {}},
            formula="relu6(x + 3)/6",
            torch=[("hard_sigmoid", {}, {}, "F.hardsigmoid(x)")])
class HardSigmoid(ElementwiseActivation):
    """Hard sigmoid: the piecewise-linear sigmoid of MobileNetV3, as `torch.nn.Hardsigmoid`.

    Formula:
    ```
    f(x) = min(max(x + 3, 0), 6) / 6
    ```
    Derivative 1/6 on (-3, 3), else 0: at 0, 1/6; at ±3, 0. `keras.activations.hard_sigmoid` computes the same
    function (Keras 2's was `0.2 * x + 0.5`, clipped).

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(HardSigmoid()(np.array([-4.0, 0.0, 1.5, 4.0])))
    array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)

    Reference:
        Howard et al., "Searching for MobileNetV3", ICCV 2019.
    """

    def call(self, inputs):
        return activations.hard_sigmoid(inputs)

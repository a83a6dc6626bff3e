import math

from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("mish", function=activations.mish, family="smooth", derivative_at_zero=math.tanh(math.log(2.0)),
            formula="x·tanh(softplus(x))")
class Mish(ElementwiseActivation):
    """Mish: a self-regularized non-monotonic activation.

    Formula:
    ```
    f(x) = x * tanh(softplus(x)) = x * tanh(log(1 + exp(x)))
    ```
    Derivative at 0: `tanh(log 2) = 0.6`.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(Mish()(np.array([-2.0, 0.0, 3.0])))
    array([-0.2525015,  0.       ,  2.986535 ], dtype=float32)

    Reference:
        Misra, "Mish: A Self Regularized Non-Monotonic Activation Function", 2019.
    """

    def call(self, inputs):
        return activations.mish(inputs)

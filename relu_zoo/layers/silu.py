from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("silu", function=activations.silu, family="smooth", derivative_at_zero=0.5, aliases={"swish": {}},
            formula="x·sigmoid(x)")
class SiLU(ElementwiseActivation):
    """Sigmoid linear unit, a.k.a. Swish-1 (registry alias `swish`).

    Formula:
    ```
    f(x) = x * sigmoid(x)
    ```
    Derivative at 0: 0.5. For a learnable `beta`, use `Swish`.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(SiLU()(np.array([-2.0, 0.0, 3.0])))
    array([-0.23840584,  0.        ,  2.8577223 ], dtype=float32)

    Reference:
        Elfwing, Uchibe & Doya, "Sigmoid-Weighted Linear Units for Neural
        Network Function Approximation in Reinforcement Learning", 2018.
    """

    def call(self, inputs):
        return activations.silu(inputs)

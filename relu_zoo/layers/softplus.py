from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, register


@register
class Softplus(ElementwiseActivation):
    """Softplus, the smooth ReLU.

    Formula:
    ```
    f(x) = log(1 + exp(x))
    ```
    Derivative at 0: 0.5. Computed stably (`softplus(1000) == 1000`).

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(Softplus()(np.array([-2.0, 0.0, 3.0])))
    array([0.126928 , 0.6931472, 3.0485873], dtype=float32)

    Reference:
        Dugas et al., "Incorporating Second-Order Functional Knowledge for
        Better Option Pricing", NeurIPS 2001.
    """

    def call(self, inputs):
        return activations.softplus(inputs)

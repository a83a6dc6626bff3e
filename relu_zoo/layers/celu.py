from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation, check_dtype_range, check_number


@activation("celu", function=activations.celu, family="smooth", derivative_at_zero=1.0,
            formula="max(0, x) + min(0, α(exp(x/α) − 1))",
            parameters="α (1)")
class CELU(ElementwiseActivation):
    """Continuously differentiable exponential linear unit.

    Formula:
    ```
    f(x) = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    ```
    Derivative at 0: 1 (continuous for every alpha).

    Args:
        alpha: Negative saturation is `-alpha`, > 0. Default 1.0.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(CELU(alpha=2.0)(np.array([-2.0, 0.0, 3.0])))
    array([-1.2642411,  0.       ,  3.       ], dtype=float32)

    Reference:
        Barron, "Continuously Differentiable Exponential Linear Units", 2017.
    """

    def __init__(self, alpha=1.0, **kwargs):
        alpha = check_number("alpha", alpha, minimum=0, inclusive=False)
        super().__init__(**kwargs)
        check_dtype_range(self, alpha=alpha)
        self.alpha = alpha

    def call(self, inputs):
        return activations.celu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}

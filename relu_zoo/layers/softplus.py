from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation, check_dtype_range, check_number


@activation("softplus", function=activations.softplus, family="smooth", derivative_at_zero=0.5,
            formula="log(1 + exp(β·x))/β; x where β·x > threshold",
            parameters="β (1), threshold (20)")
class Softplus(ElementwiseActivation):
    """Softplus, the smooth ReLU.

    Formula (`torch.nn.Softplus(beta, threshold)`):
    ```
    f(x) = log(1 + exp(beta * x)) / beta   if beta * x <= threshold
    f(x) = x                               otherwise
    ```
    Derivative at 0: 0.5. Computed stably (`softplus(1000) == 1000`).

    Args:
        beta: Sharpness, > 0; larger values approach ReLU. Default 1.0.
        threshold: Above `beta * x > threshold` the output is `x` (the two
            differ by less than `exp(-threshold) / beta`). Default 20.0, as
            in PyTorch.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(Softplus()(np.array([-2.0, 0.0, 3.0])))
    array([0.126928 , 0.6931472, 3.0485873], dtype=float32)
    >>> np.asarray(Softplus(beta=2.0, threshold=4.0)(np.array([-2.0, 0.0, 3.0])))
    array([0.00907496, 0.3465736 , 3.        ], dtype=float32)

    Reference:
        Dugas et al., "Incorporating Second-Order Functional Knowledge for
        Better Option Pricing", NeurIPS 2001.
    """

    def __init__(self, beta=1.0, threshold=20.0, **kwargs):
        beta = check_number("beta", beta, minimum=0, inclusive=False)
        threshold = check_number("threshold", threshold)
        super().__init__(**kwargs)
        check_dtype_range(self, beta=beta, threshold=threshold)
        self.beta = beta
        self.threshold = threshold

    def call(self, inputs):
        return activations.softplus(inputs, beta=self.beta, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "threshold": self.threshold}

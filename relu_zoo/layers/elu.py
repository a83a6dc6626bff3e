from relu_zoo import activations
from relu_zoo.layers.base import (
    ElementwiseActivation,
    KerasCompatible,
    activation,
    check_dtype_range,
    check_number,
)


@activation("elu", function=activations.elu, family="smooth", derivative_at_zero=1.0,
            formula="x if x > 0 else α(exp(x) − 1)",
            parameters="α (1)",
            derivative_text="α")
class ELU(KerasCompatible, ElementwiseActivation):
    """Exponential linear unit.

    Formula:
    ```
    f(x) = x                      if x > 0
    f(x) = alpha * (exp(x) - 1)   otherwise
    ```
    Derivative at 0: `alpha` (left branch; continuous for alpha = 1).

    Same arguments and defaults as `keras.layers.ELU`; `alpha` must be > 0
    here (Keras does not check it; `alpha <= 0` is not an ELU).

    Args:
        alpha: Saturation value for negative inputs is `-alpha`, > 0. Default 1.0.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(ELU()(np.array([-2.0, 0.0, 3.0])))
    array([-0.86466473,  0.        ,  3.        ], dtype=float32)

    Reference:
        Clevert, Unterthiner & Hochreiter, "Fast and Accurate Deep Network
        Learning by Exponential Linear Units (ELUs)", ICLR 2016.
    """

    keras_class = "ELU"
    keras_default = None  # same default as keras.layers.ELU

    def __init__(self, alpha=1.0, **kwargs):
        alpha = check_number("alpha", alpha, minimum=0, inclusive=False)
        super().__init__(**kwargs)
        check_dtype_range(self, alpha=alpha)
        self.alpha = alpha

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}

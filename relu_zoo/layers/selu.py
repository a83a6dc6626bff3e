from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("selu", function=activations.selu, family="self_normalizing",
            derivative_at_zero=activations.SELU_SCALE * activations.SELU_ALPHA,
            formula="λ·x if x > 0 else λα(exp(x) − 1)",
            parameters="fixed λ = 1.0507, α = 1.6733",
            derivative_text="λα")
class SELU(ElementwiseActivation):
    """Scaled exponential linear unit (self-normalizing networks).

    Formula:
    ```
    f(x) = scale * x                      if x > 0
    f(x) = scale * alpha * (exp(x) - 1)   otherwise
    ```
    with `alpha = 1.6732632423543772` and `scale = 1.0507009873554805`.
    Derivative at 0: `scale * alpha` (left branch). Pair with
    `lecun_normal` initialization (the model zoo does this for you).

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(SELU()(np.array([-2.0, 0.0, 3.0])))
    array([-1.5201665,  0.       ,  3.152103 ], dtype=float32)

    Reference:
        Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.
    """

    def call(self, inputs):
        return activations.selu(inputs)

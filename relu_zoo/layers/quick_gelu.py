from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("quick_gelu", function=activations.quick_gelu, family="smooth", derivative_at_zero=0.5,
            aliases={"quickgelu": {}},
            formula="x·sigmoid(1.702·x)",
            torch=[("quick_gelu", {}, {}, "x * torch.sigmoid(1.702 * x)")])
class QuickGELU(ElementwiseActivation):
    """QuickGELU: GELU's sigmoid approximation, the activation of OpenAI's CLIP.

    Formula:
    ```
    f(x) = x * sigmoid(1.702 * x)
    ```
    Derivative at 0: 0.5; at ±inf the limits (`x` and 0, slopes 1 and 0). Swish with beta = 1.702; within 0.021
    of the exact GELU everywhere, so checkpoints trained with one need the same one.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(QuickGELU()(np.array([-2.0, 0.0, 3.0])))
    array([-0.06434137,  0.        ,  2.9819288 ], dtype=float32)

    Reference:
        Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021.
    """

    def call(self, inputs):
        return activations.quick_gelu(inputs)

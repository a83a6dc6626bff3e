from relu_zoo import activations
from relu_zoo.layers.base import GatedActivation, activation


@activation("swiglu", function=activations.swiglu, family="gated",
            formula="a·silu(b)",
            parameters="axis (−1)",
            derivative_text="0 (0.5·a in b)")
class SwiGLU(GatedActivation):
    """SiLU (Swish-1)-gated linear unit, the feed-forward activation of PaLM and LLaMA.

    Formula:
    ```
    a, b = split(x, 2, axis=axis)   # first half the value, second half the gate (torch.nn.functional.glu)
    f(x) = a * silu(b)                     # silu(b) = b * sigmoid(b)
    ```
    The size of `axis` halves; an odd size is a ValueError naming the axis and its size.
    Derivative in `b` at `b = 0`: `0.5 * a` (`silu'(0) = 0.5`); in `a`: `silu(b)`.

    Args:
        axis: The axis to split (the channel axis), default -1.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor whose `axis` has an even size.

    Example:

    >>> np.asarray(SwiGLU()(np.array([[1.0, -2.0, 3.0, 0.5, 2.0, -1.0]])))
    array([[ 0.31122968, -3.5231884 , -0.8068243 ]], dtype=float32)

    Reference:
        Shazeer, "GLU Variants Improve Transformer", 2020.
    """

    def call(self, inputs):
        return activations.swiglu(inputs, axis=self.axis)

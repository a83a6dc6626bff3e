from relu_zoo import activations
from relu_zoo.layers.base import GatedActivation, activation


@activation("glu", function=activations.glu, family="gated",
            formula="a·sigmoid(b)",
            parameters="axis (−1)",
            derivative_text="0.5 in a, 0 in b")
class GLU(GatedActivation):
    """Gated linear unit: the first half of the channels, gated by the sigmoid of the second half.

    Formula:
    ```
    a, b = split(x, 2, axis=axis)   # first half the value, second half the gate (torch.nn.functional.glu)
    f(x) = a * sigmoid(b)
    ```
    The size of `axis` halves; an odd size is a ValueError naming the axis and its size.
    Derivative at a = b = 0: `sigmoid(0) = 0.5` in `a`, 0 in `b` (`a * sigmoid'(b)`).

    Args:
        axis: The axis to split (the channel axis), default -1.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor whose `axis` has an even size.

    Example:

    >>> np.asarray(GLU()(np.array([[1.0, -2.0, 3.0, 0.5, 2.0, -1.0]])))
    array([[ 0.62245935, -1.7615942 ,  0.8068243 ]], dtype=float32)

    Reference:
        Dauphin et al., "Language Modeling with Gated Convolutional Networks", ICML 2017.
    """

    def call(self, inputs):
        return activations.glu(inputs, axis=self.axis)

from relu_zoo import activations
from relu_zoo.layers.base import GatedActivation, activation


@activation("bilinear", function=activations.bilinear, family="gated",
            formula="a·b",
            parameters="axis (−1)",
            derivative_text="b in a, a in b")
class Bilinear(GatedActivation):
    """Bilinear unit: the product of the two halves of the channels (a GLU without nonlinearity).

    Formula:
    ```
    a, b = split(x, 2, axis=axis)   # first half the value, second half the gate (torch.nn.functional.glu)
    f(x) = a * b
    ```
    The size of `axis` halves; an odd size is a ValueError naming the axis and its size.
    Derivatives: `b` in `a`, `a` in `b` (0 and 0 at a = b = 0).

    Args:
        axis: The axis to split (the channel axis), default -1.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor whose `axis` has an even size.

    Example:

    >>> np.asarray(Bilinear()(np.array([[1.0, -2.0, 3.0, 0.5, 2.0, -1.0]])))
    array([[ 0.5, -4. , -3. ]], dtype=float32)

    Reference:
        Dauphin et al., "Language Modeling with Gated Convolutional Networks", ICML 2017;
        Shazeer, "GLU Variants Improve Transformer", 2020.
    """

    def call(self, inputs):
        return activations.bilinear(inputs, axis=self.axis)

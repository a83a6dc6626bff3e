from relu_zoo import activations
from relu_zoo.layers.base import GatedActivation, activation


@activation("reglu", function=activations.reglu, family="gated",
            formula="a·relu(b)",
            parameters="axis (−1)",
            derivative_text="0")
class ReGLU(GatedActivation):
    """ReLU-gated linear unit: the first half of the channels times the ReLU of the second half.

    Formula:
    ```
    a, b = split(x, 2, axis=axis)   # first half the value, second half the gate (torch.nn.functional.glu)
    f(x) = a * relu(b)
    ```
    The size of `axis` halves; an odd size is a ValueError naming the axis and its size.
    Derivative in `b` at `b = 0`: 0 (`relu'(0) = 0`, as `ReLU`); in `a`: `relu(b)`.

    Args:
        axis: The axis to split (the channel axis), default -1.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor whose `axis` has an even size.

    Example:

    >>> np.asarray(ReGLU()(np.array([[1.0, -2.0, 3.0, 0.5, 2.0, -1.0]])))
    array([[ 0.5, -4. ,  0. ]], dtype=float32)

    Reference:
        Shazeer, "GLU Variants Improve Transformer", 2020.
    """

    def call(self, inputs):
        return activations.reglu(inputs, axis=self.axis)

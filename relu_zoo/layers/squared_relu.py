from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("squared_relu", function=activations.squared_relu, family="rectifier", derivative_at_zero=0.0,
            aliases={"relu2": {}, "relu_squared": {}},
            formula="max(x, 0)²",
            torch=[("squared_relu", {}, {}, "F.relu(x) ** 2")])
class SquaredReLU(ElementwiseActivation):
    """Squared ReLU, the activation of Primer's feed-forward layers.

    Formula:
    ```
    f(x) = max(x, 0) ** 2
    ```
    Derivative `2 * max(x, 0)`: 0 at 0, +inf at +inf.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(SquaredReLU()(np.array([-2.0, 0.0, 3.0])))
    array([0., 0., 9.], dtype=float32)

    Reference:
        So, Mańke, Liu, Dai, Shazeer & Le, "Primer: Searching for Efficient Transformers for Language
        Modeling", NeurIPS 2021.
    """

    def call(self, inputs):
        return activations.squared_relu(inputs)

from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("relu6", function=activations.relu6, family="rectifier", derivative_at_zero=0.0,
            formula="min(max(x, 0), 6)")
class ReLU6(ElementwiseActivation):
    """ReLU capped at 6.

    Formula:
    ```
    f(x) = min(max(x, 0), 6)
    ```
    Derivative at 0 and at 6: 0.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(ReLU6()(np.array([-2.0, 3.0, 8.0])))
    array([0., 3., 6.], dtype=float32)

    Reference:
        Krizhevsky, "Convolutional Deep Belief Networks on CIFAR-10", 2010.
    """

    def call(self, inputs):
        return activations.relu6(inputs)

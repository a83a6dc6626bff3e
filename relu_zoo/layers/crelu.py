from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("crelu", function=activations.crelu, family="rectifier",
            formula="concat(relu(x), relu(−x)) — doubles the channel axis",
            parameters="axis (−1)",
            derivative_text="0")
class CReLU(ElementwiseActivation):
    """Concatenated ReLU: keeps both the positive and the negative phase.

    Formula:
    ```
    f(x) = concatenate([relu(x), relu(-x)], axis=axis)
    ```
    The size of `axis` doubles. Derivative at 0: 0 for both halves.

    Args:
        axis: The axis to concatenate on (the channel axis), default -1.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 1.

    Example:

    >>> np.asarray(CReLU()(np.array([[-2.0, 0.0, 3.0]])))
    array([[ 0.,  0.,  3.,  2., -0.,  0.]], dtype=float32)

    Reference:
        Shang et al., "Understanding and Improving Convolutional Neural
        Networks via Concatenated Rectified Linear Units", ICML 2016.
    """

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Argument `axis` must be an int. Received: axis={axis!r}")
        super().__init__(**kwargs)
        self.axis = axis
        # Masks do not survive a doubled channel axis unchanged; keep Keras from guessing.
        self.supports_masking = False

    def call(self, inputs):
        return activations.crelu(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"CReLU: axis {self.axis} does not exist in an input of rank {len(shape)}. "
                             f"Received: axis={self.axis}, input_shape={tuple(input_shape)}")
        if shape[self.axis] is not None:
            shape[self.axis] *= 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

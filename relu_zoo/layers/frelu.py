import keras

from relu_zoo import activations
from relu_zoo.layers.base import ContextActivation, activation, check_number


@activation("frelu", function=activations.frelu, family="rectifier", ranks=(3, 4),
            formula="max(x, T(x)), T(x) = BN(depthwise k×k convolution of x + bias): a funnel per channel",
            parameters="kernel_size k (3); T's kernel (He normal, fan out), bias (U[±k^(−d/2)]), BN (γ 1, β 0, "
                       "momentum 0.9, ε 1e-5)",
            derivative_text="1 where x > T(x), else T's slope (ties go to T)",
            torch=[("frelu", {}, {"funnel": 0.5}, "torch.maximum(x, funnel)")])
class FReLU(ContextActivation):
    """FReLU, the funnel activation: `max(x, T(x))`, T a batch-normalized depthwise convolution of each channel.

    Formula:
    ```
    f(x) = max(x, T(x)),   T(x) = batch_norm(depthwise_conv(x, kernel_size, padding="same") + bias)
    ```
    Each element is compared with its funnel condition T(x), a learned function of the `kernel_size` window around
    it in its own channel, so the activation sees its spatial context (Ma et al. call it a pixel-wise modelling
    capacity). The math of the max is `relu_zoo.activations.frelu`: ties go to T, so with T = 0 it is relu
    (derivative 0 at 0); the derivative is 1 in x where x > T(x), else T's slope. The convolution and the batch norm
    are Keras' `DepthwiseConv1D`/`DepthwiseConv2D` and `BatchNormalization`: inputs of rank 3 (sequences) or 4
    (images); Keras has no depthwise 3-D convolution, so rank 5 is refused like rank 2.

    As the authors' code (megvii-model/FunnelAct: a 3×3 depthwise convolution with bias, then batch norm; its
    ResNet initializes every convolution He normal with fan out and the bias U[±1/√fan in], batch norm γ = 1,
    β = 0; MegEngine's batch norm defaults, momentum 0.9 and ε = 1e-5). Under batch norm in training the bias has no
    effect (the batch mean removes it); `use_bias=False` drops it, as many ports do. Batch norm normalizes with the
    batch's statistics in training (`training=True`, as `fit` calls it) and with its moving averages otherwise.

    Args:
        kernel_size: The funnel's window along each position axis, an odd int (the window is centred on each
            element). Default 3.
        use_bias: Whether the depthwise convolution adds a bias. Default True.
        momentum: Momentum of the batch norm's moving averages. Default 0.9.
        epsilon: Added to the batch norm's variance. Default 1e-5.
        data_format: "channels_last" (default: Keras' `image_data_format`) or "channels_first".
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank 3 or 4 with a known channel size.
        training: Whether the batch norm uses the batch's statistics (and updates its moving averages).

    Example:

    >>> layer = FReLU(use_bias=False)
    >>> layer.build((None, 3, 1))
    >>> _ = layer.funnel.kernel.assign(np.zeros((3, 1, 1)))  # T = 0: relu
    >>> np.asarray(layer(np.array([[[-2.0], [0.5], [3.0]]])))
    array([[[0. ],
            [0.5],
            [3. ]]], dtype=float32)

    Reference:
        Ma, Zhang & Sun, "Funnel Activation for Visual Recognition", ECCV 2020.
    """

    def __init__(self, kernel_size=3, use_bias=True, momentum=0.9, epsilon=1e-5, data_format=None, **kwargs):
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or not kernel_size % 2:
            raise ValueError(f"Argument `kernel_size` must be an odd positive int (a window centred on each element). "
                             f"Received: kernel_size={kernel_size!r}")
        if not isinstance(use_bias, bool):
            raise ValueError(f"Argument `use_bias` must be a bool. Received: use_bias={use_bias!r}")
        momentum = check_number("momentum", momentum, minimum=0.0)
        if momentum >= 1:
            raise ValueError(f"Argument `momentum` must be in [0, 1). Received: momentum={momentum!r}")
        epsilon = check_number("epsilon", epsilon, minimum=0.0, inclusive=False)
        super().__init__(data_format=data_format, **kwargs)
        self.kernel_size, self.use_bias, self.momentum, self.epsilon = kernel_size, use_bias, momentum, epsilon

    def build(self, input_shape):
        self.channels(input_shape)
        rank = len(input_shape)
        fan = self.kernel_size ** (rank - 2)  # a depthwise kernel's fan in and fan out: its window
        convolution = keras.layers.DepthwiseConv1D if rank == 3 else keras.layers.DepthwiseConv2D
        self.funnel = convolution(
            self.kernel_size, padding="same", use_bias=self.use_bias, data_format=self.data_format,
            depthwise_initializer=keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"),
            bias_initializer=keras.initializers.RandomUniform(-fan ** -0.5, fan ** -0.5),
            dtype=self.dtype_policy, name="funnel")
        self.funnel_norm = keras.layers.BatchNormalization(
            axis=self.channel_axis(rank), momentum=self.momentum, epsilon=self.epsilon, dtype=self.dtype_policy,
            name="funnel_norm")
        self.funnel.build(input_shape)
        self.funnel_norm.build(input_shape)

    def call(self, inputs, training=None):
        return activations.frelu(inputs, self.funnel_norm(self.funnel(inputs), training=training))

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "use_bias": self.use_bias,
                "momentum": self.momentum, "epsilon": self.epsilon}

from keras import ops

from relu_zoo import activations
from relu_zoo._numerics import select
from relu_zoo.layers.base import ContextActivation, activation, check_dtype_range, check_int, check_number


@activation("dy_relu", function=activations.dy_relu, family="rectifier", ranks=(3, 4, 5),
            formula="max_k(a_k·x + b_k) per channel, a_k = α_k + λ_a·Δa_k, b_k = β_k + λ_b·Δb_k, Δ = 2σ(θ) − 1, "
                    "θ = FC(relu(FC(mean of the sample)))",
            parameters="pieces K (2), reduction R (4), λ_a (1), λ_b (0.5); α = (1, 0, …), β = 0",
            derivative_text="a_k of the piece that gives the max (ties go to the later piece), plus the slopes of "
                            "the coefficients",
            torch=[("dy_relu", {}, {"a": [[1.0], [-0.25]], "b": [[0.0], [0.5]]},
                    "torch.maximum(a[0] * x + b[0], a[1] * x + b[1])")])
class DyReLU(ContextActivation):
    """Dynamic ReLU (DY-ReLU-B): per channel the max of K lines whose slopes and intercepts the input sets.

    Formula:
    ```
    f(x)_c = max_k(a_k,c * x_c + b_k,c)
    a_k,c = alpha_k + lambda_a * da_k,c,   b_k,c = beta_k + lambda_b * db_k,c
    (da, db) = 2 * sigmoid(dense_2(relu(dense_1(mean(x))))) - 1
    ```
    The hyper function sees the whole sample: the mean over its positions (global average pooling), a dense layer to
    `channels // reduction` units (at least 1), relu, a dense layer to the 2·K·channels residuals, normalized to
    [-1, 1] by 2σ − 1 (computed as tanh(θ/2), which does not cancel near 0). Its residuals are ordered
    `[a_1,1..a_1,C, ..., a_K,C, b_1,1, ..., b_K,C]`, as θ(x) in the paper. The math of the max is
    `relu_zoo.activations.dy_relu`: ties go to the later piece; the derivative is the slope of the piece that gives
    the max plus, through the coefficients, the hyper function's.

    The defaults are the paper's for K = 2: alpha = (1, 0), beta = (0, 0), lambda_a = 1.0, lambda_b = 0.5, so a
    residual of 0 is relu; for other K, alpha = (1, 0, ..., 0) and beta = 0. The reduction R = 4 is that of the
    authors' DyHead code (microsoft/DynamicHead, `dyhead/dyrelu.py`, `reduction=4`, where its `(y - 0.5) * 2 *
    lambda_a` and `y - 0.5` are the same lambda_a and lambda_b = 0.5) and of Islanna/DynamicReLU, whose `init_v` and
    `lambdas` are the same alpha, beta and lambdas. That code normalizes with a hard sigmoid; this layer with the
    paper's 2σ − 1. The dense layers start as PyTorch's default (U[±1/√fan in] weights and biases), which those
    implementations keep.

    Args:
        pieces: K, the number of lines, an int >= 2. Default 2.
        reduction: R, the hyper function's reduction ratio: its hidden layer has `channels // R` units (at least 1).
            Default 4.
        lambda_a: The range of the slopes' residuals, >= 0. Default 1.0.
        lambda_b: The range of the intercepts' residuals, >= 0. Default 0.5.
        data_format: "channels_last" (default: Keras' `image_data_format`) or "channels_first".
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank 3 to 5 with a known channel size.

    Example:

    >>> layer = DyReLU()
    >>> layer.build((None, 2, 4))
    >>> for weight in layer.residuals.weights:  # residuals of 0: relu
    ...     _ = weight.assign(np.zeros(weight.shape))
    >>> np.asarray(layer(np.array([[[-2.0, -1.0, 0.5, 3.0], [1.0, -0.5, 0.0, 2.0]]])))
    array([[[0. , 0. , 0.5, 3. ],
            [1. , 0. , 0. , 2. ]]], dtype=float32)

    Reference:
        Chen, Dai, Liu, Chen, Yuan & Liu, "Dynamic ReLU", ECCV 2020.
    """

    def __init__(self, pieces=2, reduction=4, lambda_a=1.0, lambda_b=0.5, data_format=None, **kwargs):
        check_int("pieces", pieces, 2)
        check_int("reduction", reduction, 1)
        lambda_a = check_number("lambda_a", lambda_a, minimum=0.0)
        lambda_b = check_number("lambda_b", lambda_b, minimum=0.0)
        super().__init__(data_format=data_format, **kwargs)
        check_dtype_range(self, lambda_a=lambda_a, lambda_b=lambda_b)
        self.pieces, self.reduction, self.lambda_a, self.lambda_b = pieces, reduction, lambda_a, lambda_b

    def build(self, input_shape):
        channels = self.channels(input_shape)
        hidden = max(channels // self.reduction, 1)
        self.squeeze, self.residuals = self.hyper_layers(channels, hidden, 2 * self.pieces * channels, "residuals")

    def call(self, inputs):
        rank = len(inputs.shape)
        channels = inputs.shape[self.channel_axis(rank)]
        hidden = self.squeeze(ops.mean(inputs, axis=self.positions(rank)))
        # relu as a select: in a graph, TensorFlow fuses a Relu after a MatMul into a kernel that takes NaN to 0.
        theta = self.residuals(select(hidden, 0, ops.zeros_like(hidden), hidden))
        delta = ops.reshape(ops.tanh(theta / 2), (-1, 2, self.pieces, channels))  # 2σ(θ) − 1
        alpha = ops.convert_to_tensor([1.0] + [0.0] * (self.pieces - 1), delta.dtype)[:, None]
        a = alpha + ops.convert_to_tensor(self.lambda_a, delta.dtype) * delta[:, 0]  # (batch, K, channels); beta = 0
        b = ops.convert_to_tensor(self.lambda_b, delta.dtype) * delta[:, 1]
        # The K pieces lead, each one value per sample and channel that broadcasts over the positions.
        a, b = (self.per_channel(ops.transpose(t, (1, 0, 2)), rank) for t in (a, b))
        return activations.dy_relu(inputs, a, b)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces, "reduction": self.reduction,
                "lambda_a": self.lambda_a, "lambda_b": self.lambda_b}

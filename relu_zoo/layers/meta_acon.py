import keras
from keras import ops

from relu_zoo import activations
from relu_zoo.layers.base import ContextActivation, activation, check_int


@activation("meta_acon", function=activations.meta_acon, family="smooth", ranks=(3, 4, 5),
            formula="ACON-C, (p₁ − p₂)·x·sigmoid(β(p₁ − p₂)x) + p₂·x, with β = sigmoid(FC(FC(mean of the sample))) "
                    "per sample and channel",
            parameters="reduction r (16), hidden width max(r, C // r); p₁, p₂ (N(0, 1)) per channel",
            derivative_text="(p₁ + p₂)/2",
            torch=[("meta_acon", {}, {"p1": 1.0, "p2": 0.25, "beta": 1.5},
                    "(p1 - p2) * x * torch.sigmoid(beta * (p1 - p2) * x) + p2 * x")])
class MetaAconC(ContextActivation):
    """meta-ACON: ACON-C whose switching factor β each sample sets for itself, one per channel.

    Formula:
    ```
    f(x) = (p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x
    beta = sigmoid(dense_2(dense_1(mean(x))))
    ```
    As `AconC`, p1 and p2 are learned per channel (drawn from N(0, 1)); β is not learned but generated: the mean
    over the sample's positions, a dense layer to `max(reduction, channels // reduction)` units, a dense layer back
    to one value per channel (no nonlinearity between them, the paper's channel-wise design), and a sigmoid, so
    β lies in (0, 1) and the unit learns per sample whether to activate. The math is ACON-C's,
    `relu_zoo.activations.meta_acon`: derivative `(p1 + p2) / 2` at 0 (β's slope meets `x = 0` there), the
    asymptotes `p1 x`, `p2 x` at ±inf.

    As the authors' code (nmaac/acon, `acon.py`: `MetaAconC` with r = 16, a hidden width of `max(r, width // r)`,
    both 1×1 convolutions with bias at PyTorch's default initialization). That code also batch-normalizes after
    each of them; the layer follows the paper's formula without them, as Ultralytics' YOLOv5 port does (its BN on a
    batch of one pooled vector was unstable), so β depends on the sample alone, not on the rest of its batch.

    Args:
        reduction: r, the reduction ratio of the hidden layer, an int >= 1. Default 16.
        data_format: "channels_last" (default: Keras' `image_data_format`) or "channels_first".
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank 3 to 5 with a known channel size.

    Example:

    >>> layer = MetaAconC()
    >>> layer.build((None, 3, 1))
    >>> _ = layer.p1.assign([1.0]), layer.p2.assign([0.0])
    >>> for weight in layer.expand.weights:  # beta = sigmoid(0) = 0.5: x * sigmoid(x / 2)
    ...     _ = weight.assign(np.zeros(weight.shape))
    >>> np.asarray(layer(np.array([[[-2.0], [0.0], [3.0]]])))
    array([[[-0.53788286],
            [ 0.        ],
            [ 2.4527235 ]]], dtype=float32)

    Reference:
        Ma, Zhang, Liu & Sun, "Activate or Not: Learning Customized Activation", CVPR 2021.
    """

    def __init__(self, reduction=16, data_format=None, **kwargs):
        check_int("reduction", reduction, 1)
        super().__init__(data_format=data_format, **kwargs)
        self.reduction = reduction

    def build(self, input_shape):
        channels = self.channels(input_shape)
        hidden = max(self.reduction, channels // self.reduction)
        self.squeeze, self.expand = self.hyper_layers(channels, hidden, channels, "expand")
        # One initializer each: a Keras initializer draws its seed once, so a shared one would give p1 = p2.
        self.p1 = self.add_weight(name="p1", shape=(channels,), initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.p2 = self.add_weight(name="p2", shape=(channels,), initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, inputs):
        rank = len(inputs.shape)
        beta = ops.sigmoid(self.expand(self.squeeze(ops.mean(inputs, axis=self.positions(rank)))))
        p1, p2 = (self.per_channel(ops.cast(p, self.compute_dtype), rank) for p in (self.p1, self.p2))
        return activations.meta_acon(inputs, p1, p2, self.per_channel(beta, rank))

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction}

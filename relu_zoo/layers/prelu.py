import keras

from relu_zoo import activations
from relu_zoo.layers.base import (
    KerasCompatible,
    ParametricActivation,
    activation,
    serialize_weight_options,
    set_weight_options,
)


@activation("prelu", function=activations.prelu, family="rectifier", aliases={"parametric_relu": {}},
            formula="x if x > 0 else α·x, α learned",
            parameters="α per channel (0.25); `channelwise=False`, `shared_axes`, `data_format`",
            derivative_text="α")
class PReLU(KerasCompatible, ParametricActivation):
    """Parametric ReLU: the negative slope is learned.

    Formula:
    ```
    f(x) = x           if x > 0
    f(x) = alpha * x   otherwise
    ```
    Derivative at 0: `alpha` (left branch); at NaN: NaN.

    Unlike `keras.layers.PReLU` (one slope per input element, initial 0), the
    default here is the paper's: one slope per channel shared over batch and
    spatial axes, initialised to 0.25 (He et al. 2015, §2.1/§2.2). Only the
    channel size must be known, so `(None, None, None, C)` inputs build.
    Keras' layout is `shared_axes=[]`; `PReLU.from_config` reads a Keras
    PReLU's config (no `channelwise` key) with Keras' meaning, and
    `PReLU.from_keras(layer)` also copies its slopes.

    Args:
        alpha_initializer: Initial slope. Default `Constant(0.25)`.
        alpha_regularizer: Regularizer for the slopes. He et al. use none
            (weight decay on `alpha` pushes it to 0, i.e. towards ReLU).
        alpha_constraint: Constraint for the slopes.
        channelwise: One slope per channel (True, default) or a single slope
            for the whole layer (False).
        shared_axes: Keras-style alternative: one slope per input element
            except along these axes (1-based after batch, e.g. `[1, 2]`;
            `[]`: one per element, Keras' default).
        data_format: Where the channel axis is: `"channels_last"` or
            `"channels_first"`; default `keras.config.image_data_format()`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(PReLU()(np.array([[-2.0, 0.0, 3.0]])))
    array([[-0.5,  0. ,  3. ]], dtype=float32)

    Reference:
        He, Zhang, Ren & Sun, "Delving Deep into Rectifiers: Surpassing
        Human-Level Performance on ImageNet Classification", ICCV 2015.
    """

    def __init__(
        self,
        alpha_initializer=None,
        alpha_regularizer=None,
        alpha_constraint=None,
        channelwise=True,
        shared_axes=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        if alpha_initializer is None:
            alpha_initializer = keras.initializers.Constant(0.25)
        set_weight_options(self, "alpha", alpha_initializer, alpha_regularizer, alpha_constraint)

    keras_class = "PReLU"
    keras_default = "α per element (0)"

    @classmethod
    def from_config(cls, config):
        if "channelwise" not in config and config.get("shared_axes") is None:
            # keras.layers.PReLU's config: there `shared_axes=None` means one slope per element.
            config = {**config, "shared_axes": []}
        return super().from_config(config)

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        self.alpha = self._add_parameter(
            "alpha", shape, self.alpha_initializer, self.alpha_regularizer, self.alpha_constraint
        )

    def call(self, inputs):
        return activations.prelu(inputs, self._param(self.alpha))

    def get_config(self):
        return {**super().get_config(), **serialize_weight_options(self, ["alpha"])}

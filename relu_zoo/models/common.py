"""Pieces shared by the model builders: activation use sites, initializers, inputs, heads."""

import keras
from keras import ops

from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.layers.base import INITIALIZERS, RECORDS
from relu_zoo.plugins import output_shape

# The activations the models initialize with He normal (`relu_zoo.layers.base.INITIALIZERS`).
RELU_FAMILY = frozenset(record.name for record in RECORDS.values() if record.family == "rectifier")


def has_int64():
    """False on JAX unless `jax_enable_x64` is set: there int64 arrays silently become int32 (with a warning each
    time one is made)."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


def kernel_initializer_for(activation):
    """The kernel initializer for the family of `activation` (its record, `relu_zoo.layers.base.Record`):
    'he_normal' for rectifiers, 'lecun_normal' for SELU, 'glorot_uniform' otherwise."""
    return INITIALIZERS.get(ActivationSpec.parse(activation).family, "glorot_uniform")


def act(activation):
    """A NEW activation layer for one use site (never share: PReLU would tie weights)."""
    return ActivationSpec.parse(activation).build()


def width_factor(activation):
    """Output channels per input channel of `activation`: 1 (elementwise), 2 (CReLU), 0.5 (gated units)."""
    return output_shape(ActivationSpec.parse(activation).build(), (None, 8))[-1] / 8


def pre_activation_units(activation, units):
    """Width of the Dense/Conv before `activation` such that the layer after it sees `units` channels.

    Gated units (GLU, ReGLU, GEGLU, SwiGLU, bilinear) use two pre-activation channels per output channel,
    so the layer before them is built `2 * units` wide: a model's `width` stays the width every later
    layer sees, whatever the activation (the GLU layers of Dauphin et al. 2017 and Shazeer 2020 are built
    this way: a projection to twice the width, then the gate). CReLU keeps `units` and widens what follows
    (Shang et al. 2016 keep the convolution and double the channels after it), as it always has here.
    """
    factor = width_factor(activation)
    return units if factor >= 1 else int(round(units / factor))


def dropout(rate, activation):
    """Self-normalizing activations (SELU) need AlphaDropout to keep their fixed point (Klambauer et al. 2017,
    §3)."""
    if ActivationSpec.parse(activation).family == "self_normalizing":
        return keras.layers.AlphaDropout(rate)
    return keras.layers.Dropout(rate)


def model_input(spec):
    dtype = "int32" if spec.modality == "text" else "float32"
    return keras.Input(shape=spec.input_shape, dtype=dtype, name="inputs")


def classifier_head(x, spec):
    """Logits (no softmax; train with from_logits=True), float32 even under mixed precision."""
    return keras.layers.Dense(spec.num_classes, dtype="float32", name="logits")(x)


@keras.saving.register_keras_serializable(package="relu_zoo")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """`GlobalMaxPooling1D` that skips masked (padding) steps; Keras' own ignores the mask.

    A sequence with no unmasked step pools to zeros.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
        # Masked steps take the sequence's own minimum, not -inf: the same max, and tf2onnx's conversion of the
        # -inf select gave NaN for every example.
        pooled = ops.max(ops.where(mask, inputs, ops.min(inputs, axis=1, keepdims=True)), axis=1)
        return ops.where(ops.any(mask, axis=1), pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="relu_zoo")
class Mirror(keras.layers.Layer):
    """Flips images left-right (axis 2 of NHWC), always: the deterministic half of flip test-time averaging."""

    def call(self, inputs):
        return ops.flip(inputs, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="relu_zoo")
class Translate(keras.layers.Layer):
    """Shifts images (NHWC) by `(dy, dx)` pixels, filling the border by reflection (airbench's TTA translate).

    The output pixel (i, j) is the input's (i - dy, j - dx), mirrored at the edge without repeating it.
    """

    def __init__(self, dy, dx, **kwargs):
        super().__init__(**kwargs)
        self.dy, self.dx = int(dy), int(dx)

    def call(self, inputs):
        p = max(abs(self.dy), abs(self.dx))
        if p == 0:
            return inputs
        height, width = inputs.shape[1], inputs.shape[2]
        padded = ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")
        return padded[:, p - self.dy:p - self.dy + height, p - self.dx:p - self.dx + width, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dy": self.dy, "dx": self.dx}


TTA_MODES = ("flip", "flip_translate")


def flip_tta(model, name=None, mode="flip"):
    """A model averaging `model`'s outputs over views of each image (test-time augmentation).

    mode "flip": the image and its mirror image. "flip_translate" (airbench94's level 2): half the weight on
    that average, a quarter each on the same average of the image shifted by one pixel down-right and
    up-left (reflected border). Saves and loads with `safe_mode=True`; wrap the trained model (or
    `TaskData.with_preprocessing` of it) for evaluation, not for training.
    """
    if mode not in TTA_MODES:
        raise ValueError(f"`mode` must be one of {TTA_MODES}. Received: mode={mode!r}")
    inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name="inputs")

    def mirrored_mean(x, tag):
        return keras.layers.Average(name=f"tta_mean{tag}")([model(x), model(Mirror(name=f"mirror{tag}")(x))])

    outputs = mirrored_mean(inputs, "")
    if mode == "flip_translate":
        shifted = [mirrored_mean(Translate(d, d, name=f"translate_{i}")(inputs), f"_{i}")
                   for i, d in enumerate((1, -1))]
        outputs = keras.layers.Average(name="tta_views")(
            [outputs, keras.layers.Average(name="tta_translates")(shifted)])
    return keras.Model(inputs, outputs, name=name or f"{model.name}_tta")

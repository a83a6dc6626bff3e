"""`airbench`: a fast CIFAR-style conv net (after Keller Jordan's airbench94 layout), activation as a parameter.

    frozen 2x2 whitening conv (2·C·4 filters) [+ a bias that learns for the first epochs] -> act
    -> 3 x [Conv3x3 -> MaxPool2 -> BN -> act -> Conv3x3 -> BN -> act]   (widths 64, 256, 256)
    -> global max pool (airbench's MaxPool3 of the 3x3 map at 32 px) -> Dense(classes, no bias) -> x 1/9

The whitening conv is fixed: `whiten(model, images)` sets it to the ±eigenvectors of the 2x2 patch
covariance of training images (scaled by 1/sqrt(eigenvalue + eps)), so the first learned layer sees
decorrelated patches; without that call it keeps its random (He) initialization and stays frozen all the
same. airbench also learns a bias after the whitening conv for its first 3 epochs and then fixes it
(`whiten_bias_epochs`, a `WhitenBias` layer; the runner's `prepare` turns the epochs into steps). Batch norm has
no learned scale (only a shift, learning 64x faster under SGD: `ScaledShift`) and a
fast momentum (0.6), as in airbench.
"""

import keras
import numpy as np
from keras import ops

from relu_zoo.models.common import act, has_int64, kernel_initializer_for, model_input, pre_activation_units
from relu_zoo.models.registry import register_model

WHITEN_KERNEL = 2


@keras.saving.register_keras_serializable(package="relu_zoo")
class Dirac(keras.initializers.Initializer):
    """Identity in the first min(in, out) filters (a conv that passes its input through), `base` elsewhere.

    Dirac initialization shortens training of plain (non-residual) conv nets: each block starts close
    to the identity on part of its channels (airbench, `torch.nn.init.dirac_`).
    """

    def __init__(self, base="he_normal"):
        self.base = keras.initializers.get(base)

    def __call__(self, shape, dtype=None):
        kernel = self.base(shape, dtype=dtype)
        kh, kw, cin, cout = shape
        n = min(cin, cout)
        eye = np.zeros(shape, dtype="float32")
        eye[kh // 2, kw // 2, np.arange(n), np.arange(n)] = 1.0
        keep = np.ones(shape[-1], dtype="float32")
        keep[:n] = 0.0
        return kernel * ops.cast(keep, kernel.dtype) + ops.cast(eye, kernel.dtype)

    def get_config(self):
        return {"base": keras.initializers.serialize(self.base)}


def _conv(filters, init):
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=Dirac(init))


@keras.saving.register_keras_serializable(package="relu_zoo")
class ScaledShift(keras.layers.Layer):
    """A learned per-channel shift stored divided by `multiplier`: `x + multiplier * v`.

    Under SGD the shift `b = multiplier * v` then learns `multiplier**2` times faster than a plain bias
    would (the gradient of `v` is `multiplier` times larger, and each step of `v` moves `b` by `multiplier`
    times as much): airbench's `bias_scaler`, a 64x learning rate for the batch-norm shifts, with
    multiplier 8. Keras has no per-variable learning rate, so the model carries it. Under Adam the
    rescaling cancels out. Kept out of weight decay like batch-norm parameters (`no_weight_decay`).
    """

    no_weight_decay = True

    def __init__(self, multiplier=1.0, **kwargs):
        super().__init__(**kwargs)
        if not multiplier > 0:
            raise ValueError(f"`multiplier` must be > 0. Received: multiplier={multiplier}")
        self.multiplier = float(multiplier)

    def build(self, input_shape):
        self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="shift")

    def call(self, inputs):
        return inputs + ops.cast(self.multiplier * self.shift, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "multiplier": self.multiplier}


@keras.saving.register_keras_serializable(package="relu_zoo")
class WhitenBias(keras.layers.Layer):
    """A per-channel bias that learns during its first `train_steps` training calls and is fixed after them.

    airbench trains the whitening conv's bias for 3 epochs, then stops its updates (its optimizer skips the
    parameter, momentum and weight decay included). Here the layer counts its training calls and, from step
    `train_steps` on, adds a copy of the bias taken at that step instead of the bias itself: whatever the
    optimizer still does to the variable (momentum, decoupled weight decay) no longer reaches the output.
    Counter, copy and `train_steps` are non-trainable variables, so backups and checkpoints carry them.
    `epochs` is what the model asks for; `set_whiten_bias_steps` turns it into `train_steps` once the steps
    per epoch are known. Until then `train_steps` is 0: a fixed zero bias.
    """

    def __init__(self, epochs=3, **kwargs):
        super().__init__(**kwargs)
        if isinstance(epochs, bool) or not (isinstance(epochs, int) and epochs >= 1):
            raise ValueError(f"`epochs` must be an integer >= 1. Received: epochs={epochs!r}")
        self.epochs = epochs

    def build(self, input_shape):
        channels = (input_shape[-1],)
        self.bias = self.add_weight(shape=channels, initializer="zeros", name="bias")
        self.fixed = self.add_weight(shape=channels, initializer="zeros", trainable=False, name="fixed",
                                     aggregation="only_first_replica")
        # Step counts: int32 where JAX would truncate int64 to it anyway (checkpoints load either way).
        counter = "int64" if has_int64() else "int32"
        self.train_steps = self.add_weight(shape=(), initializer="zeros", dtype=counter, trainable=False,
                                           name="train_steps", aggregation="only_first_replica")
        self.steps = self.add_weight(shape=(), initializer="zeros", dtype=counter, trainable=False, name="steps",
                                     aggregation="only_first_replica")

    def call(self, inputs, training=None):
        learning = ops.less(self.steps, self.train_steps)
        # Values, not the variables: JAX no longer converts an object with `__jax_array__` while tracing, and
        # Keras' `ops.where` passes its arguments to `jnp.where` as they come.
        bias, fixed = ops.convert_to_tensor(self.bias), ops.convert_to_tensor(self.fixed)
        if training:
            # The copy follows the bias while it learns, so it holds the bias's value of the last such step.
            self.fixed.assign(ops.where(learning, bias, fixed))
            self.steps.assign_add(ops.cast(1, self.steps.dtype))
        bias = ops.where(learning, bias, ops.stop_gradient(fixed))
        return inputs + ops.cast(bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epochs": self.epochs}


def set_whiten_bias_steps(model, steps_per_epoch):
    """Lets `model`'s whitening bias (if it has one) learn for its `epochs` x `steps_per_epoch` first steps."""
    for layer in model.layers:
        if isinstance(layer, WhitenBias):
            layer.train_steps.assign(layer.epochs * int(steps_per_epoch))


def _bn(x, momentum, bias_lr_scale, epsilon):
    # scale=False: airbench keeps the BN weight at 1 (it is redundant before a rectifier-like unit).
    if bias_lr_scale == 1:
        return keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, scale=False)(x)
    x = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, center=False, scale=False)(x)
    return ScaledShift(bias_lr_scale ** 0.5)(x)


def prepare(model, data):
    """The runner's hook: the whitening conv from the training images, the bias's epochs in steps."""
    whiten_from(model, data)
    set_whiten_bias_steps(model, -(-data.num_examples["train"] // data.batch_size))


@register_model("airbench", modalities=("image",), prepare=prepare)
def airbench(spec, activation="relu", widths=(64, 256, 256), batchnorm_momentum=0.6, scaling_factor=1 / 9,
             bias_lr_scale=64.0, kernel_initializer="activation", whiten_bias_epochs=0, batchnorm_epsilon=1e-5):
    """airbench94-style conv net for 32x32 colour images; see the module docstring.

    Args:
        spec: The task's `TaskSpec` (image modality, at least 9x9 pixels).
        activation: Spec for `relu_zoo.get`, a fresh layer at each of the seven use sites.
        widths: Filters of the three conv groups; (64, 256, 256) is airbench94's, (16, 64, 64) a quarter.
        batchnorm_momentum: Keras momentum of the moving statistics (airbench's 0.6: few steps per run).
        scaling_factor: The logits are multiplied by it (airbench's 1/9 with label smoothing 0.2).
        kernel_initializer: "activation" (default): the zoo's initializer for the activation
            (`kernel_initializer_for`); "torch": PyTorch's default for conv and linear layers, uniform in
            +-1/sqrt(fan_in), the scale airbench's learning rate was tuned for (with batch norm after every
            conv the scale changes only the weights' effective step size: He's normal is 2.45x larger); or
            any Keras initializer. On CIFAR-10 (quarter width, 3 epochs, one seed) "torch" scored 62.0%
            against 63.2% (benchmarks/reports/cifar10_recipe), so the default stays.
        bias_lr_scale: Learning-rate multiplier of the batch-norm shifts under SGD (airbench's 64; see
            `ScaledShift`); 1 gives plain `BatchNormalization` shifts.
        whiten_bias_epochs: Epochs during which a bias after the whitening conv learns (airbench's 3; see
            `WhitenBias`); 0: no bias.
        batchnorm_epsilon: Batch norm's epsilon (airbench's 1e-12; Keras' and PyTorch's default 1e-5).
    """
    if isinstance(whiten_bias_epochs, bool) or not (isinstance(whiten_bias_epochs, int) and whiten_bias_epochs >= 0):
        raise ValueError(f"`whiten_bias_epochs` must be an integer >= 0. Received: whiten_bias_epochs={whiten_bias_epochs!r}")
    if not bias_lr_scale > 0:
        raise ValueError(f"`bias_lr_scale` must be > 0. Received: bias_lr_scale={bias_lr_scale}")
    if len(widths) != 3 or any(int(w) < 1 for w in widths):
        raise ValueError(f"`widths` must be three positive integers. Received: widths={widths!r}")
    if min(spec.input_shape[:2]) < 9:
        # The 2x2 whitening conv and three 2x2 pools must leave at least one pixel.
        raise ValueError(f"`airbench` needs images of at least 9x9 pixels; task {spec.name!r} has "
                         f"{spec.input_shape[:2]}. Use the `cnn` model for smaller images.")
    if kernel_initializer == "torch":
        init = keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform")
    elif kernel_initializer == "activation":
        init = kernel_initializer_for(activation)
    else:
        init = keras.initializers.get(kernel_initializer)
    channels = spec.input_shape[-1]
    inputs = model_input(spec)
    whiten_layer = keras.layers.Conv2D(
        2 * channels * WHITEN_KERNEL**2, WHITEN_KERNEL, padding="valid", use_bias=False,
        kernel_initializer=init, trainable=False, name="whiten")
    x = whiten_layer(inputs)
    if whiten_bias_epochs:
        x = WhitenBias(whiten_bias_epochs, name="whiten_bias")(x)
    x = act(activation)(x)
    for width in widths:
        # Gated units (GLU family) halve the channels: the conv before them is built twice as wide.
        x = _conv(pre_activation_units(activation, int(width)), init)(x)
        x = keras.layers.MaxPooling2D(2)(x)
        x = _bn(x, batchnorm_momentum, bias_lr_scale, batchnorm_epsilon)
        x = act(activation)(x)
        x = _conv(pre_activation_units(activation, int(width)), init)(x)
        x = _bn(x, batchnorm_momentum, bias_lr_scale, batchnorm_epsilon)
        x = act(activation)(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    x = keras.layers.Dense(spec.num_classes, use_bias=False, kernel_initializer=init, dtype="float32",
                           name="logits")(x)
    outputs = keras.layers.Rescaling(scaling_factor, dtype="float32", name="logit_scale")(x)
    return keras.Model(inputs, outputs, name=f"airbench_{spec.name}")


def whiten_from(model, data, examples=5000):
    """`whiten(model, ...)` with the first `examples` preprocessed, unaugmented training images of `data`."""
    images = next(iter(data.train_unbatched.take(examples).batch(examples).map(lambda x, y: x)))
    whiten(model, keras.ops.convert_to_numpy(images))


def whiten(model, images, eps=5e-4):
    """Sets `model`'s frozen `whiten` conv from the 2x2 patch covariance of `images` (N, H, W, C), float.

    The filters are the covariance's eigenvectors scaled by 1/sqrt(eigenvalue + eps), and their negatives
    (so a rectifier after it keeps both signs). Pass a few thousand preprocessed training images.
    """
    layer = model.get_layer("whiten")
    images = np.asarray(images, dtype="float64")
    if images.ndim != 4:
        raise ValueError(f"`images` must be a batch (N, H, W, C). Received shape {images.shape}.")
    k = WHITEN_KERNEL
    n, h, w, c = images.shape
    patches = np.stack([images[:, i:h - k + 1 + i, j:w - k + 1 + j, :] for i in range(k) for j in range(k)],
                       axis=3)  # (N, H', W', k*k, C): position-major, channel-minor, like a (k, k, C) kernel
    patches = patches.reshape(-1, k * k * c)
    cov = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    filters = eigenvectors / np.sqrt(eigenvalues + eps)  # columns: one filter per eigenvector
    filters = np.concatenate([filters, -filters], axis=1).reshape(k, k, c, 2 * k * k * c)
    layer.kernel.assign(filters.astype("float32"))

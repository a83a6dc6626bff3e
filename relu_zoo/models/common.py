"""Pieces shared by the model builders: activation use sites, initializers, inputs, heads."""

import keras

import relu_zoo
from relu_zoo.registry import name_of

# He et al. 2015 derived their initialization for rectifiers; Klambauer et al.
# 2017 require LeCun normal for SELU's self-normalization; the smooth
# activations keep Keras' Glorot default.
RELU_FAMILY = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu", "srelu", "apl", "crelu"})


def kernel_initializer_for(activation):
    """'he_normal' for the ReLU family, 'lecun_normal' for SELU, 'glorot_uniform' otherwise."""
    name = name_of(activation)
    if name in RELU_FAMILY:
        return "he_normal"
    if name == "selu":
        return "lecun_normal"
    return "glorot_uniform"


def act(activation):
    """A NEW activation layer for one use site (never share: PReLU would tie weights)."""
    return relu_zoo.get(activation)


def dropout(rate, activation):
    """SELU needs AlphaDropout to keep its fixed point (Klambauer et al. 2017, §3)."""
    if name_of(activation) == "selu":
        return keras.layers.AlphaDropout(rate)
    return keras.layers.Dropout(rate)


def model_input(spec):
    dtype = "int32" if spec.modality == "text" else "float32"
    return keras.Input(shape=spec.input_shape, dtype=dtype, name="inputs")


def classifier_head(x, spec):
    """Logits (no softmax; train with from_logits=True), float32 even under mixed precision."""
    return keras.layers.Dense(spec.num_classes, dtype="float32", name="logits")(x)

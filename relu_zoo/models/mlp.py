"""`mlp`: a multilayer perceptron for any modality."""

import keras

from relu_zoo.models.common import (act, classifier_head, dropout, kernel_initializer_for, model_input,
                                    pre_activation_units)
from relu_zoo.models.registry import register_model


def flatten_input(x, spec, embedding_dim):
    """Images flattened; text as the (masked) mean of token embeddings; speech as the time-pooled spectrogram."""
    if spec.modality == "image":
        return keras.layers.Flatten()(x)
    if spec.modality == "text":
        x = keras.layers.Embedding(spec.vocab_size, embedding_dim, mask_zero=True)(x)
        return keras.layers.GlobalAveragePooling1D()(x)
    # speech: (frames, mels, 1) -> mean of each mel band over time
    frames = keras.layers.Reshape(spec.input_shape[:1] + (-1,))(x)
    return keras.layers.GlobalAveragePooling1D()(frames)


@register_model("mlp", modalities=("image", "text", "speech"))
def mlp(spec, activation="relu", depth=2, width=256, dropout_rate=0.0, batch_norm=False, embedding_dim=64,
        kernel_initializer=None, bias_init=0.0):
    """MLP: `depth` x [Dense(width) -> (BatchNorm) -> activation -> (Dropout)] -> Dense(classes).

    Inputs: images flattened; text: Embedding(vocab, embedding_dim, mask_zero) then masked mean;
    speech: log-mel frames averaged over time.

    `kernel_initializer` (a Keras initializer name) replaces the activation's default
    (`kernel_initializer_for`) in the hidden layers; `bias_init` is the constant every hidden bias starts at
    (negative values start units off, the dying-ReLU setting of relu_zoo.studies.dying).
    """
    init = kernel_initializer or kernel_initializer_for(activation)
    inputs = model_input(spec)
    x = flatten_input(inputs, spec, embedding_dim)
    for _ in range(depth):
        # Gated activations halve the width: their Dense is 2 * width (models.common.pre_activation_units).
        x = keras.layers.Dense(pre_activation_units(activation, width), kernel_initializer=init,
                               bias_initializer=keras.initializers.Constant(float(bias_init)),
                               use_bias=not batch_norm)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = act(activation)(x)
        if dropout_rate:
            x = dropout(dropout_rate, activation)(x)
    return keras.Model(inputs, classifier_head(x, spec), name=f"mlp_{spec.name}")

"""`wavecnn`: an M5-style 1-D CNN (Dai et al. 2017) that reads raw waveforms (or log-mel frames)."""

import keras

from relu_zoo.models.common import (act, classifier_head, dropout, kernel_initializer_for, model_input,
                                    pre_activation_units)
from relu_zoo.models.registry import register_model


@register_model("wavecnn", modalities=("speech",))
def wavecnn(spec, activation="relu", filters=(64, 64, 128, 256), first_kernel=80, first_stride=4, kernel_size=3,
            pool_size=4, dropout_rate=0.25):
    """M5 (Dai et al. 2017, "Very Deep Convolutional Neural Networks for Raw Waveforms"): 1-D convolutions
    over the waveform, each followed by BN, the activation and max pooling; global average pool; logits.

    Waveform input `(samples, 1)` (a speech task with `features="waveform"`): Conv1D(filters[0],
    `first_kernel`, stride `first_stride`) — 80 samples is 10 ms at 8 kHz, M5's receptive field at 16 kHz
    was 80 samples too — then Conv1D(f, `kernel_size`) for the other filters, each block followed by
    BN(momentum 0.9) -> activation -> MaxPool(`pool_size`). M5 uses (128, 128, 256, 512) filters; the
    default here is half of that (spoken_digit's 2,025 training clips at a quarter of the cost).
    Log-mel input `(frames, bins, 1)`: the bins are the channels of a 1-D sequence of frames, every
    convolution has `kernel_size` and stride 1, and pooling halves the frames (pool 4 would leave none
    of spoken_digit's 98 frames after four blocks).
    Then global average pooling -> dropout -> Dense(classes).
    """
    if len(filters) < 1 or not all(isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in filters):
        raise ValueError(f"Argument `filters` must be a non-empty sequence of positive ints. Received: filters={filters!r}")
    init = kernel_initializer_for(activation)
    inputs = model_input(spec)
    if len(spec.input_shape) == 2:  # (samples, 1): a waveform
        x, pool = inputs, pool_size
        first = dict(kernel_size=first_kernel, strides=first_stride)
    elif len(spec.input_shape) == 3:  # (frames, bins, 1): log-mels or MFCCs
        x = keras.layers.Reshape((spec.input_shape[0], -1))(inputs)
        pool, first = 2, dict(kernel_size=kernel_size, strides=1)
    else:
        raise ValueError(f"Model 'wavecnn' reads waveforms (samples, 1) or spectrograms (frames, bins, 1). "
                         f"Received: input_shape={spec.input_shape} for task {spec.name!r}")
    for i, f in enumerate(filters):
        conv = first if i == 0 else dict(kernel_size=kernel_size, strides=1)
        # `f` channels after the activation: gated activations get a conv twice as wide.
        x = keras.layers.Conv1D(pre_activation_units(activation, f), padding="same", use_bias=False,
                                kernel_initializer=init, **conv)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = act(activation)(x)
        x = keras.layers.MaxPooling1D(pool, padding="same")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    if dropout_rate:
        x = dropout(dropout_rate, activation)(x)
    return keras.Model(inputs, classifier_head(x, spec), name=f"wavecnn_{spec.name}")

"""Recurrent models: `rnn` (gated LSTM/GRU) and `relu_rnn` (the activation IS the recurrence)."""

import keras
from keras import ops

import relu_zoo
from relu_zoo.models.common import (MaskedGlobalMaxPooling1D, act, classifier_head, kernel_initializer_for,
                                    model_input, pre_activation_units)
from relu_zoo.models.registry import register_model
from relu_zoo.plugins import output_shape


@keras.saving.register_keras_serializable(package="relu_zoo")
class ReLURNNCell(keras.layers.Layer):
    """Elman cell whose nonlinearity is a relu_zoo activation: `h_t = act(W x_t + U h_{t-1} + b)`.

    The cell owns its activation layer, so learnable activations (PReLU,
    SReLU, ...) are trained and saved with the model; RReLU gets `training`.

    With `irnn=True` (Le, Jaitly & Hinton 2015, "A Simple Way to Initialize
    Recurrent Networks of Rectified Linear Units") `U` starts as the identity
    (scaled by `irnn_scale`), `b` at 0 and `W` ~ N(0, 0.001). Unbounded
    activations can blow up through time: train with gradient clipping
    (e.g. `optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0)`; Le et al.
    clip at 1 to 10) and a modest learning rate.

    Args:
        units: Size of the hidden state.
        activation: Activation spec for `relu_zoo.get`, or a layer.
        irnn: Identity recurrent initialization. Default False (orthogonal).
        irnn_scale: Scale of the identity (Le et al. use 1.0). Default 1.0.
        kernel_initializer: Input kernel initializer (default by family:
            He for the ReLU family), ignored when `irnn=True`.
    """

    def __init__(self, units, activation="relu", irnn=False, irnn_scale=1.0, kernel_initializer=None, **kwargs):
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"Argument `units` must be a positive int. Received: units={units!r}")
        super().__init__(**kwargs)
        self.units = units
        self.irnn = bool(irnn)
        self.irnn_scale = float(irnn_scale)
        self.state_size = units
        self.output_size = units
        if isinstance(activation, dict) and "class_name" in activation:
            activation = keras.layers.deserialize(activation)
        self.activation = relu_zoo.get(activation)
        if self.irnn:
            kernel_initializer = keras.initializers.RandomNormal(stddev=0.001)
        elif kernel_initializer is None:
            kernel_initializer = kernel_initializer_for(self.activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # An activation that widens its input (CReLU doubles it) gets a narrower pre-activation, so
        # that the state keeps `units` entries.
        widening = output_shape(self.activation, (None, units))[-1] / units
        self.pre_units = int(units / widening)
        if self.pre_units * widening != units:
            raise ValueError(f"Activation {type(self.activation).__name__} multiplies the width by {widening}; "
                             f"`units` must be divisible by it. Received: units={units}")

    def build(self, input_shape):
        recurrent_init = (
            keras.initializers.Identity(gain=self.irnn_scale) if self.irnn else keras.initializers.Orthogonal()
        )
        self.kernel = self.add_weight(shape=(input_shape[-1], self.pre_units),
                                      initializer=self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.pre_units), initializer=recurrent_init,
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.pre_units,), initializer="zeros", name="bias")
        self.activation.build((input_shape[0], self.pre_units))

    def call(self, inputs, states, training=False):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(previous, self.recurrent_kernel) + self.bias
        h = self.activation(z, training=training)
        return h, [h]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.layers.serialize(self.activation),
            "irnn": self.irnn,
            "irnn_scale": self.irnn_scale,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def sequence_input(inputs, spec, embedding_dim):
    """Token ids -> embeddings (masked padding); spectrogram (frames, mels, 1) -> normalized frames x mels."""
    if spec.modality == "text":
        return keras.layers.Embedding(spec.vocab_size, embedding_dim, mask_zero=True)(inputs)
    frames = keras.layers.Reshape(spec.input_shape[:1] + (-1,))(inputs)
    # Log-mel values sit around -14 (silence) to +5; unnormalized, an identity-initialized ReLU recurrence
    # sums them over ~100 frames and explodes. Per-band normalization first.
    return keras.layers.BatchNormalization(momentum=0.9)(frames)


POOLING = ("max_avg", "last")


@register_model("rnn", modalities=("text", "speech"))
def rnn(spec, activation="relu", cell="gru", units=32, bidirectional=True, embedding_dim=64, dense_units=64,
        dropout_rate=0.5, spatial_dropout=0.25, pooling="max_avg"):
    """Embedding/frames -> (Bidirectional) GRU or LSTM -> pooling -> Dense -> activation -> dropout -> logits.

    The gates keep their sigmoid/tanh (that is what makes them gates); the
    activation under comparison is the dense head's.

    Args:
        cell: `"gru"` (default) or `"lstm"`.
        units: Units per direction.
        embedding_dim: Text only: embedding size.
        spatial_dropout: Text only: `SpatialDropout1D` rate on the embeddings (drops whole embedding
            channels; 0 to disable).
        pooling: `"max_avg"`: the max and the mean over the (unmasked) steps' outputs, concatenated;
            `"last"`: the final state of each direction.
        dense_units, dropout_rate: The head.

    Defaults: on imdb_reviews (22,500 training reviews, the last 256 words of each) this reaches 88.3% test
    accuracy after 2 epochs at batch 64, Adam 2e-3; a BiLSTM(64) read out at its last state, with
    128-dim embeddings and no embedding dropout, overfit to 86% at 2.5x the time per epoch.
    """
    if cell not in ("lstm", "gru"):
        raise ValueError(f"Argument `cell` must be 'lstm' or 'gru'. Received: cell={cell!r}")
    if pooling not in POOLING:
        raise ValueError(f"Argument `pooling` must be one of {POOLING}. Received: pooling={pooling!r}")
    inputs = model_input(spec)
    x = sequence_input(inputs, spec, embedding_dim)
    if spec.modality == "text" and spatial_dropout:
        x = keras.layers.SpatialDropout1D(spatial_dropout)(x)
    layer = (keras.layers.LSTM if cell == "lstm" else keras.layers.GRU)(units, return_sequences=pooling != "last")
    x = keras.layers.Bidirectional(layer)(x) if bidirectional else layer(x)
    if pooling == "max_avg":
        x = keras.layers.Concatenate()([MaskedGlobalMaxPooling1D()(x), keras.layers.GlobalAveragePooling1D()(x)])
    x = keras.layers.Dense(pre_activation_units(activation, dense_units),
                           kernel_initializer=kernel_initializer_for(activation))(x)
    x = act(activation)(x)
    if dropout_rate:
        x = keras.layers.Dropout(dropout_rate)(x)
    return keras.Model(inputs, classifier_head(x, spec), name=f"rnn_{spec.name}")


@register_model("relu_rnn", modalities=("text", "speech"), clipnorm=1.0)  # Le et al. 2015 clip IRNNs
def relu_rnn(spec, activation="relu", units=128, irnn=True, irnn_scale=1.0, embedding_dim=64):
    """Embedding/frames -> RNN(ReLURNNCell(units, activation)) -> logits; IRNN init by default.

    Train with gradient clipping (`clipnorm=1.0`); see `ReLURNNCell`.
    """
    inputs = model_input(spec)
    x = sequence_input(inputs, spec, embedding_dim)
    x = keras.layers.RNN(ReLURNNCell(units, activation=activation, irnn=irnn, irnn_scale=irnn_scale))(x)
    return keras.Model(inputs, classifier_head(x, spec), name=f"relu_rnn_{spec.name}")

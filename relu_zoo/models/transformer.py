"""`transformer`: a pre-norm Transformer encoder for text, whose feed-forward activation is the one compared."""

import keras
from keras import ops

from relu_zoo.models.common import act, classifier_head, kernel_initializer_for, model_input, width_factor
from relu_zoo.models.registry import register_model


@keras.saving.register_keras_serializable(package="relu_zoo")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each position (0, 1, ...) to a `(batch, steps, dim)` sequence.

    Args:
        max_length: The most steps an input may have.
        **kwargs: Base layer keyword arguments.
    """

    def __init__(self, max_length, **kwargs):
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"Argument `max_length` must be a positive int. Received: max_length={max_length!r}")
        super().__init__(**kwargs)
        self.max_length = max_length
        self.supports_masking = True

    def build(self, input_shape):
        # N(0, 0.02): BERT's and GPT-2's initialization of position embeddings.
        self.embeddings = self.add_weight(shape=(self.max_length, input_shape[-1]), name="embeddings",
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        return inputs + ops.cast(self.embeddings[:steps], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package="relu_zoo")
class PaddingMask(keras.layers.Layer):
    """Token ids `(batch, steps)` -> boolean `(batch, steps)`, True where the id is not the padding id 0."""

    def call(self, inputs):
        return ops.not_equal(inputs, 0)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="bool")


@keras.saving.register_keras_serializable(package="relu_zoo")
class AttentionMask(keras.layers.Layer):
    """Padding mask `(batch, steps)` -> attention mask `(batch, steps, steps)`: every query attends to the
    non-padding keys only. (Padding queries get outputs too; the pooling ignores them.)"""

    def call(self, mask):
        mask = ops.cast(mask, "bool")
        return ops.logical_and(ops.expand_dims(mask, 1), ops.ones_like(ops.expand_dims(mask, 2)))

    def compute_output_spec(self, mask):
        return keras.KerasTensor((mask.shape[0], mask.shape[1], mask.shape[1]), dtype="bool")


def ffn_inner_units(activation, ffn_dim):
    """Width of the first FFN Dense so that the block has the parameters of a plain `ffn_dim` FFN.

    A plain FFN has `2 * dim * ffn_dim` weights. With an activation that turns `p` channels into
    `factor * p` the block has `dim * p * (1 + factor)`, so `p = 2 * ffn_dim / (1 + factor)`: `ffn_dim` for
    elementwise activations, `4/3 * ffn_dim` for gated ones (a hidden width of 2/3 `ffn_dim` after the
    gate: Shazeer 2020, §2, d_ff 3072 -> 2048), `2/3 * ffn_dim` for CReLU. Gated widths are rounded to even.
    """
    factor = width_factor(activation)
    step = 2 if factor < 1 else 1
    return max(step, step * round(2 * ffn_dim / (1 + factor) / step))


@register_model("transformer", modalities=("text",))
def transformer(spec, activation="relu", depth=2, dim=64, heads=4, ffn_dim=128, dropout_rate=0.1,
                attention_dropout=0.1, embedding_dropout=0.1):
    """Pre-norm Transformer encoder (Vaswani et al. 2017; pre-norm as Xiong et al. 2020) for text.

    Token embedding (`dim`) + learned position embedding -> dropout -> `depth` x [x + MHA(LN(x)),
    x + FFN(LN(x))] -> LN -> mean over the non-padding tokens -> dropout -> logits. Padding (id 0) is
    masked in attention and in the pooling. FFN: Dense(p) -> activation -> dropout -> Dense(dim), with `p`
    from `ffn_inner_units`: the same parameter count for every activation (for GLU variants a hidden
    width of 2/3 `ffn_dim`, as Shazeer 2020).

    Args:
        depth: Encoder blocks.
        dim: Model width (embedding size); must be divisible by `heads`.
        heads: Attention heads (`keras.layers.MultiHeadAttention`, key size `dim // heads`).
        ffn_dim: Hidden width of the plain feed-forward block.
        dropout_rate: Dropout after attention, inside and after the FFN, and before the logits.
        attention_dropout: Dropout on the attention weights.
        embedding_dropout: Dropout on the summed embeddings.
    """
    for name, value in (("depth", depth), ("dim", dim), ("heads", heads), ("ffn_dim", ffn_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    if dim % heads:
        raise ValueError(f"Argument `dim` must be divisible by `heads`. Received: dim={dim}, heads={heads}")
    init = kernel_initializer_for(activation)
    inner = ffn_inner_units(activation, ffn_dim)
    inputs = model_input(spec)
    padding = PaddingMask(name="padding_mask")(inputs)
    attention_mask = AttentionMask(name="attention_mask")(padding)
    x = keras.layers.Embedding(spec.vocab_size, dim, name="token_embedding")(inputs)
    x = PositionEmbedding(spec.input_shape[0], name="position_embedding")(x)
    x = keras.layers.Dropout(embedding_dropout)(x)
    for i in range(depth):
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_attention_norm")(x)
        h = keras.layers.MultiHeadAttention(heads, dim // heads, dropout=attention_dropout,
                                            name=f"block{i}_attention")(h, h, attention_mask=attention_mask)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout_rate)(h)])
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_ffn_norm")(x)
        h = keras.layers.Dense(inner, kernel_initializer=init, name=f"block{i}_ffn_in")(h)
        h = act(activation)(h)
        h = keras.layers.Dropout(dropout_rate)(h)
        h = keras.layers.Dense(dim, name=f"block{i}_ffn_out")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout_rate)(h)])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="masked_mean")(x, mask=padding)
    x = keras.layers.Dropout(dropout_rate)(x)
    return keras.Model(inputs, classifier_head(x, spec), name=f"transformer_{spec.name.replace('/', '_')}")

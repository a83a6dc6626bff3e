"""`decoder`: a decoder-only Transformer language model (nanoGPT-like) whose feed-forward activation is the one
compared."""

import math

import keras

from relu_zoo.models.common import act
from relu_zoo.models.registry import register_model
from relu_zoo.models.transformer import PositionEmbedding, ffn_inner_units


@register_model("decoder", modalities=("language",), causal=True)
def decoder(spec, activation="relu", depth=4, dim=128, heads=4, ffn_dim=None, dropout_rate=0.0):
    """Decoder-only Transformer (GPT-2 as nanoGPT writes it: Radford et al. 2019, Karpathy 2022).

    Token embedding + learned position embedding -> dropout -> `depth` x [x + causal MHA(LN(x)),
    x + FFN(LN(x))] -> LN -> next-token logits at every position. FFN: Dense(p) -> activation -> Dense(dim),
    with `p` from `ffn_inner_units`: every activation gets the parameters of a plain FFN of width `ffn_dim`, so
    GLU variants have a hidden width of 2/3 `ffn_dim` after the gate (Shazeer 2020, §2).

    Every activation starts from the same initialization, GPT-2's: N(0, 0.02) weights, the two projections
    into the residual stream scaled by 1/sqrt(2 depth) so that the stream's variance does not grow with depth
    (Radford et al. 2019, §2.3). Shazeer 2020 likewise changed only the FFN between variants; a per-family
    initializer would change two things at once.

    Args:
        depth: Decoder blocks.
        dim: Model width; must be divisible by `heads`.
        heads: Attention heads (`keras.layers.MultiHeadAttention` with a causal mask, key size `dim // heads`).
        ffn_dim: Hidden width of the plain feed-forward block; default `4 * dim` (GPT-2).
        dropout_rate: Dropout on the embeddings, the attention weights, and each block's outputs into the
            residual stream; 0 by default (nanoGPT's small-data setting; one pass over 100 MB hardly overfits).
    """
    ffn_dim = 4 * dim if ffn_dim is None else ffn_dim
    for name, value in (("depth", depth), ("dim", dim), ("heads", heads), ("ffn_dim", ffn_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    if dim % heads:
        raise ValueError(f"Argument `dim` must be divisible by `heads`. Received: dim={dim}, heads={heads}")
    if not (isinstance(dropout_rate, (int, float)) and 0 <= dropout_rate < 1):
        raise ValueError(f"Argument `dropout_rate` must be in [0, 1). Received: dropout_rate={dropout_rate!r}")
    init = keras.initializers.RandomNormal(stddev=0.02)
    residual_init = keras.initializers.RandomNormal(stddev=0.02 / math.sqrt(2 * depth))
    inner = ffn_inner_units(activation, ffn_dim)
    inputs = keras.Input(shape=spec.input_shape, dtype="int32", name="inputs")
    x = keras.layers.Embedding(spec.vocab_size, dim, embeddings_initializer=init, name="token_embedding")(inputs)
    x = PositionEmbedding(spec.input_shape[0], name="position_embedding")(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    for i in range(depth):
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_attention_norm")(x)
        attention = keras.layers.MultiHeadAttention(
            heads, dim // heads, dropout=dropout_rate, kernel_initializer=init, name=f"block{i}_attention")
        # The output projection writes into the residual stream: GPT-2's scaled initialization.
        h = attention(h, h, use_causal_mask=True)
        output_kernel = next(w for w in attention.weights if w.path.endswith("attention_output/kernel"))
        output_kernel.assign(residual_init(output_kernel.shape))
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout_rate)(h)])
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ffn_norm")(x)
        h = keras.layers.Dense(inner, kernel_initializer=init, name=f"block{i}_ffn_in")(h)
        h = act(activation)(h)
        h = keras.layers.Dense(dim, kernel_initializer=residual_init, name=f"block{i}_ffn_out")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout_rate)(h)])
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    logits = keras.layers.Dense(spec.num_classes, kernel_initializer=init, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=f"decoder_{spec.name.replace('/', '_')}")

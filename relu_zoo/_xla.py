"""TensorFlow-only kernels of the learnable and random ReLUs: XLA-fused element-wise passes and a Philox draw
of two 16-bit slopes per 32-bit word. `relu_zoo.activations` uses them when `fusion_enabled()`; on other backends
it computes the same math with `keras.ops`.
"""

import math
import os

import keras

_FUSED = {}


def fusion_enabled():
    """Whether the learnable and random activations (PReLU, RReLU, SReLU, APL, PELU) run their element-wise math
    as XLA clusters (TensorFlow only).

    On by default; `RELU_ZOO_XLA=0` turns it off (for a TensorFlow build without XLA, or to compare).
    """
    return keras.backend.backend() == "tensorflow" and os.environ.get("RELU_ZOO_XLA", "1") != "0"


def fused(fn):
    """`fn` compiled as one XLA cluster on TensorFlow (each pass of `fn`'s ops fused into one), else `fn`.

    In TensorFlow's graph mode every element-wise op is its own pass over memory: PReLU's forward pass was a
    compare, two selects and a multiply over a (256, 32, 32, 64) tensor, its backward pass five more, where
    ReLU is one kernel each way. Compiled with XLA, the forward pass is one loop and the backward pass one
    loop plus the slope's reduction (PReLU 1.98x -> 1.25x `tf.nn.relu` forward + backward,
    benchmarks/layers.py). The model around it stays in TensorFlow's graph mode (Keras turns XLA off on CPUs
    for the whole model), and the clusters nest inside a model compiled with `jit_compile=True` too. Same
    math as `fn` (the slope's sum may be added in another order).

    Eagerly `fn` runs as it is: an eager call (a layer called on a tensor, the diagnostics' probe pass, the
    report's plots) runs each shape about once, so a cluster compiled per shape costs more than it saves, and
    every new shape would retrace the one shared `tf.function` (a model's layers have as many shapes as
    layers), which TensorFlow reports on stderr once 5 of 8 eager calls have traced. Traced inside a graph
    (`fit`'s step) each shape is traced once per step function and reported nowhere.
    """
    if not fusion_enabled():
        return fn
    import tensorflow as tf

    if tf.executing_eagerly():
        return fn
    if fn not in _FUSED:
        from relu_zoo import _logs

        _logs.quiet_xla_start()
        _FUSED[fn] = tf.function(fn, jit_compile=True, autograph=False)
    return _FUSED[fn]


def broadcast_axes(rank, shape):
    """The axes of a rank-`rank` tensor along which one of (static) `shape` was broadcast to it."""
    lead = rank - len(shape)
    return [*range(lead), *(lead + i for i, d in enumerate(shape) if d == 1)]


def sum_leading(g, shape):
    """`g` summed to the (static) `shape` it was broadcast from, as a matrix-vector product where the summed
    axes lead (alpha of shape `(C,)` or `(1, 1, C)` against `(N, H, W, C)`); else `reduce_sum`.

    TensorFlow's CPU matrix-vector kernel sums a `(N*H*W, C)` matrix over its rows ~3x faster than either
    TensorFlow's or XLA's column reduction; the sum is taken in another order, so it may differ in the last bits.
    """
    import tensorflow as tf

    shape = tuple(int(d) for d in shape)
    axes = broadcast_axes(len(g.shape), shape)
    if not axes:
        return g
    if len(axes) < len(g.shape) and axes == list(range(len(axes))):
        matrix = tf.reshape(g, [-1, math.prod(shape)])
        ones = tf.ones(tf.shape(matrix)[:1], g.dtype)
        return tf.reshape(tf.linalg.matvec(matrix, ones, transpose_a=True), shape)
    return tf.reshape(tf.reduce_sum(g, axis=axes), shape)


def philox_bits(shape, seed):
    """One 32-bit Philox output per two elements of `shape`, from a `SeedGenerator` (TensorFlow)."""
    import tensorflow as tf

    # As keras.random does on TensorFlow: stateless ops want an int32 seed pair.
    seed = tf.cast(tf.math.floormod(seed.next(), tf.int32.max - 1), tf.int32)
    size = tf.reduce_prod(tf.cast(shape, tf.int32))
    return tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)


def slopes_from_bits(bits, shape, lower, upper, dtype):
    """Two slopes per 32-bit word: the midpoints of a 65,536-cell grid on [lower, upper] (why: the docstring of
    `relu_zoo._slopes.uniform_slopes`)."""
    import tensorflow as tf

    size = tf.reduce_prod(tf.cast(shape, tf.int32))
    halves = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
    cells = (upper - lower) / 65536.0
    a = tf.cast(halves, tf.float32) * cells + (lower + 0.5 * cells)
    return tf.cast(tf.reshape(a, shape), dtype)

"""TensorFlow-only kernels of the activations: XLA-fused element-wise passes (each way one loop over memory), and the
random bits of RReLU's slopes (a counter-based hash computed inside those loops, or a Philox draw of two 16-bit
slopes per 32-bit word where unfused). `relu_zoo.activations` uses them when `fusion_enabled()`; on other backends it
computes the same math with `keras.ops`.
"""

import contextlib
import math
import os

import keras

_FUSED = {}


def fusion_enabled():
    """Whether the activations run their element-wise math as XLA clusters inside TensorFlow graphs (TensorFlow
    only): the learnable and random ones (PReLU, RReLU, SReLU, APL, PELU) and, through `fused_elementwise`, the
    fixed ones (ReLU's backward pass, ELU, GELU, SiLU, Mish, Softplus, ...).

    On by default; `RELU_ZOO_XLA=0` turns it off (for a TensorFlow build without XLA, or to compare), and so does
    `unfused()` while a graph is traced for export.
    """
    return (keras.backend.backend() == "tensorflow" and os.environ.get("RELU_ZOO_XLA", "1") != "0"
            and not _UNFUSED)


_UNFUSED = []


@contextlib.contextmanager
def unfused():
    """Within this context the activations trace their plain ops, no XLA clusters: for graphs traced to be
    exported (TFLite, ONNX and OpenVINO run no XLA; their converters match the plain ops)."""
    _UNFUSED.append(True)
    try:
        yield
    finally:
        _UNFUSED.pop()


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


def fused_elementwise(fn, x, *params, forward=None, grad=None, grad_of_output=False):
    """`fn(x, *params)` for an element-wise activation, each way one pass over memory in a TensorFlow graph.

    In TensorFlow's graph mode every op is its own pass: an activation that keeps its edge rules (a `where` for
    NaN, the limits at ±inf, the derivative chosen at 0) costs several passes each way where Keras' fused kernel
    costs one. Here the forward pass is one XLA loop (`fused`), and so is the backward pass: `fn` differentiated
    inside a second cluster that recomputes the forward's intermediates from `x` rather than keeping them (cheap
    next to writing and reading them back), so its own custom gradients, and with them every rule, are those of
    `fn`.

    `forward(x, *params)` replaces the fused forward pass with a TensorFlow kernel computing the same values
    (`tf.nn.relu`, `relu6`, `leaky_relu`): grappler fuses a preceding conv + bias into it, which it cannot do
    across an XLA cluster. `grad(v, dy, *params)` replaces differentiating `fn`, with `v` its output where
    `grad_of_output` (then the backward pass needs neither `x` nor the bias output the conv fusion removes).
    `params` are Python numbers (each value traces the clusters once).

    Elsewhere (eagerly, fusion off, other backends) it is `fn(x, *params)` itself.
    """
    if not fusion_enabled():  # first: on other backends, TensorFlow is not imported
        return fn(x, *params)
    import tensorflow as tf

    if tf.executing_eagerly():
        return fn(x, *params)
    backward = fused(grad) if grad is not None else fused(_differentiated(fn))

    @tf.custom_gradient
    def f(x):
        y = forward(x, *params) if forward is not None else fused(fn)(x, *params)

        def gradient(dy):
            return backward(y if grad_of_output else x, dy, *params)

        return y, gradient

    return f(tf.convert_to_tensor(x))


def _differentiated(fn):
    """`(x, dy, *params) -> dy · fn'(x)`, one function per `fn` (so `fused` compiles it once per shape)."""
    key = ("gradient", fn)
    if key not in _GRADIENTS:
        import tensorflow as tf

        def gradient(x, dy, *params):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x, *params)
            return tape.gradient(y, x, output_gradients=dy)

        _GRADIENTS[key] = gradient
    return _GRADIENTS[key]


_GRADIENTS = {}


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


# splitmix64 (Steele, Lea & Flood 2014): its increment and output mix, as in Vigna's reference code.
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _splitmix64(z):
    import tensorflow as tf

    def mix(z, shift, factor):
        return tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, tf.constant(shift, tf.uint64))) * tf.constant(
            factor, tf.uint64)

    z = mix(mix(z, 30, _MIX1), 27, _MIX2)
    return tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, tf.constant(31, tf.uint64)))


def seed_key(seed):
    """A uint64 key from a `SeedGenerator` (advancing it as `keras.random` does), mixed so that the generator's
    consecutive states give unrelated keys."""
    import tensorflow as tf

    state = tf.cast(seed.next(), tf.int64)
    high, low = (tf.cast(tf.bitwise.bitwise_and(s, 0xFFFFFFFF), tf.uint64) for s in (state[0], state[1]))
    return _splitmix64(tf.bitwise.bitwise_or(tf.bitwise.left_shift(high, tf.constant(32, tf.uint64)), low))


def counter_cells(x, key):
    """16 random bits per element of `x` (an int32 in [0, 65536)): the top bits of splitmix64 at the element's
    index, offset by `key`.

    A counter-based generator, like Philox, but cheap enough to compute where the bits are used: inside an XLA loop
    it costs a few integer multiplies per element and no memory, where TensorFlow's Philox kernel writes the draw
    (half a float32 tensor) and the loops read it back, each way (RReLU's training step 1.8x -> 1.0x ReLU's,
    benchmarks/layers.py). splitmix64 passes BigCrush; streams of two keys overlap only where their offsets
    (`key / increment`, 64-bit) lie within the tensor's size of each other.
    """
    import tensorflow as tf

    index = tf.cast(tf.range(tf.size(x, out_type=tf.int64), dtype=tf.int64), tf.uint64)
    z = _splitmix64(index * tf.constant(_GOLDEN, tf.uint64) + key)
    return tf.reshape(tf.cast(tf.bitwise.right_shift(z, tf.constant(48, tf.uint64)), tf.int32), tf.shape(x))


def cells_from_bits(bits, shape):
    """Two 16-bit grid cells per 32-bit word (`relu_zoo._slopes.slopes_from_cells` makes them slopes)."""
    import tensorflow as tf

    size = tf.reduce_prod(tf.cast(shape, tf.int32))
    return tf.reshape(tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size], shape)

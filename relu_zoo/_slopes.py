"""The `x * slope` kernels of PReLU and RReLU for training: hand-written backward passes, fused by XLA where
enabled, and RReLU's cheap random slopes."""

import keras
from keras import ops

from relu_zoo._numerics import select
from relu_zoo._xla import broadcast_axes, fused, fusion_enabled, philox_bits, slopes_from_bits, sum_leading


def _prelu_slope(x, alpha):
    return select(x, 0, alpha, ops.ones_like(alpha))


def _prelu_forward(x, alpha):
    return x * _prelu_slope(x, alpha)


def _prelu_backward(x, alpha, dy, slope=None):
    dx, product = _prelu_terms(x, alpha, dy, slope)
    return dx, _sum_to_shape(product, ops.shape(alpha))


def _prelu_terms(x, alpha, dy, slope=None):
    """The element-wise part of PReLU's backward pass: `dy * s` for x and `dy * min(x, 0)`, which summed over
    the shared axes is alpha's gradient."""
    slope = _prelu_slope(x, alpha) if slope is None else slope
    negative = ops.where(x > 0, ops.zeros_like(x), x)  # NaN stays NaN: alpha's gradient shows it too
    return dy * slope, dy * negative


@ops.custom_gradient
def prelu_kernel(x, alpha):
    # `f(x) = x * s` with the slope `s = 1 if x > 0 else alpha` (NaN at NaN): the backward pass is one multiply
    # for x (`dy * s`) and one multiply-and-sum for alpha, where differentiating `where(x > 0, x, alpha * x)`
    # costs two selects over zero tensors and more multiplies; on the mnist `cnn` training step that made
    # PReLU 2.0x slower than ReLU instead of ~1.1x (README "Training speed and time to accuracy").
    if fusion_enabled():
        # One XLA loop each way, the backward one writing both element-wise terms; the slope is recomputed
        # from x rather than kept. Alpha's gradient is then summed by a matrix-vector product, which
        # TensorFlow's CPU kernels do ~3x faster than either its own or XLA's column reduction (PReLU
        # forward + backward 1.8x -> 1.3x `tf.nn.relu`, benchmarks/backends.py).
        y, slope = fused(_prelu_forward)(x, alpha), None

        def backward(x, alpha, dy):
            dx, product = fused(_prelu_terms)(x, alpha, dy)
            return dx, sum_leading(product, ops.shape(alpha))
    elif keras.backend.backend() == "jax":
        # Under `jax.jit` the whole pass fuses anyway, so recomputing the slope is free and keeping it costs a
        # tensor written and read again (1.9x -> 1.4-1.8x `jax.nn.relu` forward + backward in repeated runs of
        # benchmarks/backends.py; XLA's column reduction for alpha's sum is the rest, docs/howto/benchmarks.md).
        y, slope, backward = _prelu_forward(x, alpha), None, _prelu_backward
    else:
        # Graph-mode TensorFlow without XLA runs each op as a pass over memory: keeping the slope saves two.
        slope = _prelu_slope(x, alpha)
        y, backward = x * slope, _prelu_backward

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        return backward(x, alpha, dy) if slope is None else backward(x, alpha, dy, slope)

    return y, grad


def _sum_to_shape(g, shape):
    """Sums `g` over the axes along which a tensor of (static) `shape` was broadcast to `g`'s shape."""
    shape = tuple(shape)
    axes = tuple(broadcast_axes(len(g.shape), shape))
    return ops.reshape(ops.sum(g, axis=axes), shape) if axes else g


def rrelu_training(x, lower, upper, inverse, seed):
    """RReLU's training branch, `x * s` with a fresh random slope `s` per element (`activations.rrelu`)."""
    if fusion_enabled() and isinstance(seed, keras.random.SeedGenerator):
        # The draw stays a TensorFlow kernel (XLA's own Philox on CPU was ~30x slower); everything after it
        # (bits -> slopes -> select -> multiply) is one XLA loop each way, the slopes recomputed from the bits
        # in the backward pass rather than kept (a 16-bit draw per element instead of a float32 slope).
        bits = philox_bits(ops.shape(x), seed)
        return _rrelu_from_bits(x, bits, float(lower), float(upper), bool(inverse))
    a = uniform_slopes(ops.shape(x), lower, upper, x.dtype, seed)
    if inverse:
        a = ops.reciprocal(a)
    # `x * s` with the slope `s` held constant: the backward pass is the single multiply `dy * s`
    # (differentiating `where(x > 0, x, a * x)` costs two selects and another multiply). `s` is NaN at NaN.
    return x * ops.stop_gradient(select(x, 0, a, ops.ones_like(a)))


def _rrelu_slope(x, bits, lower, upper, inverse):
    a = slopes_from_bits(bits, ops.shape(x), lower, upper, x.dtype)
    if inverse:
        a = ops.reciprocal(a)
    return select(x, 0, a, ops.ones_like(a))


def _rrelu_bits_forward(x, bits, lower, upper, inverse):
    return x * _rrelu_slope(x, bits, lower, upper, inverse)


def _rrelu_bits_backward(x, bits, dy, lower, upper, inverse):
    return dy * _rrelu_slope(x, bits, lower, upper, inverse)


def _rrelu_from_bits(x, bits, lower, upper, inverse):
    """`x * s` with the random slope `s` (from `bits`) held constant, both passes fused by XLA."""
    forward, backward = fused(_rrelu_bits_forward), fused(_rrelu_bits_backward)

    @ops.custom_gradient
    def f(x):
        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            return backward(x, bits, dy, lower, upper, inverse)

        return forward(x, bits, lower, upper, inverse), grad

    return f(x)


def uniform_slopes(shape, lower, upper, dtype, seed):
    """`keras.random.uniform(shape, lower, upper)`, at half the random-number cost on TensorFlow.

    Drawing the slopes is most of RReLU's training cost (a Philox draw per element costs ~6x a ReLU). On
    TensorFlow, with a `SeedGenerator` (what the layer passes), each 32-bit Philox output gives two slopes
    of 16 bits: the midpoints of a 65,536-cell grid on [lower, upper], which is uniform for any practical
    purpose (cells are ~3e-6 wide for the default range). Other backends and integer/None seeds use
    `keras.random.uniform`. The SeedGenerator advances exactly as in `keras.random.uniform`.
    """
    if keras.backend.backend() != "tensorflow" or not isinstance(seed, keras.random.SeedGenerator):
        return keras.random.uniform(shape, minval=lower, maxval=upper, dtype=dtype, seed=seed)
    return slopes_from_bits(philox_bits(shape, seed), shape, lower, upper, dtype)

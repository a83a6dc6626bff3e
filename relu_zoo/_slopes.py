"""The kernels of the piecewise-linear activations with learned or random slopes (PReLU, RReLU, SReLU, APL):
hand-written backward passes, fused by XLA where enabled, and RReLU's cheap random slopes.

Each slope multiplies an input that may be ±inf, where a zero slope's piece is 0 (or its threshold), not
`0 * inf = NaN`: the value takes its limit, and no gradient meets `0 * inf` either, used piece or not.
"""

import math

import keras
from keras import ops

from relu_zoo._numerics import select
from relu_zoo._xla import (broadcast_axes, counter_cells, fused, fusion_enabled, philox_bits, seed_key,
                            cells_from_bits, sum_leading)


def _prelu_slope(x, alpha):
    return select(x, 0, alpha, ops.ones_like(alpha))


def _prelu_forward(x, alpha):
    return _times_slope(x, _prelu_slope(x, alpha))


def _times_slope(x, slope):
    """`x * slope`, with 0 where the slope is 0: also at x = ±inf, the limit (ReLU's, for PReLU with alpha = 0)."""
    return ops.where(ops.equal(slope, 0), ops.zeros_like(x), x * slope)


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
        # forward + backward 1.8x -> 1.3x `tf.nn.relu`, benchmarks/layers.py).
        y, slope = fused(_prelu_forward)(x, alpha), None

        def backward(x, alpha, dy):
            dx, product = fused(_prelu_terms)(x, alpha, dy)
            return dx, sum_leading(product, ops.shape(alpha))
    elif keras.backend.backend() == "jax":
        # Under `jax.jit` the whole pass fuses anyway, so recomputing the slope is free and keeping it costs a
        # tensor written and read again (1.9x -> 1.4-1.8x `jax.nn.relu` forward + backward in repeated runs of
        # benchmarks/layers.py; XLA's column reduction for alpha's sum is the rest, docs/howto/benchmarks.md).
        y, slope, backward = _prelu_forward(x, alpha), None, _prelu_backward
    else:
        # Graph-mode TensorFlow without XLA runs each op as a pass over memory: keeping the slope saves two, and
        # the zero-slope select runs only when some alpha is 0 (a check of the small alpha).
        slope = _prelu_slope(x, alpha)
        y = ops.cond(ops.any(ops.equal(alpha, 0)), lambda: _times_slope(x, slope), lambda: x * slope)
        backward = _prelu_backward

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        return backward(x, alpha, dy) if slope is None else backward(x, alpha, dy, slope)

    return y, grad


def _sum_to_shape(g, shape):
    """Sums `g` over the axes along which a tensor of (static) `shape` was broadcast to `g`'s shape."""
    shape = tuple(shape)
    axes = tuple(broadcast_axes(len(g.shape), shape))
    return ops.reshape(ops.sum(g, axis=axes), shape) if axes else g


def _reduce(term, shape):
    """`term` summed to a parameter's (static) shape: TensorFlow's matrix-vector product where fused, else a sum."""
    return sum_leading(term, shape) if fusion_enabled() else _sum_to_shape(term, shape)


def _srelu_pieces(x, t_left, a_left, t_right, a_right):
    """Each input's piece of SReLU: its slope (NaN at NaN, the shared rule) and the threshold it is anchored at
    (0 for the identity piece). Where x >= t_right and x <= t_left both hold, the right piece wins."""
    right = x >= t_right
    slope = ops.where(right, a_right, select(x, t_left, a_left, ops.ones_like(a_left)))
    anchor = ops.where(right, t_right, ops.where(x <= t_left, t_left, ops.zeros_like(x)))
    return slope, anchor


def _srelu_forward(x, t_left, a_left, t_right, a_right):
    slope, anchor = _srelu_pieces(x, t_left, a_left, t_right, a_right)
    return anchor + _times_slope(x - anchor, slope)


def _srelu_terms(x, t_left, a_left, t_right, a_right, dy):
    """The element-wise parts of SReLU's backward pass: `dy * slope` for x, and for each parameter its derivative
    on its own piece (0 elsewhere, so that an infinite input on another piece adds 0, not `0 * inf`; NaN at a
    NaN input, which then shows in every parameter's gradient, as PReLU's alpha)."""
    slope, _ = _srelu_pieces(x, t_left, a_left, t_right, a_right)
    right = x >= t_right
    left = ops.logical_and(x <= t_left, ops.logical_not(right))
    zero = ops.where(ops.isnan(x), x, ops.zeros_like(x))
    return (dy * slope,
            ops.where(left, dy * (1 - a_left), zero), ops.where(left, dy * (x - t_left), zero),
            ops.where(right, dy * (1 - a_right), zero), ops.where(right, dy * (x - t_right), zero))


@ops.custom_gradient
def srelu_kernel(x, t_left, a_left, t_right, a_right):
    """SReLU (`activations.srelu`) with its backward pass written out: the value at x = ±inf is its limit (the
    threshold where that piece's slope is 0), and no parameter's gradient meets `0 * inf` at an infinite input.
    Where fused, one XLA loop each way (the pieces recomputed in the backward pass rather than kept)."""
    params = (t_left, a_left, t_right, a_right)
    y = fused(_srelu_forward)(x, *params)

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        dx, *terms = fused(_srelu_terms)(x, *params, dy)
        return (dx, *(_reduce(term, ops.shape(p)) for term, p in zip(terms, params)))

    return y, grad


def _apl_forward(x, a, b):
    # The hinges see 0 in place of ±inf; there the value is the limit: x at +inf (every hinge is 0), and at -inf
    # that of sum_s a_s * (b_s - x): ±inf by the sign of sum_s a_s, or sum_s a_s * b_s where it is 0 (the
    # default a = 0 included), where summing the hinges would give `0 * inf` or `inf - inf`.
    infinite = ops.isinf(x)
    finite = ops.where(infinite, ops.zeros_like(x), x)
    y = ops.relu(finite)
    for s in range(a.shape[0]):  # a Python loop over the (static, small) hinge axis: no S-times larger temporary
        y = y + a[s] * ops.relu(b[s] - finite)
    total = ops.sum(a, axis=0)
    below = ops.where(total > 0, math.inf, ops.where(total < 0, -math.inf, ops.sum(a * b, axis=0)))
    return ops.where(infinite, ops.where(x > 0, x, below), y)


def _apl_terms(x, a, b, dy):
    """The element-wise parts of APL's backward pass: for x, and for each hinge's a and b. Every max(0, .) term
    has derivative 0 at its own kink and NaN at NaN (`select`); at x = -inf each hinge has slope 1 (the slope of
    the limit is -sum_s a_s) and a_s's derivative is +inf."""
    zero, one = ops.zeros_like(x), ops.ones_like(x)
    dx = select(x, 0, zero, one)
    da, db = [], []
    for s in range(a.shape[0]):
        gap = b[s] - x
        hinge = select(gap, 0, zero, one)
        dx = dx - a[s] * hinge
        da.append(dy * ops.relu(gap))
        db.append(dy * a[s] * hinge)
    return dy * dx, da, db


@ops.custom_gradient
def apl_kernel(x, a, b):
    """APL (`activations.apl`) with its backward pass written out (see `_apl_forward` for the limits at ±inf)."""
    y = fused(_apl_forward)(x, a, b)

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        dx, da, db = fused(_apl_terms)(x, a, b, dy)
        shape = tuple(a.shape[1:])
        return (dx, ops.stack([_reduce(g, shape) for g in da]), ops.stack([_reduce(g, shape) for g in db]))

    return y, grad


def rrelu_training(x, lower, upper, inverse, seed):
    """RReLU's training branch, `x * s` with a fresh random slope `s` per element (`activations.rrelu`)."""
    if fusion_enabled() and isinstance(seed, keras.random.SeedGenerator):
        # One XLA loop each way, the random bits computed inside it from each element's index (`counter_cells`),
        # in the backward pass again rather than kept: no draw is written or read, so the step costs about what a
        # leaky ReLU's does. (XLA's own Philox on CPU was ~30x slower, TensorFlow's Philox kernel a pass of its
        # own plus the draw read back each way.)
        return _rrelu_from_key(x, seed_key(seed), float(lower), float(upper), bool(inverse))
    if keras.backend.backend() == "jax" and isinstance(seed, keras.random.SeedGenerator):
        # The slopes as a function of each element's index: under `jax.jit` XLA computes them inside the loops
        # that use them, where `jax.random`'s threefry draw is a pass of its own (the step 3.1x -> about 0.7x
        # `jax.nn.relu`'s, benchmarks/layers.py).
        a = _jax_counter_slopes(x, seed, float(lower), float(upper))
    else:
        a = uniform_slopes(ops.shape(x), lower, upper, x.dtype, seed)
    if inverse:
        a = ops.reciprocal(a)
    # `x * s` with the slope `s` held constant: the backward pass is the single multiply `dy * s`
    # (differentiating `where(x > 0, x, a * x)` costs two selects and another multiply). `s` is NaN at NaN.
    slope = ops.stop_gradient(select(x, 0, a, ops.ones_like(a)))
    return _times_slope(x, slope) if _may_be_zero(lower, inverse) else x * slope


def _may_be_zero(lower, inverse):
    # Only a `lower` of 0, or one that rounds or is flushed to 0 (below float16's smallest subnormal number),
    # can draw a zero slope (1 / a never is 0): a parameter-time check, so that other ranges pay no select.
    return not inverse and lower < 2.0 ** -24


def _rrelu_slope(x, key, lower, upper, inverse):
    a = slopes_from_cells(counter_cells(x, key), lower, upper, x.dtype)
    if inverse:
        a = ops.reciprocal(a)
    return select(x, 0, a, ops.ones_like(a))


def _rrelu_key_forward(x, key, lower, upper, inverse):
    slope = _rrelu_slope(x, key, lower, upper, inverse)
    return _times_slope(x, slope) if _may_be_zero(lower, inverse) else x * slope


def _rrelu_key_backward(x, key, dy, lower, upper, inverse):
    return dy * _rrelu_slope(x, key, lower, upper, inverse)


def _rrelu_from_key(x, key, lower, upper, inverse):
    """`x * s` with the random slope `s` (from `key`) held constant, both passes fused by XLA."""
    forward, backward = fused(_rrelu_key_forward), fused(_rrelu_key_backward)

    @ops.custom_gradient
    def f(x):
        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            return backward(x, key, dy, lower, upper, inverse)

        return forward(x, key, lower, upper, inverse), grad

    return f(x)


# lowbias32 (Wellons' hash-prospector, bias 0.17): a bijection of 32-bit words that mixes every bit.
_H1, _H2, _GOLDEN32 = 0x7FEB352D, 0x846CA68B, 0x9E3779B9


def _hash32(z):
    import jax.numpy as jnp

    z = (z ^ (z >> 16)) * jnp.uint32(_H1)
    z = (z ^ (z >> 15)) * jnp.uint32(_H2)
    return z ^ (z >> 16)


def _jax_counter_slopes(x, seed, lower, upper):
    """RReLU's slopes on JAX: the midpoints of the 65,536 cells of a grid on [lower, upper] (as on TensorFlow),
    each element's cell the top 16 bits of a hash of its index keyed by the generator's two words (advanced as
    `keras.random` advances it). Keyed twice, the hash before and after mixing in the index, so that two keys'
    streams are never shifted copies of each other."""
    import jax
    import jax.numpy as jnp

    state = jnp.asarray(seed.next()).astype(jnp.uint32)
    key1, key2 = _hash32(state[0] + jnp.uint32(_GOLDEN32)), _hash32(state[1] ^ jnp.uint32(_H1))
    index = jax.lax.iota(jnp.uint32, math.prod(x.shape)).reshape(x.shape)
    cells = _hash32(_hash32(index * jnp.uint32(_GOLDEN32) + key1) ^ key2) >> 16
    return slopes_from_cells(cells, lower, upper, x.dtype)


def slopes_from_cells(cells, lower, upper, dtype):
    """The midpoints of the 65,536 cells of a grid on [lower, upper], indexed by the integers `cells` (why: the
    docstring of `uniform_slopes`)."""
    width = (upper - lower) / 65536.0
    return ops.cast(ops.cast(cells, "float32") * width + (lower + 0.5 * width), dtype)


def uniform_slopes(shape, lower, upper, dtype, seed):
    """`keras.random.uniform(shape, lower, upper)`, at half the random-number cost on TensorFlow.

    The unfused path (`RELU_ZOO_XLA=0`; fused, `rrelu_training` computes its bits inside the XLA loops). Drawing
    the slopes is most of that path's cost (a Philox draw per element costs ~6x a ReLU). On
    TensorFlow, with a `SeedGenerator` (what the layer passes), each 32-bit Philox output gives two slopes
    of 16 bits: the midpoints of a 65,536-cell grid on [lower, upper], which is uniform for any practical
    purpose (cells are ~3e-6 wide for the default range). Other backends and integer/None seeds use
    `keras.random.uniform`. The SeedGenerator advances exactly as in `keras.random.uniform`.
    """
    if keras.backend.backend() != "tensorflow" or not isinstance(seed, keras.random.SeedGenerator):
        return keras.random.uniform(shape, minval=lower, maxval=upper, dtype=dtype, seed=seed)
    return slopes_from_cells(cells_from_bits(philox_bits(shape, seed), shape), lower, upper, dtype)

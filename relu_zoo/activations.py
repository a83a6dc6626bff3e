"""Pure activation functions, written with `keras.ops` only.

The math of every relu_zoo activation lives here exactly once; the layers in
`relu_zoo.layers` hold parameters and delegate to these functions.

Conventions shared by every function:

- NaN in gives NaN out (nothing silently turns a NaN into a number).
- ±inf give the mathematical limit, e.g. `silu(-inf) == 0` (a plain
  `x * sigmoid(x)` would give `-inf * 0 = NaN`).
- Where a function has a kink, the derivative used there is stated in its
  docstring and is the same on every backend (we never rely on how a backend
  breaks ties in `maximum`/`minimum`).

The parameter-free functions are registered with Keras, so
`keras.layers.Dense(64, activation=relu_zoo.activations.mish)` saves and loads
with `safe_mode=True`.
"""

import math

import keras
from keras import ops

# Klambauer et al. 2017, eq. (14): the fixed point of mean 0 / variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_register = keras.saving.register_keras_serializable(package="relu_zoo")


def _non_positive(x):
    """`min(x, 0)` with derivative 1 at 0 on every backend (JAX splits `minimum`'s tie 50/50).

    Used inside exponential branches: the unused branch of `where` must stay finite, or its gradient
    (0 * inf) poisons the result for large positive x.
    """
    return ops.where(x > 0, ops.zeros_like(x), x)


def _limit_at_neg_inf(x, y):
    """Replaces `0 * inf` NaNs (x = -inf only) by their limit 0; keeps real NaNs."""
    return ops.where(ops.equal(x, float("-inf")), ops.zeros_like(y), y)


@_register
def relu(x, max_value=None, threshold=0.0):
    """Rectified linear unit (Nair & Hinton 2010).

    `f(x) = min(x, max_value)` for `x > threshold`, else `0`.
    Derivative at `x == threshold` and at `x == max_value`: 0.
    """
    if max_value is None and threshold == 0:
        return ops.relu(x)
    if max_value == 6 and threshold == 0:
        return ops.relu6(x)
    # `x <= threshold` is False for NaN, so NaN passes through.
    y = ops.where(x <= threshold, ops.zeros_like(x), x)
    if max_value is not None:
        y = ops.where(y >= max_value, ops.full_like(y, max_value), y)
    return y


@_register
def relu6(x):
    """ReLU capped at 6 (Krizhevsky 2010): `f(x) = min(max(x, 0), 6)`.

    Derivative at 0 and at 6: 0.
    """
    return ops.relu6(x)


@_register
def leaky_relu(x, negative_slope=0.01):
    """Leaky ReLU (Maas et al. 2013): `f(x) = x` for `x > 0`, else `negative_slope * x`.

    Derivative at 0: `negative_slope`.
    """
    if keras.backend.backend() == "tensorflow":
        # TensorFlow's fused kernel (one pass, f'(0) = negative_slope): as fast as ReLU.
        return ops.leaky_relu(x, negative_slope=negative_slope)
    # Other backends' leaky_relu takes the slope 1 at 0 (JAX: x >= 0); keep one definition everywhere.
    return ops.where(x > 0, x, negative_slope * x)


def prelu(x, alpha):
    """Parametric ReLU (He et al. 2015): `f(x) = x` for `x > 0`, else `alpha * x`.

    `alpha` broadcasts against `x` (one slope per channel, or a scalar).
    Derivative at 0: `alpha` (the left branch), as for `leaky_relu`.
    """
    x = ops.convert_to_tensor(x)
    return _prelu(x, ops.cast(alpha, x.dtype))


@ops.custom_gradient
def _prelu(x, alpha):
    # `f(x) = x * s` with the slope `s = 1 if x > 0 else alpha`: the backward pass is one multiply for x
    # (`dy * s`) and one multiply-and-sum for alpha, where differentiating `where(x > 0, x, alpha * x)`
    # costs two selects over zero tensors and more multiplies; on the mnist `cnn` training step that made
    # PReLU 2.0x slower than ReLU instead of ~1.1x (README "Training speed and time to accuracy").
    slope = ops.where(x > 0, ops.ones_like(alpha), alpha)

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        return dy * slope, _sum_to_shape(dy * ops.minimum(x, 0), ops.shape(alpha))

    return x * slope, grad


def _sum_to_shape(g, shape):
    """Sums `g` over the axes along which a tensor of (static) `shape` was broadcast to `g`'s shape."""
    shape = tuple(shape)
    lead = len(g.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1)
    return ops.reshape(ops.sum(g, axis=axes), shape) if axes else g


def rrelu(x, lower=1.0 / 8.0, upper=1.0 / 3.0, training=False, seed=None, inverse=False):
    """Randomized leaky ReLU (Xu et al. 2015).

    Training: `f(x) = x` for `x >= 0`, else `a * x` with a fresh slope per
    element, `a ~ U(lower, upper)`. Inference: the fixed slope
    `(lower + upper) / 2`.

    With `inverse=True` (Xu et al.'s own parameterization) `lower`/`upper`
    bound the *divisor*: training slope `1 / a` with `a ~ U(lower, upper)`
    (the paper uses U(3, 8)), inference slope `2 / (lower + upper)`.

    `seed` is an int, None or a `keras.random.SeedGenerator` (what the layer
    passes, so that repeated calls draw fresh slopes inside compiled code).
    Derivative at 0: the slope of the negative branch.
    """
    if not training:
        return leaky_relu(x, negative_slope=rrelu_inference_slope(lower, upper, inverse))
    a = _uniform(ops.shape(x), lower, upper, x.dtype, seed)
    if inverse:
        a = ops.reciprocal(a)
    # `x * s` with the slope `s` held constant: the backward pass is the single multiply `dy * s`
    # (differentiating `where(x > 0, x, a * x)` costs two selects and another multiply).
    return x * ops.stop_gradient(ops.where(x > 0, ops.ones_like(a), a))


def _uniform(shape, lower, upper, dtype, seed):
    """`keras.random.uniform(shape, lower, upper)`, at half the random-number cost on TensorFlow.

    Drawing the slopes is most of RReLU's training cost (a Philox draw per element costs ~6x a ReLU). On
    TensorFlow, with a `SeedGenerator` (what the layer passes), each 32-bit Philox output gives two slopes
    of 16 bits: the midpoints of a 65,536-cell grid on [lower, upper], which is uniform for any practical
    purpose (cells are ~3e-6 wide for the default range). Other backends and integer/None seeds use
    `keras.random.uniform`. The SeedGenerator advances exactly as in `keras.random.uniform`.
    """
    if keras.backend.backend() != "tensorflow" or not isinstance(seed, keras.random.SeedGenerator):
        return keras.random.uniform(shape, minval=lower, maxval=upper, dtype=dtype, seed=seed)
    import tensorflow as tf

    # As keras.random does on TensorFlow: stateless ops want an int32 seed pair.
    seed = tf.cast(tf.math.floormod(seed.next(), tf.int32.max - 1), tf.int32)
    size = tf.reduce_prod(tf.cast(shape, tf.int32))
    bits = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)
    halves = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
    cells = (upper - lower) / 65536.0
    a = tf.cast(halves, tf.float32) * cells + (lower + 0.5 * cells)
    return tf.cast(tf.reshape(a, shape), dtype)


def rrelu_inference_slope(lower, upper, inverse=False):
    """The deterministic slope RReLU uses at inference time."""
    return 2.0 / (lower + upper) if inverse else (lower + upper) / 2.0


def srelu(x, t_left, a_left, t_right, a_right):
    """S-shaped ReLU (Jin et al. 2016), three linear pieces.

    ```
    f(x) = t_right + a_right * (x - t_right)   for x >= t_right
    f(x) = x                                   for t_left < x < t_right
    f(x) = t_left + a_left * (x - t_left)      for x <= t_left
    ```
    Derivative at `t_left`: `a_left`; at `t_right`: `a_right`.
    """
    right = t_right + a_right * (x - t_right)
    left = t_left + a_left * (x - t_left)
    return ops.where(x >= t_right, right, ops.where(x <= t_left, left, x))


def pelu(x, alpha, beta):
    """Parametric ELU (Trottier et al. 2017), `alpha, beta > 0`.

    `f(x) = (alpha / beta) * x` for `x >= 0`, else `alpha * (exp(x / beta) - 1)`.
    Derivative at 0: `alpha / beta` from both sides (continuous).
    """
    # exp of the clipped input: the unused branch of `where` must stay finite,
    # or its gradient (0 * inf) poisons the result for large positive x.
    negative = alpha * ops.expm1(_non_positive(x) / beta)
    return ops.where(x >= 0, (alpha / beta) * x, negative)


def apl(x, a, b):
    """Adaptive piecewise linear unit (Agostinelli et al. 2014).

    `f(x) = max(0, x) + sum_s a[s] * max(0, -x + b[s])` with `S` hinges. `a`
    and `b` have a leading hinge axis of size `S`; `a[s]`, `b[s]` broadcast against `x`.
    Derivative at a kink: every `max(0, .)` term contributes `relu'(0) = 0` at its own kink (so at 0
    the ReLU term takes its left piece, a hinge with `b = 0` its right piece).
    """
    # A Python loop over the (static, small) hinge axis: no S-times larger temporary.
    y = ops.relu(x)
    for s in range(a.shape[0]):
        y = y + a[s] * ops.relu(b[s] - x)
    return y


def swish(x, beta=1.0):
    """Swish (Ramachandran et al. 2017): `f(x) = x * sigmoid(beta * x)`.

    With `beta = 1` this is SiLU. Derivative at 0: 0.5.
    """
    return _limit_at_neg_inf(x, x * ops.sigmoid(beta * x))


@_register
def elu(x, alpha=1.0):
    """Exponential linear unit (Clevert et al. 2016).

    `f(x) = x` for `x > 0`, else `alpha * (exp(x) - 1)`. Derivative at 0: `alpha`.
    Uses `expm1`: TensorFlow's fused `elu` computes `exp(x) - 1`, which is 20% off at x = -1e-7.
    """
    return ops.where(x > 0, x, alpha * ops.expm1(_non_positive(x)))


@_register
def celu(x, alpha=1.0):
    """Continuously differentiable ELU (Barron 2017).

    `f(x) = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`. Derivative at 0: 1.
    """
    negative = alpha * ops.expm1(_non_positive(x) / alpha)
    return ops.where(x > 0, x, negative)


@_register
def selu(x):
    """Scaled ELU (Klambauer et al. 2017): `scale * elu(x, alpha)`.

    `alpha = 1.67326...`, `scale = 1.05070...`. Derivative at 0: `scale * alpha` (the left branch, as
    for `elu`). Written out because backends disagree at 0: TensorFlow's fused op gives `scale`, JAX
    `scale * alpha`.
    """
    negative = SELU_ALPHA * ops.expm1(_non_positive(x))
    return SELU_SCALE * ops.where(x > 0, x, negative)


@_register
def gelu(x, approximate=False):
    """Gaussian error linear unit (Hendrycks & Gimpel 2016): `x * Phi(x)`.

    `approximate=True` uses the tanh approximation of the paper. Derivative at 0: 0.5.
    """
    return _limit_at_neg_inf(x, ops.gelu(x, approximate=approximate))


@_register
def silu(x):
    """Sigmoid linear unit / Swish-1 (Elfwing et al. 2018): `x * sigmoid(x)`.

    Derivative at 0: 0.5.
    """
    return _limit_at_neg_inf(x, ops.silu(x))


@_register
def mish(x):
    """Mish (Misra 2019): `x * tanh(softplus(x))`. Derivative at 0: `tanh(log 2) = 0.6`."""
    return _limit_at_neg_inf(x, x * ops.tanh(ops.softplus(x)))


@_register
def softplus(x):
    """Softplus (Dugas et al. 2001): `log(1 + exp(x))`, computed stably. Derivative at 0: 0.5."""
    return ops.softplus(x)


@_register
def crelu(x, axis=-1):
    """Concatenated ReLU (Shang et al. 2016): `concat([relu(x), relu(-x)], axis)`.

    Doubles the size of `axis`. Derivative at 0: 0 for both halves.
    """
    return ops.concatenate([ops.relu(x), ops.relu(-x)], axis=axis)


# Derivative at 0 of the parameter-free functions, with default arguments; the
# docstrings above state the same values and tests check all three agree.
DERIVATIVE_AT_ZERO = {
    "relu": 0.0,
    "relu6": 0.0,
    "leaky_relu": 0.01,
    "elu": 1.0,
    "celu": 1.0,
    "selu": SELU_SCALE * SELU_ALPHA,
    "gelu": 0.5,
    "silu": 0.5,
    "mish": math.tanh(math.log(2.0)),
    "softplus": 0.5,
}

"""Pure activation functions, written with `keras.ops` (TensorFlow-only fused kernels: `relu_zoo._xla`).

The math of every relu_zoo activation lives here exactly once; the layers in
`relu_zoo.layers` hold parameters and delegate to these functions.

Conventions shared by every function:

- NaN in gives NaN out (nothing silently turns a NaN into a number), and a
  NaN input gives a NaN input gradient, for every function: the ReLU family
  differentiates through `_numerics.with_slope`, whose slopes are NaN at NaN inputs
  (the default ReLU through `_plain_relu`, which passes the output's NaN).
  PyTorch's piecewise-linear kernels instead return the slope of the branch a
  comparison with NaN falls into (relu: 1, leaky_relu: negative_slope, ...);
  a NaN that vanishes in the backward pass hides the bad input.
- ±inf give the mathematical limit, e.g. `silu(-inf) == 0` (a plain
  `x * sigmoid(x)` would give `-inf * 0 = NaN`), and so do their gradients
  (`silu'(inf) == 1`; PyTorch gives NaN for both).
- Where a function has a kink, the derivative used there is stated in its
  docstring and is the same on every backend (we never rely on how a backend
  breaks ties in `maximum`/`minimum`).

Every function that needs no tensor argument is registered with Keras, so
`keras.layers.Dense(64, activation=relu_zoo.activations.mish)` saves and loads
with `safe_mode=True`; `Partial` binds arguments and saves them too:
`Dense(64, activation=Partial(leaky_relu, negative_slope=0.2))`.
"""

import contextlib
import inspect
import math

import keras
from keras import ops

from relu_zoo._elementwise import elementwise, gelu_erf_kernel, mish_kernel, on_torch, silu_kernel, softplus_kernel
from relu_zoo._numerics import in_float32, nan_gradient, non_positive, select, with_asymptotes, with_slope, with_tensors
from relu_zoo import context_activations, modern_activations
from relu_zoo._slopes import apl_kernel, prelu_kernel, rrelu_training, srelu_kernel, uniform_slopes
from relu_zoo._xla import fused, fused_elementwise, unfused
from relu_zoo.modern_activations import (  # noqa: F401  (public here: the math of every activation, one namespace)
    acon_c, hard_sigmoid, hard_swish, pau, quick_gelu, squared_relu, star_relu, xielu,
)
from relu_zoo.context_activations import dy_relu, frelu, meta_acon  # noqa: F401  (public here, as above)

# Klambauer et al. 2017, eq. (14): the fixed point of mean 0 / variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_register = keras.saving.register_keras_serializable(package="relu_zoo")


@_register
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit (Nair & Hinton 2010), with `keras.activations.relu`'s arguments.

    `f(x) = min(x, max_value)` for `x > threshold`, else `negative_slope * (x - threshold)`.
    Derivative at `x == threshold`: `negative_slope` (the left branch, 0 by default); at `x == max_value`: 0.
    """

    x = ops.convert_to_tensor(x)
    if negative_slope == 0 and threshold == 0 and max_value is None:
        # TensorFlow's own Relu kernel forward (grappler fuses a conv + bias into it), one loop backward reading
        # the output, as Keras' ReLU does.
        return elementwise(_plain_relu, x, forward=ops.relu, grad=_relu_backward, grad_of_output=True,
                           torch=lambda kernels, v: kernels.relu(v))
    if negative_slope == 0 and threshold == 0 and max_value == 6:
        return elementwise(_relu6, x, forward=ops.relu6, grad=_relu6_backward, grad_of_output=True,
                           torch=lambda kernels, v: kernels.relu6(v))
    return fused_elementwise(_relu, x, negative_slope, max_value, threshold)


def _relu(x, negative_slope, max_value, threshold):
    if threshold and keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        # In float32: `x - threshold` can overflow float16 where `negative_slope * (x - threshold)` does not, and
        # the threshold is compared in the precision of that difference.
        return in_float32(lambda v: _relu(v, negative_slope, max_value, threshold), x)

    def forward(x):
        # Without a slope the left piece is the constant 0, not `0 * x` (NaN at -inf).
        below = negative_slope * (x - threshold) if negative_slope else ops.zeros_like(x)
        # `x <= threshold` is False for NaN, so NaN passes through.
        y = ops.where(x <= threshold, below, x)
        if max_value is not None:
            y = ops.where(x >= max_value, ops.full_like(y, max_value), y)
        return y

    def slope(x):
        above = ops.ones_like(x) if max_value is None else ops.where(x >= max_value, ops.zeros_like(x), 1.0)
        return select(x, threshold, ops.full_like(x, negative_slope), above)

    return with_slope(forward, slope, x)


@ops.custom_gradient
def _plain_relu(x):
    # The default ReLU, the one most models use, costs what the backends' own relu costs: the backward pass
    # reads the output, `dy` where `y > 0`, else `y` itself: 0, or NaN at a NaN input (the rule above). The
    # general `dy * slope(x)` builds the slope in four more passes over memory, which on PyTorch (each op its
    # own pass) and JAX doubles the cost or worse (benchmarks/layers.py measures it).
    y = ops.relu(x)

    def grad(*args, upstream=None):
        return _relu_backward(y, args[0] if upstream is None else upstream)

    return y, grad


def _relu_backward(y, dy):
    return ops.where(y > 0, dy, ops.cast(y, dy.dtype))


def _relu6(x):
    return with_slope(ops.relu6, _relu6_slope, x)


def _relu6_slope(v):
    # Of the input or the output alike: `0 < y < 6` exactly where `0 < x < 6`, and y is NaN where x is.
    return select(v, 0, ops.zeros_like(v), ops.where(v >= 6, ops.zeros_like(v), ops.ones_like(v)))


def _relu6_backward(y, dy):
    return dy * _relu6_slope(y)


@_register
def relu6(x):
    """ReLU capped at 6 (Krizhevsky 2010): `f(x) = min(max(x, 0), 6)`.

    Derivative at 0 and at 6: 0.
    """
    return relu(x, max_value=6)


@_register
def leaky_relu(x, negative_slope=0.01):
    """Leaky ReLU (Maas et al. 2013): `f(x) = x` for `x > 0`, else `negative_slope * x`.

    Derivative at 0: `negative_slope`.
    """
    if negative_slope == 0:
        return relu(x)  # `0 * x` would be NaN at -inf
    x = ops.convert_to_tensor(x)
    if _tensorflow_kernel(x) and negative_slope > 0:
        # TensorFlow's LeakyRelu kernel forward (grappler fuses a conv + bias into it), one loop backward.
        return fused_elementwise(_leaky_relu, x, negative_slope, forward=ops.leaky_relu, grad=_leaky_relu_backward,
                                 grad_of_output=True)
    return elementwise(_leaky_relu, x, negative_slope,
                       torch=(lambda kernels, v: kernels.leaky_relu(v, negative_slope)) if negative_slope > 0 else None)


def _tensorflow_kernel(x):
    # TensorFlow's fused leaky_relu is one pass, as fast as ReLU, but its slope is a float32 attribute: float64
    # inputs take the exact slope through `where`.
    return keras.backend.backend() == "tensorflow" and x.dtype != "float64"


def _leaky_relu(x, negative_slope):
    def forward(x):
        if _tensorflow_kernel(x):
            return ops.leaky_relu(x, negative_slope=negative_slope)
        # Other backends' leaky_relu takes the slope 1 at 0 (JAX: x >= 0); keep one definition everywhere.
        return ops.where(x > 0, x, negative_slope * x)

    # A positive slope keeps the sign (and NaN), so the backward pass can read the output. Reading the input
    # instead, TensorFlow's graph optimizer fails to fuse a conv + bias + leaky_relu whose bias output the
    # gradient still needs, and logs "remapper failed" for every such model.
    return with_slope(forward, lambda y: _leaky_relu_slope(y, negative_slope), x, of_output=negative_slope > 0)


def _leaky_relu_slope(v, negative_slope):
    return select(v, 0, ops.full_like(v, negative_slope), ops.ones_like(v))


def _leaky_relu_backward(y, dy, negative_slope):
    return dy * _leaky_relu_slope(y, negative_slope)


def prelu(x, alpha):
    """Parametric ReLU (He et al. 2015): `f(x) = x` for `x > 0`, else `alpha * x`.

    `alpha` broadcasts against `x` (one slope per channel, or a scalar).
    Derivative at 0: `alpha` (the left branch), as for `leaky_relu`; at NaN: NaN.
    Inside `export_formulation()` it is written for converters instead (see there).
    """
    x = ops.convert_to_tensor(x)
    alpha = ops.convert_to_tensor(alpha, x.dtype)  # a Python number rounded once (`ops.cast` goes via float32)
    if _EXPORT_FORMULATION:
        # Alpha of rank(x) - 1 (`(1, 1, C)` for images): the TFLite converter fuses the sum into its builtin
        # PRELU only when the slope has that rank.
        alpha = ops.reshape(alpha, (1,) * (len(x.shape) - 1 - len(alpha.shape)) + tuple(alpha.shape))
        return ops.relu(x) + ops.negative(alpha) * ops.relu(ops.negative(x))
    if keras.backend.backend() == "torch":
        from relu_zoo import _torch_ops  # PyTorch's own kernels: eager mode runs each keras.ops op as a pass

        return _torch_ops.prelu(x, alpha)
    return prelu_kernel(x, alpha)


_EXPORT_FORMULATION = []


@contextlib.contextmanager
def export_formulation():
    """Within this context, `prelu` is traced as `relu(x) + (-alpha) * relu(-x)`, for exporting a model.

    That is the form converters recognise as one PReLU op (TFLite's builtin PRELU pattern-matches it,
    as it did Keras 2's PReLU), where the training form `x * where(x > 0, 1, alpha)` (one multiply, a fast
    backward pass) becomes GREATER + SELECT + MUL. The values are identical for every non-NaN input: each
    step is exact (`relu` selects, negation is exact, `(-alpha) * (-x) == alpha * x`, adding 0 is
    exact), so `x` and `alpha * x` come out bit for bit. It has no custom gradient: for inference graphs.
    Every other activation traces its plain ops too, no XLA clusters (`relu_zoo._xla.unfused`).
    """
    _EXPORT_FORMULATION.append(True)
    try:
        with unfused():
            yield
    finally:
        _EXPORT_FORMULATION.pop()


@_register
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
    if inverse or lower >= 2.0 ** -24:  # no zero slope, whose limit at -inf PyTorch's kernel would make NaN
        def slopes(v):
            a = uniform_slopes(ops.shape(v), lower, upper, v.dtype, seed)
            return ops.reciprocal(a) if inverse else a

        y = on_torch(lambda kernels, v: kernels.random_slope_relu(v, slopes), x)
        if y is not None:
            return y
    return rrelu_training(x, lower, upper, inverse, seed)


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
    Derivative at `t_left`: `a_left`; at `t_right`: `a_right`; at NaN: NaN. At ±inf: the limit, the threshold
    where that piece's slope is 0.
    """
    # In float32 for 16-bit inputs: `x - t_right` can overflow float16 where the result does not.
    return in_float32(with_tensors(srelu_kernel), x, t_left, a_left, t_right, a_right)


def pelu(x, alpha, beta):
    """Parametric ELU (Trottier et al. 2017), `alpha, beta > 0`.

    `f(x) = (alpha / beta) * x` for `x >= 0`, else `alpha * (exp(x / beta) - 1)`.
    Derivative at 0: `alpha / beta` from both sides (continuous).
    """
    # In float32 for 16-bit inputs: in float16 `x / beta` overflows for x = -65504, beta = 0.5, and beta's
    # gradient becomes 0 * inf = NaN. One XLA cluster where fused (as PReLU): eight element-wise ops each way.
    return in_float32(lambda *args: fused(_pelu)(*args), x, alpha, beta)


def _pelu(x, alpha, beta):
    alpha, beta = ops.convert_to_tensor(alpha, x.dtype), ops.convert_to_tensor(beta, x.dtype)
    # Both branches see x floored at -1000 beta, where exp(x / beta) is 0 in every dtype, and the exponential's
    # branch x clipped at 0: the unused branch of `where` stays finite, and so does its gradient, which would
    # otherwise poison the result (`0 * inf`) for large x or at ±inf; at x = -inf the parameters' gradients are
    # then their limits (beta's 0, not `exp(-inf) * (-x / beta**2) = 0 * inf`). `where`, not `maximum`: a NaN
    # input keeps its gradient path (TensorFlow's `maximum` sends it to the floor).
    floor = ops.stop_gradient(-1000.0 * beta)  # exp(x / beta) is 0 there: no gradient to sum for beta
    x_floored = ops.where(x < floor, floor, x)
    negative = alpha * ops.expm1(non_positive(x_floored) / beta)
    return ops.where(x >= 0, (alpha / beta) * x_floored, negative)


def apl(x, a, b):
    """Adaptive piecewise linear unit (Agostinelli et al. 2014).

    `f(x) = max(0, x) + sum_s a[s] * max(0, -x + b[s])` with `S` hinges. `a`
    and `b` have a leading hinge axis of size `S`; `a[s]`, `b[s]` broadcast against `x`.
    Derivative at a kink: every `max(0, .)` term contributes `relu'(0) = 0` at its own kink (so at 0
    the ReLU term takes its left piece, a hinge with `b = 0` its right piece). At -inf: the limit of
    `sum_s a[s] * (b[s] - x)`, `±inf` by the sign of `sum_s a[s]`, or `sum_s a[s] * b[s]` where that is 0.
    """
    # In float32 for 16-bit inputs: two hinges can overflow float16 with opposite signs (`inf - inf`) where the
    # result does not.
    return in_float32(with_tensors(apl_kernel), x, a, b)


@_register
def swish(x, beta=1.0):
    """Swish (Ramachandran et al. 2017): `f(x) = x * sigmoid(beta * x)`.

    With `beta = 1` this is SiLU. Derivative at 0: 0.5. At ±inf: the limit for the sign of `beta`
    (`x` where `beta * x > 0`, `x / 2` for `beta = 0`, else 0).
    """

    if isinstance(beta, (int, float)):
        return fused_elementwise(_swish, x, beta)
    return _swish(x, beta)  # a learned beta (`Swish`'s weight) takes its gradient through the unfused ops


def _swish(x, beta):
    def asymptote(x):
        b = ops.convert_to_tensor(beta, x.dtype)
        zero = ops.zeros_like(x * b)
        return ops.where(x * b > 0, x + zero, ops.where(ops.equal(b, 0), 0.5 * x + zero, zero))

    return with_asymptotes(lambda v: v * ops.sigmoid(ops.convert_to_tensor(beta, v.dtype) * v), x, asymptote)


@_register
def elu(x, alpha=1.0):
    """Exponential linear unit (Clevert et al. 2016).

    `f(x) = x` for `x > 0`, else `alpha * (exp(x) - 1)`. Derivative at 0: `alpha`.
    Uses `expm1`: TensorFlow's fused `elu` computes `exp(x) - 1`, which is 20% off at x = -1e-7.
    """
    return elementwise(_elu, x, alpha, torch=lambda kernels, v: kernels.elu(v, alpha))


def _elu(x, alpha):
    return ops.where(x > 0, x, alpha * ops.expm1(non_positive(x)))


@_register
def celu(x, alpha=1.0):
    """Continuously differentiable ELU (Barron 2017).

    `f(x) = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`. Derivative at 0: 1.
    """
    return elementwise(_celu_wide, x, alpha, torch=lambda kernels, v: kernels.elu(v, alpha, 1.0, 1.0 / alpha))


def _celu_wide(x, alpha):
    # In float32 for 16-bit inputs: `x / alpha` can be a float16 subnormal (a few bits) for a large alpha.
    return in_float32(_celu, x, alpha)


def _celu(x, alpha):
    negative = alpha * ops.expm1(non_positive(x) / alpha)
    return ops.where(x > 0, x, negative)


@_register
def selu(x):
    """Scaled ELU (Klambauer et al. 2017): `scale * elu(x, alpha)`.

    `alpha = 1.67326...`, `scale = 1.05070...`. Derivative at 0: `scale * alpha` (the left branch, as
    for `elu`). Written out because backends disagree at 0: TensorFlow's fused op gives `scale`, JAX
    `scale * alpha`.
    """
    return elementwise(_selu, x, torch=lambda kernels, v: kernels.elu(v, SELU_ALPHA, SELU_SCALE))


def _selu(x):
    negative = SELU_ALPHA * ops.expm1(non_positive(x))
    return SELU_SCALE * ops.where(x > 0, x, negative)


@_register
def gelu(x, approximate=False):
    """Gaussian error linear unit (Hendrycks & Gimpel 2016): `x * Phi(x)`.

    `approximate=True` uses the tanh approximation of the paper. Derivative at 0: 0.5.
    """
    if approximate:
        return fused_elementwise(_gelu_approximate, x)
    return elementwise(_gelu_exact, x, torch=lambda kernels, v: kernels.gelu(v))


def _gelu_approximate(x):
    # The tanh form's `x**3` overflows float32 from |x| = 7e12, its gradient's `x**2` from 1.8e19 (`0 * inf`
    # there). Beyond |x| = 25 it is exactly `x` or `-0` in every float dtype (the gate rounds to 1, or the
    # product underflows even float64), so the asymptote takes over there.
    return with_asymptotes(_gelu_tanh, x, beyond=25.0)


def _gelu_exact(x):
    # The exact form is finite at every finite x, and accurate far into its tail (-1e-25 at x = -10.5 in float32,
    # -2e-298 at x = -37 in float64): only ±inf take the limits.
    return in_float32(gelu_erf_kernel, x)


# Written out rather than `tf.nn.gelu`, which rounds its constants (1/sqrt(2), 0.044715) to float32 even for
# float64 inputs (relative error 3e-8). The exact form (`gelu_erf_kernel`) uses erfc, as TensorFlow does, because
# PyTorch's `1 + erf(x / sqrt(2))` cancels for negative x (2e-5 relative error at x = -3). The tanh form is PyTorch's
# function with `(1 + tanh(u)) / 2` written as `sigmoid(2u)`: PyTorch's `1 + tanh(u)` cancels for negative x
# too; in float32 its value and derivative are 30 % off at x = -5 and exactly 0 from x = -5.06 (with
# TensorFlow's tanh from x = -4.84, where the derivative is -4.2e-6).
def _gelu_tanh(x):
    return x * ops.sigmoid(math.sqrt(8.0 / math.pi) * (x + 0.044715 * x * x * x))


@_register
def silu(x):
    """Sigmoid linear unit / Swish-1 (Elfwing et al. 2018): `x * sigmoid(x)`.

    Derivative at 0: 0.5.
    """
    return elementwise(_silu, x, torch=lambda kernels, v: kernels.silu(v))


def _silu(x):
    return in_float32(silu_kernel, x)


@_register
def mish(x):
    """Mish (Misra 2019): `x * tanh(softplus(x))`. Derivative at 0: `tanh(log 2) = 0.6`."""
    return elementwise(_mish, x, torch=lambda kernels, v: kernels.mish(v))


def _mish(x):
    return in_float32(mish_kernel, x)


@_register
def softplus(x, beta=1.0, threshold=20.0):
    """Softplus (Dugas et al. 2001) with PyTorch's `nn.Softplus(beta, threshold)` arguments.

    `f(x) = log(1 + exp(beta * x)) / beta`, computed stably, and `f(x) = x` where `beta * x > threshold`
    (there the two differ by less than `exp(-threshold) / beta`). Derivative at 0: 0.5.
    `beta * x` is computed, and compared with `threshold`, in the input's dtype; 16-bit inputs are computed in
    float32 and rounded once, as PyTorch does.
    """
    return elementwise(_softplus_wide, x, beta, threshold,
                       torch=lambda kernels, v: kernels.softplus(v, beta, threshold))


def _softplus_wide(x, beta, threshold):
    return in_float32(softplus_kernel, x, beta, threshold)


@_register
def crelu(x, axis=-1):
    """Concatenated ReLU (Shang et al. 2016): `concat([relu(x), relu(-x)], axis)`.

    Doubles the size of `axis`. Derivative at 0: 0 for both halves.
    """
    x = ops.convert_to_tensor(x)
    _check_axis(axis, len(x.shape), "crelu")
    return ops.concatenate([relu(x), relu(-x)], axis=axis)


def _check_axis(axis, rank, name):
    """A ValueError naming `axis` unless it is an int naming an axis of a rank-`rank` input (backends raise their
    own errors, or none, for a wrong one)."""
    if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
        raise ValueError(f"{name}: `axis` must be an int naming an axis of the rank-{rank} input. "
                         f"Received: axis={axis!r}")


def _gated(x, gate, axis, name, exact=False, torch=None):
    """`a * gate(b)` with `(a, b)` the two halves of `x` along `axis` (first half the value, second the gate).

    The convention of `torch.nn.functional.glu` (Dauphin et al. 2017 write `(X*W + b) * sigmoid(X*V + c)`,
    the value first). A known odd size is a ValueError; an unknown one is checked by the split at run time.
    16-bit inputs are computed in float32 and rounded once, unless the gate is `exact` (relu, identity: then the
    16-bit product is already the correctly rounded one): a gate that rounds to a float16 subnormal or to 0
    (sigmoid(-17) = 4e-8) would lose the product's digits.
    """
    x = ops.convert_to_tensor(x)
    _check_axis(axis, len(x.shape), name)
    size = x.shape[axis]
    if size is not None and size % 2:
        raise ValueError(f"{name} splits axis {axis} into two halves, but it has odd size {size}. "
                         f"Received: input shape {tuple(x.shape)}")
    y = on_torch(torch, x)  # PyTorch's own kernel, where it applies (`relu_zoo._elementwise`)
    if y is not None:
        return y
    if not exact:
        return in_float32(lambda v: _product_of_halves(v, gate, axis), x)
    return _product_of_halves(x, gate, axis)


def _product_of_halves(x, gate, axis):
    # `nan_gradient`: a NaN input gets a NaN gradient, the shared rule (d(a * b)/db = a is finite at b = NaN).
    value, gate_input = ops.split(nan_gradient(x), 2, axis=axis)
    return value * gate(gate_input)


@_register
def glu(x, axis=-1):
    """Gated linear unit (Dauphin et al. 2017): `a * sigmoid(b)`, `(a, b)` the halves of `x` along `axis`.

    Halves the size of `axis`. Derivative at `a = b = 0`: `sigmoid(0) = 0.5` for `a`, 0 for `b`
    (`d/db = a * sigmoid'(b)`, and `sigmoid'(0) = 0.25`).
    """
    return _gated(x, ops.sigmoid, axis, "glu", torch=lambda kernels, v: kernels.glu(v, axis))


@_register
def reglu(x, axis=-1):
    """ReGLU (Shazeer 2020): `a * relu(b)`, `(a, b)` the halves of `x` along `axis`.

    Halves the size of `axis`. Derivative in `b` at `b = 0`: 0 (`relu'(0) = 0`, as for `relu`); NaN at NaN.
    """
    return _gated(x, relu, axis, "reglu", exact=True)


@_register
def geglu(x, axis=-1, approximate=False):
    """GEGLU (Shazeer 2020): `a * gelu(b)`, `(a, b)` the halves of `x` along `axis`.

    Halves the size of `axis`. `approximate=True` uses GELU's tanh form. Derivative in `b` at `b = 0`:
    `0.5 * a` (`gelu'(0) = 0.5`).
    """
    return _gated(x, lambda b: gelu(b, approximate=approximate), axis, "geglu")


@_register
def swiglu(x, axis=-1):
    """SwiGLU (Shazeer 2020; LLaMA, PaLM): `a * silu(b)`, `(a, b)` the halves of `x` along `axis`.

    Halves the size of `axis`. Derivative in `b` at `b = 0`: `0.5 * a` (`silu'(0) = 0.5`).
    """
    return _gated(x, silu, axis, "swiglu")


@_register
def bilinear(x, axis=-1):
    """Bilinear GLU (Dauphin et al. 2017; Shazeer 2020): `a * b`, `(a, b)` the halves of `x` along `axis`.

    Halves the size of `axis`. Derivatives: `b` for `a`, `a` for `b`.
    """
    return _gated(x, lambda b: b, axis, "bilinear", exact=True)


@_register
class Partial:
    """An activation function of this module with arguments bound, that saves and loads by name.

    Like `functools.partial`, but a `.keras` file stores the function's name and the arguments, so

    >>> dense = keras.layers.Dense(4, activation=Partial(leaky_relu, negative_slope=0.2))

    loads again with `safe_mode=True` and no `custom_objects`. The function is looked up by name among
    this module's activation functions (never imported from an arbitrary path), and the arguments must be
    ones it accepts, with plain values (numbers, strings, bools, None). Tensor parameters (`prelu`'s
    `alpha`, ...) may be given as numbers. `rrelu` runs in inference mode unless `training=True` is bound.

    Args:
        function: One of this module's activation functions, or its name.
        **arguments: Keyword arguments to bind.
    """

    def __init__(self, function, **arguments):
        name = function if isinstance(function, str) else getattr(function, "__name__", None)
        if name not in FUNCTIONS or not (isinstance(function, str) or FUNCTIONS[name] is function):
            raise ValueError(f"Argument `function` must be one of relu_zoo.activations' functions "
                             f"({', '.join(sorted(FUNCTIONS))}) or its name. Received: function={function!r}")
        signature = inspect.signature(FUNCTIONS[name])
        unknown = sorted(set(arguments) - set(list(signature.parameters)[1:]))
        if unknown:
            raise ValueError(f"{name}() has no argument {', '.join(unknown)}; it accepts "
                             f"{', '.join(list(signature.parameters)[1:])}. Received: {arguments!r}")
        for key, value in arguments.items():
            if not (value is None or isinstance(value, (bool, int, float, str))):
                raise ValueError(f"Partial arguments must be numbers, strings, bools or None, so that they "
                                 f"save in a config. Received: {key}={value!r}")
        self.function = name
        self.arguments = dict(arguments)
        self.__name__ = name  # Keras names activations in summaries and errors by `__name__`

    def __call__(self, x):
        return FUNCTIONS[self.function](x, **self.arguments)

    def __eq__(self, other):
        return isinstance(other, Partial) and (self.function, self.arguments) == (other.function, other.arguments)

    def __hash__(self):
        return hash((self.function, tuple(sorted(self.arguments.items()))))

    def __repr__(self):
        arguments = "".join(f", {k}={v!r}" for k, v in self.arguments.items())
        return f"Partial({self.function}{arguments})"

    def get_config(self):
        return {"function": self.function, "arguments": dict(self.arguments)}

    @classmethod
    def from_config(cls, config):
        return cls(config["function"], **config["arguments"])


# The activation functions `Partial` may name and the layers' records point to: every public function defined
# here whose first argument is the input `x`, so a new function is listed by being written (and
# tests/layers/test_records.py then asks for its layer's record).
FUNCTIONS = {
    name: fn
    for name, fn in list(globals().items())
    if inspect.isfunction(fn) and fn.__module__ in (__name__, modern_activations.__name__, context_activations.__name__)
    and not name.startswith("_")
    and next(iter(inspect.signature(fn).parameters), None) == "x"
}

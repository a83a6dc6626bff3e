"""The ReLU family as practised today: squared ReLU and StarReLU (the feed-forward layers of Primer and the
MetaFormers), hard sigmoid and hard swish (mobile networks), QuickGELU (CLIP), xIELU (Apertus), ACON-C and the
learned rational functions of PAU.

Same conventions as `relu_zoo.activations` (NaN in, NaN out; the limits at ±inf; the derivative at every kink
stated), which re-exports every public function here: users and `Partial` name them from there.
"""

import math

import keras
from keras import ops

from relu_zoo import _rational
from relu_zoo._elementwise import elementwise
from relu_zoo._numerics import in_float32, with_asymptotes, with_slope, with_tensors
from relu_zoo._xla import broadcast_axes, fused, fused_elementwise, fusion_enabled, sum_leading

_register = keras.saving.register_keras_serializable(package="relu_zoo")




def _positive_part(x):
    """`max(x, 0)`, NaN passing through (`x <= 0` is False for NaN)."""
    return ops.where(x <= 0, ops.zeros_like(x), x)


@_register
def squared_relu(x):
    """Squared ReLU (So et al. 2021, Primer): `f(x) = max(x, 0)**2`.

    Derivative `2 * max(x, 0)`: 0 at 0, +inf at +inf, NaN at NaN. The product of two 16-bit numbers is exact in
    float32, so the one multiply in the input's dtype is already correctly rounded.
    """
    return fused_elementwise(_squared_relu, x)


def _squared_relu(x):
    return with_slope(lambda v: ops.square(_positive_part(v)), lambda v: 2 * _positive_part(v), x)


@_register
def hard_sigmoid(x):
    """Hard sigmoid (Howard et al. 2019, MobileNetV3): `f(x) = relu6(x + 3) / 6`, as `torch.nn.Hardsigmoid` and
    `keras.activations.hard_sigmoid` compute it.

    Derivative `1/6` on (-3, 3), else 0: at 0, `1/6`; at ±3, 0 (as PyTorch and TensorFlow).
    """
    return elementwise(_hard_sigmoid, x, torch=lambda kernels, v: kernels.hard_sigmoid(v))


def _hard_sigmoid(x):
    # In float32 for 16-bit inputs: `x + 3` and the division would each round in the 16-bit type.
    return in_float32(lambda v: with_slope(_hard_sigmoid_forward, _hard_sigmoid_slope, v), x)


def _hard_sigmoid_forward(x):
    # The outer pieces are the constants 0 and 1, also at ±inf; NaN falls through to the middle piece.
    return ops.where(x <= -3, ops.zeros_like(x), ops.where(x >= 3, ops.ones_like(x), (x + 3) / 6))


def _hard_sigmoid_slope(x):
    inside = ops.logical_and(x > -3, x < 3)
    return ops.where(inside, ops.full_like(x, 1 / 6), ops.where(ops.isnan(x), x, ops.zeros_like(x)))


@_register
def hard_swish(x):
    """Hard swish (Howard et al. 2019, MobileNetV3): `f(x) = x * relu6(x + 3) / 6`, as `torch.nn.Hardswish`.

    Derivative `(2x + 3) / 6` on [-3, 3], 0 below, 1 above: at 0, 0.5; at -3 and 3 the middle piece's, -0.5 and
    1.5 (as PyTorch). `x` itself above 3 (PyTorch's `x * 6 / 6` overflows from a sixth of the largest float) and
    0 below -3, also at ±inf. `keras.activations.hard_swish` is `x * (relu6(x + 3) / 6)`: the same function up to
    rounding, but NaN at -inf (`-inf * 0`) and TensorFlow's slopes at ±3 (0 and 1).
    """
    return elementwise(_hard_swish, x, torch=lambda kernels, v: kernels.hard_swish(v))


def _hard_swish(x):
    # In float32 for 16-bit inputs: `x + 3`, the product and the division would each round in the 16-bit type.
    return in_float32(lambda v: with_slope(_hard_swish_forward, _hard_swish_slope, v), x)


def _hard_swish_forward(x):
    # `x * (x + 3) / 6` in PyTorch's order of operations.
    return ops.where(x <= -3, ops.zeros_like(x), ops.where(x >= 3, x, x * (x + 3) / 6))


def _hard_swish_slope(x):
    below = ops.where(x < -3, ops.zeros_like(x), x)  # NaN stays NaN
    return ops.where(x > 3, ops.ones_like(x), ops.where(x >= -3, x / 3 + 0.5, below))


# Radford et al. 2021 (CLIP): sigmoid(1.702 x) approximates Phi(x) (Hendrycks & Gimpel 2016, §2).
QUICK_GELU_BETA = 1.702


@_register
def quick_gelu(x):
    """QuickGELU (Radford et al. 2021, CLIP): `f(x) = x * sigmoid(1.702 * x)`, GELU's sigmoid approximation.

    `relu_zoo.activations.swish` with `beta = 1.702`: derivative at 0: 0.5; at ±inf the limits (`x` and 0, slopes
    1 and 0).
    """
    return fused_elementwise(_quick_gelu, x)


def _quick_gelu(x):
    return with_asymptotes(lambda v: v * ops.sigmoid(ops.convert_to_tensor(QUICK_GELU_BETA, v.dtype) * v), x)


def _parametric(forward, backward, x, params, constants=()):
    """`forward(x, *params, *constants)`, differentiated by `backward(x, *params, dy, *constants)`, which returns
    `dy * f'(x)` and each parameter's element-wise term (summed here to the parameter's shape, as PReLU's alpha).

    Written out, the backward pass meets no `0 * inf` in a piece its input is not on, and takes the limits at
    ±inf; where fused, each pass is one XLA loop (the intermediates recomputed from x rather than kept).
    """

    @ops.custom_gradient
    def kernel(x, *params):
        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            dx, *terms = fused(backward)(x, *params, dy, *constants)
            return (dx, *(_sum_to_shape(term, ops.shape(p)) for term, p in zip(terms, params)))

        return fused(forward)(x, *params, *constants), grad

    return kernel(x, *params)


def _sum_to_shape(term, shape):
    """`term` summed over the axes along which a parameter of (static) `shape` was broadcast to it."""
    shape = tuple(int(d) for d in shape)
    if fusion_enabled():
        return sum_leading(term, shape)
    axes = tuple(broadcast_axes(len(term.shape), shape))
    return ops.reshape(ops.sum(term, axis=axes), shape) if axes else term


def _finite(x):
    """x with ±inf replaced by 0: the formulas never meet an infinity (their values and gradients there are
    the limits, selected separately), and NaN still reaches them."""
    return ops.where(ops.isinf(x), ops.zeros_like(x), x)


def star_relu(x, scale=0.8944, bias=-0.4472):
    """StarReLU (Yu et al. 2023, MetaFormer baselines): `f(x) = scale * max(x, 0)**2 + bias`.

    `scale` and `bias` broadcast against `x` (the paper learns one scalar each per layer). The defaults are the
    paper's, `1/sqrt(1.25)` and `-0.5/sqrt(1.25)` rounded: they give `max(x, 0)**2` mean 0 and variance 1 for
    x ~ N(0, 1). Derivative `2 * scale * max(x, 0)`: 0 at 0. At +inf: ±inf by the sign of `scale`, `bias` where
    it is 0; at -inf: `bias`. The gradients of `scale` (`max(x, 0)**2`) and `bias` (1) meet no `0 * inf`.
    """
    # In float32 for 16-bit inputs: the square and the sum would round in the 16-bit type.
    return in_float32(with_tensors(lambda v, *p: _parametric(_star_relu_forward, _star_relu_backward, v, p)),
                      x, scale, bias)


def _star_relu_square(r, scale):
    # `(scale * r) * r`: no overflow of `r**2` where the product fits; 0 for a zero scale at +inf.
    return ops.where(ops.logical_and(ops.isinf(r), ops.equal(scale, 0)), ops.zeros_like(r), (scale * r) * r)


def _star_relu_forward(x, scale, bias):
    return _star_relu_square(_positive_part(x), scale) + bias


def _star_relu_backward(x, scale, bias, dy):
    r = _positive_part(x)
    slope = ops.where(ops.logical_and(ops.isinf(r), ops.equal(scale, 0)), ops.zeros_like(r), 2 * scale * r)
    return dy * slope, dy * (r * r), dy


def xielu(x, alpha_p, alpha_n, beta=0.5, eps=-1e-6):
    """xIELU (Huang & Schlag 2024; the activation of Apertus), as the authors' reference code computes it.

    ```
    f(x) = alpha_p * x**2 + beta * x                                      for x > 0
    f(x) = alpha_n * (exp(min(x, eps)) - 1) - alpha_n * x + beta * x      for x <= 0
    ```
    `alpha_p` and `alpha_n` broadcast against `x`; the paper keeps `alpha_p > 0` and `alpha_n > beta` (the layer,
    `XIELU`, does so with softplus). `eps <= 0` caps the exponential's argument, so on (eps, 0] the slope is
    `beta - alpha_n`: that is the derivative at 0 (the left piece; the right one's is `beta`), and at `eps` the
    exponential's. At +inf: ±inf by the sign of `alpha_p` (of `beta` where it is 0; 0 where both are); at -inf:
    ∓inf by the sign of `beta - alpha_n`, `-alpha_n` where it is 0. Computed as `x * (alpha_p * x + beta)` and
    `alpha_n * expm1(min(x, eps)) + (beta - alpha_n) * x`, which round less than the reference code's sums.
    """
    # In float32 for 16-bit inputs: a square and a sum would round in the 16-bit type.
    return in_float32(with_tensors(lambda v, *p: _parametric(_xielu_forward, _xielu_backward, v, p,
                                                              (float(beta), float(eps)))), x, alpha_p, alpha_n)


def _xielu_forward(x, alpha_p, alpha_n, beta, eps):
    finite = _finite(x)
    positive = finite * (alpha_p * finite + beta)
    capped = ops.where(finite > eps, ops.full_like(finite, eps), finite)  # min(x, eps), NaN passing through
    negative = alpha_n * ops.expm1(capped) + (beta - alpha_n) * finite
    y = ops.where(finite > 0, positive, negative)
    up = ops.where(alpha_p > 0, math.inf, ops.where(alpha_p < 0, -math.inf, math.copysign(math.inf, beta) if beta
                                                     else 0.0))
    slope = beta - alpha_n
    down = ops.where(slope > 0, -math.inf, ops.where(slope < 0, math.inf, -alpha_n))
    return ops.where(x == math.inf, up, ops.where(x == -math.inf, down, y))


def _xielu_backward(x, alpha_p, alpha_n, dy, beta, eps):
    finite = _finite(x)
    capped = ops.where(finite > eps, ops.full_like(finite, eps), finite)
    exponential = ops.where(finite > eps, ops.zeros_like(finite), alpha_n * ops.exp(capped))
    slope = ops.where(finite > 0, 2 * alpha_p * finite + beta, exponential + (beta - alpha_n))
    # The parameters' terms on their own pieces, 0 on the other (NaN at NaN, the shared rule).
    zero = ops.where(ops.isnan(x), x, ops.zeros_like(x))
    d_alpha_p = ops.where(finite > 0, finite * finite, zero)
    d_alpha_n = ops.where(finite <= 0, ops.expm1(capped) - finite, zero)
    # The limits at ±inf: the slope's (+inf: ±inf by alpha_p's sign, beta where it is 0; -inf: beta - alpha_n),
    # and alpha_p's and alpha_n's on their own pieces (+inf each), 0 on the other.
    up = ops.where(alpha_p > 0, math.inf, ops.where(alpha_p < 0, -math.inf, beta))
    slope = ops.where(x == math.inf, up, ops.where(x == -math.inf, beta - alpha_n, slope))
    d_alpha_p = ops.where(x == math.inf, math.inf, ops.where(x == -math.inf, 0.0, d_alpha_p))
    d_alpha_n = ops.where(x == -math.inf, math.inf, ops.where(x == math.inf, 0.0, d_alpha_n))
    return dy * slope, dy * d_alpha_p, dy * d_alpha_n


def acon_c(x, p1, p2, beta):
    """ACON-C (Ma et al. 2021, "Activate or Not"): `f(x) = (p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x`.

    `p1`, `p2` and `beta` broadcast against `x` (the paper learns one of each per channel). Computed as
    `x * (p1 * s + p2 * (1 - s))` with `s = sigmoid(z)`, `z = beta * (p1 - p2) * x`, and `1 - s` as `sigmoid(-z)`:
    the bracket lies between p1 and p2, so no term overflows where f does not, and it is p1 or p2 to the last bit
    where s is 1 or 0 (`p2 + (p1 - p2) * s` cancels there). Derivative at 0: `(p1 + p2) / 2`. At ±inf: `c * x`, `c`
    being p1 where z tends to +inf, p2 where it tends to -inf, `(p1 + p2) / 2` where `beta * (p1 - p2) = 0`, and 0
    where c is 0; the derivative there is c.
    """
    # In float32 for 16-bit inputs: the sigmoid and the products would round in the 16-bit type.
    return in_float32(with_tensors(lambda v, *p: _parametric(_acon_c_forward, _acon_c_backward, v, p)),
                      x, p1, p2, beta)


def _acon_c_limit(x, p1, p2, beta):
    """The slope `c` of the asymptote `c * x` towards the sign of x (for x = ±inf)."""
    d = p1 - p2
    towards = ops.where(x > 0, beta * d, -(beta * d))
    return ops.where(towards > 0, p1, ops.where(towards < 0, p2, p2 + 0.5 * d)), towards


def _acon_c_gates(finite, p1, p2, beta):
    """`z = beta * (p1 - p2) * x`, `sigmoid(z)` and `1 - sigmoid(z)`, the latter as `sigmoid(-z)` (no cancellation)."""
    z = (beta * (p1 - p2)) * finite
    return z, ops.sigmoid(z), ops.sigmoid(-z)


def _acon_c_forward(x, p1, p2, beta):
    finite = _finite(x)
    _, s, s_not = _acon_c_gates(finite, p1, p2, beta)
    y = finite * (p1 * s + p2 * s_not)
    c, _ = _acon_c_limit(x, p1, p2, beta)
    limit = ops.where(ops.equal(c, 0), ops.zeros_like(x), c * x)
    return ops.where(ops.isinf(x), limit, y)


def _acon_c_backward(x, p1, p2, beta, dy):
    finite = _finite(x)
    d = p1 - p2
    z, s, s_not = _acon_c_gates(finite, p1, p2, beta)
    ds = s * s_not
    # The bounded products `z * s'(z)` and `(d * x) * s'(z)` first, so that nothing overflows where the result
    # fits; 0 where s' is 0 (|z| > 87 in float32, also where z or d * x overflowed), their limit.
    flat = ops.equal(ds, 0)
    zds = ops.where(flat, ops.zeros_like(z), z * ds)
    u = d * finite
    uds = ops.where(flat, ops.zeros_like(u), u * ds)
    t = finite * zds  # beta * d * x**2 * s'
    slope = p1 * s + p2 * s_not + d * zds
    d_d = finite * s + t  # df/dp1 (df/dd); df/dp2 = x - df/dd
    d_p2 = finite * s_not - t
    d_beta = ops.where(flat, ops.zeros_like(u), u * uds)
    # At ±inf: the asymptote's slope; df/dd tends to x (towards > 0), 0 (towards < 0) or x / 2, df/dp2 the other
    # way; df/dbeta to 0, or +inf where beta = 0 and d != 0 (then it is d**2 x**2 / 4).
    c, towards = _acon_c_limit(x, p1, p2, beta)
    infinite = ops.isinf(x)
    half = 0.5 * x
    slope = ops.where(infinite, c, slope)
    d_d = ops.where(infinite, ops.where(towards > 0, x, ops.where(towards < 0, 0.0, half)), d_d)
    d_p2 = ops.where(infinite, ops.where(towards < 0, x, ops.where(towards > 0, 0.0, half)), d_p2)
    steep = ops.logical_and(ops.equal(beta * d, 0), ops.logical_not(ops.equal(d, 0)))
    d_beta = ops.where(infinite, ops.where(steep, math.inf, 0.0), d_beta)
    return dy * slope, dy * d_d, dy * d_p2, dy * d_beta


# Molina, Schramowski & Kersting 2020: the coefficients the paper's code starts every PAU from (ml-research/pau,
# `pade_optimized_leakyrelu`, the default of its `PAU()`), a least-squares fit of leaky ReLU (slope 0.01) on
# [-3, 3]; lowest degree first.
PAU_NUMERATOR = (3.35583603e-02, 5.05000375e-01, 1.65343934e+00, 2.01001052e+00, 9.31901999e-01, 1.52424124e-01)
PAU_DENOMINATOR = (3.30847488e-06, 3.98021568e+00, 5.12471206e-07, 3.01830109e-01)


@_register
def pau(x, numerator=PAU_NUMERATOR, denominator=PAU_DENOMINATOR):
    """Padé activation unit (Molina et al. 2020) in its safe form, a rational function without poles:

    ```
    f(x) = P(x) / Q(x),  P(x) = a_0 + a_1 x + ... + a_m x**m,  Q(x) = 1 + |b_1| |x| + ... + |b_n| |x|**n
    ```
    `numerator` is `(a_0, ..., a_m)` and `denominator` `(b_1, ..., b_n)`, numbers or tensors that broadcast
    against `x`; their lengths are the degrees (the paper's m = 5, n = 4). The defaults are the fit of leaky ReLU
    the paper's code starts from. `|x|` and `|b_k|` are differentiated as `sign`, 0 at 0, as the paper's code and
    PyTorch do: the derivative at 0 is `a_1`, and a `b_k` of 0 gets the gradient 0.

    At ±inf the limits, set by the highest nonzero coefficients `a_p` and `b_q` (q = 0, `|b_0| = 1`, where every
    b is 0): ±inf where p > q (the sign of `a_p * x**p`), `a_q / |b_q| * sign(x)**q` where p = q, else 0; the
    derivative's likewise (`a_p / |b_q| * sign(x)**q` where p = q + 1). Where |x| > 1, P and Q are evaluated
    divided by `|x|**q` (with 1/x for the powers below q), and P's coefficients divided by what is left of Q, so
    that no partial result over- or underflows where f does not: `x**5` overflows float32 from |x| = 5e7, where the
    default f is about x / 2.
    """
    numerator, denominator = tuple(numerator), tuple(denominator)
    if not numerator:
        raise ValueError(f"Argument `numerator` needs at least the coefficient a_0. Received: numerator={numerator!r}")
    # In float32 for 16-bit inputs: x**5 overflows float16 above |x| = 9.2.
    return in_float32(with_tensors(lambda v, *p: _pau(v, p, len(numerator))), x, *numerator, *denominator)


def _pau(x, coefficients, size):
    if any(tuple(ops.shape(c)) for c in coefficients):  # per channel: as the other learned activations
        return _parametric(_rational.forward, _rational.backward, x, coefficients, (size,))
    return _rational.summed(x, coefficients, size)

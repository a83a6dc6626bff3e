"""The kernel of the Padé activation unit (`relu_zoo.activations.pau`): a rational function P(x) / Q(x) of learned
coefficients, Q = 1 + sum_k |b_k| |x|**k, evaluated so that nothing over- or underflows where f does not, with its
backward pass written out (the limits at ±inf for the value and every gradient, derivative 0 of |x| at 0).
"""

import keras
import numpy as np
from keras import ops

from relu_zoo._xla import fused


def summed(x, coefficients, size):
    """`forward(x, *coefficients, size)`, differentiated by `backward`, for coefficients of one value each (the
    paper's one rational per layer): their gradients are summed inside the backward pass's loop, one term per
    coefficient and input element, none of them kept (on TensorFlow's CPU the step takes 3/4 of the time it takes
    with the terms written out and summed after, as `modern_activations._parametric` does for per-channel
    coefficients)."""

    @ops.custom_gradient
    def kernel(x, *coefficients):
        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            return fused(_backward_summed)(x, *coefficients, dy, size)

        return fused(forward)(x, *coefficients, size), grad

    return kernel(x, *coefficients)


def _backward_summed(x, *args):
    dx, *terms = backward(x, *args)
    return (dx, *(ops.sum(term) for term in terms))


def _pick(q, values):
    """`values[q]`, element by element (q holds the integers 0 .. len(values) - 1 as floats)."""
    out = values[0]
    for k in range(1, len(values)):
        out = ops.where(ops.equal(q, k), values[k], out)
    return out


def _descending(x, coefficients):
    """`[F_0, ..., F_d]`, `F_k = sum_{i >= k} coefficients[i] * x**(i - k)`, by Horner's rule from the top. The term
    `x * F_{k+1}` is 0 where F_{k+1} is, so that at x = ±inf each F_k is its limit (±inf by the sign of its leading
    term, or its constant term), not `inf * 0`."""
    chain = [coefficients[-1]]
    for coefficient in reversed(coefficients[:-1]):
        chain.append(coefficient + ops.where(ops.equal(chain[-1], 0), ops.zeros_like(x), x * chain[-1]))
    return chain[::-1]


def _ascending(t, coefficients, count):
    """`[G_0, ..., G_{count-1}]`, `G_k = sum_{i <= k} coefficients[i] * t**(k - i)` (coefficients past the end 0)."""
    chain = [coefficients[0] + ops.zeros_like(t)]
    for k in range(1, count):
        chain.append((coefficients[k] + t * chain[-1]) if k < len(coefficients) else t * chain[-1])
    return chain[:count]


def _scales(x, coefficients, size):
    """What both passes share: `a`, the a_j times `scale`; |b_k|; q, the degree of Q (per parameter position); |x|,
    sign(x), 1/x, |1/x|; `[H_0, ..., H_n]`, `H_k = Q_k(x) / |x|**k` for the truncation `Q_k = 1 + sum_{i <= k} |b_i|
    |x|**i` (so `Q = |x|**q H_q`); `near` (|x| <= 1); `inverse`, 1 / the denominator (Q near, H_q beyond); `scale`
    and `boost`.

    `scale` is `inverse`, so that Horner's rule on the scaled a_j computes f itself: every partial result is a part
    of f, and none over- or underflows where f does not (as P or P / |x|**q would for a |b_q| far from 1). Where an
    a_j / H_q would overflow (a |b_q| below |a_j| / 4e37 in float32) it is capped, and `boost` multiplies it back.
    """
    a, c = list(coefficients[:size]), [ops.abs(b) for b in coefficients[size:]]
    q = ops.zeros_like(x if not c else c[0])
    for k, ck in enumerate(c, 1):
        q = ops.where(ck > 0, ops.full_like(q, k), q)
    r, t = ops.abs(x), 1 / x
    s = ops.abs(t)
    h = [ops.ones_like(x)]
    for ck in c:
        h.append(ck + s * h[-1])
    near = r <= 1
    inverse = 1 / ops.where(near, _horner(r, [1.0, *c]), _pick(q, h))
    largest = 1.0
    for aj in a:
        largest = ops.maximum(largest, ops.abs(aj))
    cap = float(np.finfo(keras.backend.standardize_dtype(x.dtype)).max) / 8 / largest
    scale = ops.minimum(inverse, cap)
    boost = ops.where(inverse > cap, inverse / cap, ops.ones_like(inverse))
    return [aj * scale for aj in a], c, q, r, ops.sign(x), t, s, h, near, inverse, boost


def forward(x, *args):
    """f(x) for `coefficients` a_0..a_m, b_1..b_n (`args`, then m + 1)."""
    *coefficients, size = args
    a, c, q, _, sign, t, _, _, near, _, boost = _scales(x, coefficients, size)
    f = _descending(x, a)  # F_k = (P / x**k)'s terms from x**k up, scaled: F_0 = f where |x| <= 1
    # |x| > 1: sign(x)**q (P / x**q) / H_q, P / x**q = F_q + G_{q-1} / x (G: the terms below x**q, in t = 1/x).
    # Divided by x rather than times t: t is subnormal, and taken as 0, within a factor 4 of the largest number.
    zeros = ops.zeros_like(x)
    g = _ascending(t, a, len(c))
    upper = _pick(q, [f[k] if k < len(a) else zeros for k in range(len(c) + 1)])
    lower = _pick(q, [zeros, *g])
    parity = _pick(q, [ops.ones_like(x) if k % 2 == 0 else sign for k in range(len(c) + 1)])
    y = ops.where(near, f[0], parity * (upper + lower / x)) * boost
    return ops.where(ops.isnan(x), x, y)


def _horner(z, coefficients):
    """`sum_i coefficients[i] * z**i` (z finite)."""
    value = coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        value = coefficient + z * value
    return value


def backward(x, *args):
    """`dy * f'(x)` and `dy` times each coefficient's derivative, element by element (`args`: the coefficients, dy,
    m + 1)."""
    *coefficients, dy, size = args
    a, c, q, r, sign, t, s, h, near, inverse, boost = _scales(x, coefficients, size)
    signs_b = [ops.sign(b) for b in coefficients[size:]]
    m, n = len(a) - 1, len(c)
    ones, zeros = ops.ones_like(x), ops.zeros_like(x)
    f = _descending(x, a)
    powers = [ones]
    for _ in range(max(m, n)):
        powers.append(powers[-1] * x)
    # |x| <= 1: f' = (P' - f Q') / Q, Q' = sign(x) (|b_1| + 2 |b_2| |x| + ...) (0 at x = 0);
    # df/da_j = x**j / Q; df/db_k = -sign(b_k) |x|**k f / Q.
    y_near = f[0] * boost
    slope_p = _horner(x, [j * a[j] for j in range(1, m + 1)]) * boost if m else 0.0  # P' / Q
    slope_q = sign * _horner(r, [k * c[k - 1] for k in range(1, n + 1)]) if n else 0.0  # Q'
    dx_near = slope_p - y_near * slope_q * inverse
    da_near = [powers[j] * inverse for j in range(m + 1)]
    db_near = [-signs_b[k - 1] * ops.abs(powers[k]) * y_near * inverse for k in range(1, n + 1)]
    # |x| > 1, divided by |x|**q as in the forward pass. f' = (P' - P Q' / Q) / Q = sum_i (i - kappa) a_i x**(i-1)
    # / Q, kappa = x Q' / Q = (sum_k k |b_k| s**(q-k)) / H_q, a weighted mean of 0..q (q at ±inf): one polynomial,
    # whose leading term (p - kappa) a_p does not cancel, rather than two that overflow together.
    hd = [zeros]
    for k, ck in enumerate(c, 1):
        hd.append(k * ck + s * hd[-1])
    kappa = _pick(q, hd) * inverse
    weighted = [(i - kappa) * ai for i, ai in enumerate(a)]
    fk, gk = _descending(x, weighted), _ascending(t, weighted, n + 1)
    parity = _pick(q, [ones if k % 2 == 0 else sign for k in range(n + 1)])
    upper = _pick(q, [fk[k + 1] if k < m else zeros for k in range(n + 1)])
    dx_far = parity * (upper + _pick(q, gk) / x) * boost
    # df/da_j = sign(x)**q x**(j-q) / H_q; df/db_k = -sign(b_k) sign(x)**k (P / x**(2q-k)) / H_q**2 for k <= q
    # (a b_k past q is 0: its gradient is 0). 1 / H_q times x**i or t**i, a factor at a time: every partial product
    # lies between 1 / H_q and the result, so neither overflows nor underflows where the result does not (the first
    # factor t as a division by x, as above).
    up, down = [inverse], [inverse]
    for _ in range(m):
        up.append(up[-1] * x)
    for i in range(n):
        down.append(down[-1] / x if i == 0 else down[-1] * t)
    da_far = [parity * _pick(q, [up[j - k] if j >= k else down[k - j] for k in range(n + 1)]) for j in range(m + 1)]
    g = _ascending(t, a, 2 * n)
    scaled = [(f[i] if i <= m else 0.0) + t * g[i - 1] for i in range(1, 2 * n)]  # P / x**i / H_q, i = 1 .. 2n - 1
    db_far = []
    for k in range(1, n + 1):
        term = _pick(q, [scaled[2 * j - k - 1] if j >= k else ones for j in range(n + 1)])
        # 0 stays 0: TensorFlow's graph optimizer may regroup `u * boost * inverse` as `u * (boost * inverse)`,
        # which may overflow where the scale was capped, and `0 * inf` is NaN.
        term = ops.where(ops.equal(term, 0), term, term * boost * inverse)
        term = -signs_b[k - 1] * (sign if k % 2 else ones) * term
        db_far.append(ops.where(c[k - 1] > 0, term, zeros))
    nan = ops.isnan(x)
    return tuple(dy * ops.where(nan, x, ops.where(near, close, distant)) for close, distant in
                 zip([dx_near, *da_near, *db_near], [dx_far, *da_far, *db_far]))

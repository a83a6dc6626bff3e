import math

import keras
from keras import ops

from relu_zoo import activations
from relu_zoo.layers.base import ParametricActivation, activation, check_dtype_range, check_number


@ops.custom_gradient
def _softplus(w):
    """softplus(w), differentiated as `dy * sigmoid(w)`, which is positive everywhere: an infinite `dy` (a weight's
    gradient at an infinite input) stays infinite where sigmoid(w) underflows to 0, rather than `inf * 0 = NaN`."""

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        slope = ops.sigmoid(w)
        return ops.where(ops.logical_and(ops.isinf(dy), ops.equal(slope, 0)), dy, dy * slope)

    return ops.softplus(w), grad


def _inverse_softplus(value):
    """The w with softplus(w) = value > 0, without overflow for large values (`log(expm1(v))` has it)."""
    return value + math.log(-math.expm1(-value))


@activation("xielu", function=activations.xielu, family="smooth",
            formula="α_p·x² + β·x if x > 0 else α_n·(exp(min(x, ε)) − 1) + (β − α_n)·x, "
                    "α_p and α_n learned",
            parameters="α_p (0.8), α_n (0.8), one each per layer, kept > 0 and > β; β (0.5), ε (−1e-6)",
            derivative_text="β − α_n",
            # The authors' reference code, with one weight per element of the fixture's row (`channelwise=True`).
            torch=[("xielu", {"channelwise": True}, {"alpha_p": 0.5, "alpha_n": 2.0},
                    "torch.where(x > 0, F.softplus(alpha_p) * x * x + 0.5 * x, "
                    "(0.5 + F.softplus(alpha_n)) * torch.expm1(torch.clamp(x, max=-1e-6)) "
                    "- (0.5 + F.softplus(alpha_n)) * x + 0.5 * x)")])
class XIELU(ParametricActivation):
    """xIELU: a learned quadratic for positive inputs and an ELU-like curve for negative ones (Apertus).

    Formula:
    ```
    f(x) = alpha_p * x**2 + beta * x                                      if x > 0
    f(x) = alpha_n * (exp(min(x, eps)) - 1) - alpha_n * x + beta * x      otherwise
    alpha_p = softplus(w_p),  alpha_n = beta + softplus(w_n)
    ```
    The weights are `w_p` and `w_n` (named `alpha_p` and `alpha_n`, as in the authors' code), so that
    `alpha_p > 0` and `alpha_n > beta` throughout training. `eps` caps the exponential's argument, as the authors'
    code does; on (eps, 0] the slope is `beta - alpha_n`, which is the derivative at 0 (-0.3 at the start; the
    right piece's is `beta`). Huang & Schlag learn one `alpha_p` and one `alpha_n` per layer (the default here)
    starting from 0.8 each.

    Args:
        alpha_p_init: Initial `alpha_p`, > 0. Default 0.8.
        alpha_n_init: Initial `alpha_n`, > `beta`. Default 0.8.
        beta: The fixed linear coefficient, >= 0. Default 0.5.
        eps: The cap of the exponential's argument, <= 0. Default -1e-6.
        channelwise: One `alpha_p` and `alpha_n` per channel (True) or per layer (False). Default None: per
            layer, unless `shared_axes` is given.
        shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(XIELU()(np.array([[-2.0, 0.0, 3.0]])))
    array([[-9.1731787e-02, -7.9999967e-07,  8.7000008e+00]], dtype=float32)

    Reference:
        Huang & Schlag, "Deriving Activation Functions Using Integration", arXiv 2024.
    """

    per_layer_by_default = True

    def __init__(self, alpha_p_init=0.8, alpha_n_init=0.8, beta=0.5, eps=-1e-6, channelwise=None, shared_axes=None,
                 data_format=None, **kwargs):
        alpha_p_init = check_number("alpha_p_init", alpha_p_init, minimum=0, inclusive=False)
        beta = check_number("beta", beta, minimum=0)
        alpha_n_init = check_number("alpha_n_init", alpha_n_init)
        if not alpha_n_init > beta:
            raise ValueError("Argument `alpha_n_init` must be > `beta` (alpha_n = beta + softplus(w_n)). "
                             f"Received: alpha_n_init={alpha_n_init!r}, beta={beta!r}")
        eps = check_number("eps", eps)
        if eps > 0:
            raise ValueError(f"Argument `eps` must be <= 0. Received: eps={eps!r}")
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        check_dtype_range(self, alpha_p_init=alpha_p_init, alpha_n_init=alpha_n_init, beta=beta)
        self.alpha_p_init, self.alpha_n_init, self.beta, self.eps = alpha_p_init, alpha_n_init, beta, eps

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        self.alpha_p = self._add_parameter(
            "alpha_p", shape, keras.initializers.Constant(_inverse_softplus(self.alpha_p_init)))
        self.alpha_n = self._add_parameter(
            "alpha_n", shape, keras.initializers.Constant(_inverse_softplus(self.alpha_n_init - self.beta)))

    def call(self, inputs):
        # The softplus in float32 for 16-bit layers, where the function computes.
        dtype = "float32" if self.compute_dtype in ("float16", "bfloat16") else self.compute_dtype
        alpha_p = _softplus(ops.cast(self._param(self.alpha_p), dtype))
        alpha_n = self.beta + _softplus(ops.cast(self._param(self.alpha_n), dtype))
        return activations.xielu(inputs, alpha_p, alpha_n, self.beta, self.eps)

    def get_config(self):
        return {**super().get_config(), "alpha_p_init": self.alpha_p_init, "alpha_n_init": self.alpha_n_init,
                "beta": self.beta, "eps": self.eps}

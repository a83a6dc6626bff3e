import keras
import ml_dtypes
import numpy as np

from relu_zoo import activations
from relu_zoo.layers.base import ParametricActivation, activation, check_number
from relu_zoo.modern_activations import PAU_DENOMINATOR, PAU_NUMERATOR


# The "rectifier" family (He initialization): a PAU starts as the paper's fit of leaky ReLU.
@activation("pau", function=activations.pau, family="rectifier",
            formula="P(x)/Q(x), P = a₀ + a₁x + … + a₅x⁵, Q = 1 + abs(b₁x) + … + abs(b₄x⁴), a and b learned",
            parameters="a₀…a₅, b₁…b₄ (the paper's fit of leaky ReLU), one each per layer",
            derivative_text="a₁",
            # The paper's formula, with one weight per element of the fixture's row (`channelwise=True`).
            torch=[("pau", {"channelwise": True},
                    {"a0": 0.03125, "a1": 0.5, "a2": 1.625, "a3": 2.0, "a4": 0.9375, "a5": 0.15625,
                     "b1": -0.125, "b2": 4.0, "b3": -0.0625, "b4": 0.3125},
                    "(a0 + a1 * x + a2 * x**2 + a3 * x**3 + a4 * x**4 + a5 * x**5) / (1 + torch.abs(b1) * torch.abs(x) "
                    "+ torch.abs(b2) * torch.abs(x)**2 + torch.abs(b3) * torch.abs(x)**3 "
                    "+ torch.abs(b4) * torch.abs(x)**4)")])
class PAU(ParametricActivation):
    """Padé activation unit: a learned rational function, P(x) / Q(x), whose denominator has no zero.

    Formula:
    ```
    f(x) = (a0 + a1 x + ... + a5 x**5) / (1 + |b1| |x| + |b2| |x|**2 + ... + |b4| |x|**4)
    ```
    The "safe" PAU of Molina et al., as the paper writes it and the code published with it computes it (Q >= 1, so
    f has no pole), of degrees m = 5 and n = 4. The authors' later packages (`rational_activations`) also offer
    `1 + |b1 x + ... + b4 x**4|` ("version B"); their default is this one ("version A"). The weights are the
    coefficients `a0` to `a5` and `b1` to `b4`, one each per layer as in the paper. They start from the coefficients
    the paper's code starts from (`pade_optimized_leakyrelu`, the default of its `PAU()`): a least-squares fit of
    leaky ReLU (slope 0.01) on [-3, 3], within 0.034 of it there (f(0) = a0 = 0.034), growing like 0.505 x beyond.

    Derivative at 0: `a1` (0.505 at the start), taking the derivative of |x| at 0 to be 0, as the paper's code
    and PyTorch do; likewise a `b_k` of exactly 0 gets the gradient 0. At ±inf: the limits, by the highest
    nonzero coefficients (±inf, the sign of `a5 x`, from the start; see `relu_zoo.activations.pau`).

    Args:
        numerator_init: The initial `a0, ..., am`, at least one number; its length sets the degree m. Default
            None: the paper's fit of leaky ReLU (m = 5).
        denominator_init: The initial `b1, ..., bn`; its length sets the degree n. Default None: the paper's fit
            (n = 4).
        channelwise: One set of coefficients per channel (True) or per layer (False). Default None: per layer,
            unless `shared_axes` is given.
        shared_axes, data_format: Where parameters live; see `PReLU`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of rank >= 2.

    Example:

    >>> np.asarray(PAU()(np.array([[-2.0, 0.0, 3.0]])))
    array([[-0.01884627,  0.03355836,  2.990408  ]], dtype=float32)

    Reference:
        Molina, Schramowski & Kersting, "Padé Activation Units: End-to-end Learning of Flexible Activation
        Functions in Deep Networks", ICLR 2020.
    """

    per_layer_by_default = True

    def __init__(self, numerator_init=None, denominator_init=None, channelwise=None, shared_axes=None,
                 data_format=None, **kwargs):
        super().__init__(shared_axes=shared_axes, channelwise=channelwise, data_format=data_format, **kwargs)
        self.numerator_init = self._coefficients("numerator_init", numerator_init, PAU_NUMERATOR, minimum=1)
        self.denominator_init = self._coefficients("denominator_init", denominator_init, PAU_DENOMINATOR, minimum=0)

    def _coefficients(self, name, values, default, minimum):
        """`values` (None: `default`) as a list of Python floats, each finite and within the layer's dtype."""
        if values is None:
            return [float(v) for v in default]
        if isinstance(values, np.ndarray) and values.ndim == 1:
            values = values.tolist()
        if not isinstance(values, (list, tuple)) or len(values) < minimum:
            raise ValueError(f"Argument `{name}` must be a list of at least {minimum} number(s), the coefficients from "
                             f"the lowest degree up. Received: {name}={values!r}")
        try:
            values = [float(check_number(name, v)) for v in values]
        except ValueError:
            raise ValueError(f"Argument `{name}` must hold finite real numbers. Received: {name}={values!r}") from None
        dtype = keras.backend.standardize_dtype(self.compute_dtype)
        if dtype in ("float16", "bfloat16", "float32", "float64"):
            largest = float(ml_dtypes.finfo(dtype).max)
            if any(abs(v) > largest for v in values):
                raise ValueError(f"Argument `{name}` must hold numbers of the layer's dtype {dtype}, |v| <= "
                                 f"{largest:.8g}. Received: {name}={values!r}")
        return values

    def build(self, input_shape):
        shape = self.parameter_shape(input_shape)
        for j, value in enumerate(self.numerator_init):
            setattr(self, f"a{j}", self._add_parameter(f"a{j}", shape, keras.initializers.Constant(value)))
        for k, value in enumerate(self.denominator_init, 1):
            setattr(self, f"b{k}", self._add_parameter(f"b{k}", shape, keras.initializers.Constant(value)))

    def call(self, inputs):
        numerator = [self._param(getattr(self, f"a{j}")) for j in range(len(self.numerator_init))]
        denominator = [self._param(getattr(self, f"b{k}")) for k in range(1, len(self.denominator_init) + 1)]
        return activations.pau(inputs, numerator, denominator)

    def get_config(self):
        return {**super().get_config(), "numerator_init": list(self.numerator_init),
                "denominator_init": list(self.denominator_init)}

from relu_zoo import activations
from relu_zoo.layers.base import ElementwiseActivation, activation


@activation("gelu", function=activations.gelu, family="smooth", derivative_at_zero=0.5,
            aliases={"gelu_tanh": {"approximate": True}},
            formula="x·Φ(x) (tanh form if approximate)",
            parameters="approximate (False)")
class GELU(ElementwiseActivation):
    """Gaussian error linear unit.

    Formula:
    ```
    f(x) = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))             (exact)
    f(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))  (approximate)
    ```
    Derivative at 0: 0.5. The tanh form is computed as `x * sigmoid(2u)`, its
    value and derivative accurate where `1 + tanh(u)` cancels (x < -4); beyond
    |x| = 25 it is `x` or `-0` (what it rounds to in every float dtype) with
    derivative 1 or 0, so its gradient stays finite where `x**3` overflows.

    Args:
        approximate: Use the tanh approximation. Default False (exact; note
            `keras.ops.gelu` defaults to True).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.

    Example:

    >>> np.asarray(GELU()(np.array([-2.0, 0.0, 3.0])))
    array([-0.04550026,  0.        ,  2.9959502 ], dtype=float32)

    Reference:
        Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.
    """

    def __init__(self, approximate=False, **kwargs):
        if not isinstance(approximate, bool):
            raise ValueError(f"Argument `approximate` must be a bool. Received: approximate={approximate!r}")
        super().__init__(**kwargs)
        self.approximate = approximate

    def call(self, inputs):
        return activations.gelu(inputs, approximate=self.approximate)

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}

from relu_zoo import activations
from relu_zoo.layers.base import GatedActivation, activation


@activation("geglu", function=activations.geglu, family="gated",
            formula="a·gelu(b)",
            parameters="axis (−1), approximate (False)",
            derivative_text="0 (0.5·a in b)")
class GEGLU(GatedActivation):
    """GELU-gated linear unit: the first half of the channels times the GELU of the second half.

    Formula:
    ```
    a, b = split(x, 2, axis=axis)   # first half the value, second half the gate (torch.nn.functional.glu)
    f(x) = a * gelu(b)                     # gelu(b) = b * Phi(b); tanh form with approximate=True
    ```
    The size of `axis` halves; an odd size is a ValueError naming the axis and its size.
    Derivative in `b` at `b = 0`: `0.5 * a` (`gelu'(0) = 0.5`); in `a`: `gelu(b)`.

    Args:
        axis: The axis to split (the channel axis), default -1.
        approximate: Use GELU's tanh approximation. Default False (exact).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor whose `axis` has an even size.

    Example:

    >>> np.asarray(GEGLU()(np.array([[1.0, -2.0, 3.0, 0.5, 2.0, -1.0]])))
    array([[ 0.34573123, -3.9089994 , -0.47596577]], dtype=float32)

    Reference:
        Shazeer, "GLU Variants Improve Transformer", 2020.
    """

    def __init__(self, axis=-1, approximate=False, **kwargs):
        if not isinstance(approximate, bool):
            raise ValueError(f"Argument `approximate` must be a bool. Received: approximate={approximate!r}")
        super().__init__(axis=axis, **kwargs)
        self.approximate = approximate

    def call(self, inputs):
        return activations.geglu(inputs, axis=self.axis, approximate=self.approximate)

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}

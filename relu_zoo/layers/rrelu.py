import keras

from relu_zoo import _compat, activations
from relu_zoo.layers.base import activation, check_dtype_range, check_number

PARAMETERIZATIONS = ("slope", "inverse")


@activation("rrelu", function=activations.rrelu, family="rectifier",
            aliases={"randomized_relu": {}, "rrelu_xu": {"lower": 3.0, "upper": 8.0, "parameterization": "inverse"}},
            formula="x if x > 0 else a·x; train a ~ U(lower, upper) per element, test a = (lower+upper)/2",
            parameters='lower (1/8), upper (1/3), seed, parameterization ("slope"; "inverse": slope 1/a, a ~ U(3, 8))',
            derivative_text="the slope")
class RReLU(keras.layers.Layer):
    """Randomized leaky ReLU: a random negative slope in training, a fixed one at inference.

    Formula (`parameterization="slope"`, default):
    ```
    training:   f(x) = x if x > 0 else a * x,   a ~ U(lower, upper), fresh per element and step
    inference:  f(x) = x if x > 0 else ((lower + upper) / 2) * x
    ```
    With `parameterization="inverse"` (Xu et al.'s own notation, use
    `lower=3, upper=8`): training slope `1 / a` with `a ~ U(lower, upper)`,
    inference slope `2 / (lower + upper)` (= 2/11 for the paper's U(3, 8)).
    The default `U(1/8, 1/3)` covers the same slope range with a uniform
    slope, as in PyTorch's `nn.RReLU`.
    Derivative at 0: the slope of the negative branch.

    Randomness follows `keras.layers.GaussianNoise`: a `SeedGenerator` made
    from `seed`, so a seeded layer is reproducible and draws new slopes on
    every step inside compiled (also XLA) functions.

    Args:
        lower: Lower bound of the slope (or of the divisor for "inverse"). Default 1/8.
        upper: Upper bound, >= lower. Default 1/3.
        seed: Optional int seed.
        parameterization: "slope" (default) or "inverse" (see above).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A tensor of any rank.
        training: Python bool: random slopes (True) or the fixed slope
            (False, default).

    Example:

    >>> np.asarray(RReLU()(np.array([-2.0, 0.0, 3.0])))
    array([-0.45833334,  0.        ,  3.        ], dtype=float32)

    Reference:
        Xu, Wang, Chen & Li, "Empirical Evaluation of Rectified Activations
        in Convolutional Network", 2015.
    """

    def __init__(self, lower=1.0 / 8.0, upper=1.0 / 3.0, seed=None, parameterization="slope", **kwargs):
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"Argument `parameterization` must be one of {PARAMETERIZATIONS}. "
                f"Received: parameterization={parameterization!r}"
            )
        inverse = parameterization == "inverse"
        lower = check_number("lower", lower, minimum=0, inclusive=not inverse)
        upper = check_number("upper", upper, minimum=0, inclusive=not inverse)
        if lower > upper:
            raise ValueError(f"Argument `lower` must be <= `upper`. Received: lower={lower}, upper={upper}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not -2**63 <= seed < 2**63):
            # The range of keras.random.SeedGenerator's int64 state.
            raise ValueError(f"Argument `seed` must be an int in [-2**63, 2**63) or None. Received: seed={seed!r}")
        super().__init__(**kwargs)
        check_dtype_range(self, lower=lower, upper=upper)
        self.lower = lower
        self.upper = upper
        self.seed = seed
        self.parameterization = parameterization
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator(seed)
        _compat.build_at_init(self)

    @property
    def inference_slope(self):
        return activations.rrelu_inference_slope(self.lower, self.upper, self.parameterization == "inverse")

    def call(self, inputs, training=False):
        return activations.rrelu(
            inputs,
            lower=self.lower,
            upper=self.upper,
            training=bool(training),
            seed=self.seed_generator,
            inverse=self.parameterization == "inverse",
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "lower": self.lower,
            "upper": self.upper,
            "seed": self.seed,
            "parameterization": self.parameterization,
        }

"""What benchmarks/layers.py times: each activation's relu_zoo layer, Keras' own layer and the backend's own function,
forward + backward, as a step per candidate on TensorFlow (graph mode or XLA, and conv + bias + activation), JAX
(`jax.jit`) or PyTorch (eager autograd); and, for each backend's own function, the rules of docs/howto/layers.md it
does not keep."""

import importlib
import os

import numpy as np

KERAS_MATCH = {
    "relu": lambda keras: keras.layers.ReLU(),
    "relu6": lambda keras: keras.layers.ReLU(max_value=6.0),
    "leaky_relu": lambda keras: keras.layers.LeakyReLU(negative_slope=0.01),
    "prelu": lambda keras: keras.layers.PReLU(shared_axes=[1, 2]),
    "elu": lambda keras: keras.layers.ELU(),
    "selu": lambda keras: keras.layers.Activation("selu"),
    "gelu": lambda keras: keras.layers.Activation("gelu"),
    "silu": lambda keras: keras.layers.Activation("silu"),
    "mish": lambda keras: keras.layers.Activation("mish"),
    "softplus": lambda keras: keras.layers.Activation("softplus"),
    "celu": lambda keras: keras.layers.Activation("celu"),
}

KERAS_NAMES = {
    "relu": "ReLU", "relu6": "ReLU(max_value=6)", "leaky_relu": "LeakyReLU", "prelu": "PReLU(shared_axes=[1,2])",
    "elu": "ELU", "selu": 'Activation("selu")', "gelu": 'Activation("gelu")', "silu": 'Activation("silu")',
    "mish": 'Activation("mish")', "softplus": 'Activation("softplus")', "celu": 'Activation("celu")',
}

# TensorFlow's (or keras.ops') own function for an activation: (its name, a function of x, the rules of
# docs/howto/layers.md it does not keep, and how relu_zoo keeps them: what it pays where it costs more).
_NAN_LOOP = ("NaN gradient at a NaN input ({}): relu_zoo's backward pass is an XLA loop of its own in its "
             "place (ReluGrad after a check for NaN, one more read, measured the same)")
PLAIN_OPS = {
    "relu": ("tf.nn.relu", lambda tf, x: tf.nn.relu(x), _NAN_LOOP.format("ReluGrad gives 0")),
    "relu6": ("tf.nn.relu6", lambda tf, x: tf.nn.relu6(x), _NAN_LOOP.format("Relu6Grad gives 0")),
    "leaky_relu": ("tf.nn.leaky_relu", lambda tf, x: tf.nn.leaky_relu(x, 0.01),
                   _NAN_LOOP.format("LeakyReluGrad gives the slope") + "; exact slope in float64"),
    "elu": ("tf.nn.elu", lambda tf, x: tf.nn.elu(x),
            "expm1 (the kernel's exp(x) - 1 is 20 % off at x = -1e-7); NaN gradient at a NaN input: relu_zoo's "
            "XLA loops compute expm1, and alpha·exp(x) back where EluGrad reads the output (y + alpha, which "
            "cancels for x < -10)"),
    "selu": ("tf.nn.selu", lambda tf, x: tf.nn.selu(x),
             "expm1; derivative at 0 is scale·alpha (the kernel's: scale); an exp back, as ELU's"),
    "celu": ("keras.ops.celu", lambda tf, x: _keras_ops().celu(x), "expm1; 16-bit inputs computed in float32"),
    "gelu": ("tf.nn.gelu", lambda tf, x: tf.nn.gelu(x, approximate=False),
             "limits at ±inf (one select each way); constants in the input's dtype (the kernel's are float32)"),
    "silu": ("tf.nn.silu", lambda tf, x: tf.nn.silu(x),
             "limits at ±inf (silu(-inf) = 0 and silu'(inf) = 1, not NaN): x clipped, a max and a min in the loop"),
    "mish": ("x·tanh(softplus(x))", lambda tf, x: x * tf.math.tanh(tf.math.softplus(x)),
             "limits at ±inf (two selects)"),
    "softplus": ("tf.math.softplus", lambda tf, x: tf.math.softplus(x),
                 "PyTorch's threshold: exactly x where beta·x > 20 (a select in the forward loop)"),
    "crelu": ("tf.nn.crelu", lambda tf, x: tf.nn.crelu(x), "NaN gradient at a NaN input"),
}

NAN_GRADIENT = "NaN gradient at a NaN input"
LIMITS = "limits at ±inf (value 0 at -inf, derivatives 0 and 1; the function's: NaN)"
# On PyTorch relu_zoo runs PyTorch's kernels after one read of the input (relu_zoo._torch_ops).
_READ = ": relu_zoo reads the input once ({}) to find {} before PyTorch's kernels run"
TORCH_NAN = NAN_GRADIENT + _READ.format("a max", "NaN")
TORCH_LIMITS = LIMITS + _READ.format("a sum", "them and NaN")
# JAX's and PyTorch's own functions, as `PLAIN_OPS` (the module, jax or torch, is the function's first argument;
# PyTorch's prelu takes the slope after x). Checked at NaN, ±inf and 0 against relu_zoo in float32.
OWN_OPS = {
    "jax": {
        "relu": ("jax.nn.relu", lambda jax, x: jax.nn.relu(x), f"{NAN_GRADIENT} (its custom derivative gives 0)"),
        "relu6": ("jax.nn.relu6", lambda jax, x: jax.nn.relu6(x), NAN_GRADIENT),
        "leaky_relu": ("jax.nn.leaky_relu", lambda jax, x: jax.nn.leaky_relu(x, 0.01),
                       f"{NAN_GRADIENT}; derivative at 0 is negative_slope (its: 1)"),
        "elu": ("jax.nn.elu", lambda jax, x: jax.nn.elu(x), "none in float32 (the same expm1 form)"),
        "selu": ("jax.nn.selu", lambda jax, x: jax.nn.selu(x), "none in float32 (the same expm1 form)"),
        "celu": ("jax.nn.celu", lambda jax, x: jax.nn.celu(x), "16-bit inputs computed in float32"),
        "gelu": ("jax.nn.gelu", lambda jax, x: jax.nn.gelu(x, approximate=False),
                 f"{LIMITS}: one select each way; erfc (its 1 + erf(x/√2) cancels for negative x)"),
        "silu": ("jax.nn.silu", lambda jax, x: jax.nn.silu(x), f"{LIMITS}: x clipped, a max and a min in the loop"),
        "mish": ("jax.nn.mish", lambda jax, x: jax.nn.mish(x), f"{LIMITS}: two selects"),
        "softplus": ("jax.nn.softplus", lambda jax, x: jax.nn.softplus(x),
                     "PyTorch's threshold: exactly x where beta·x > 20 (the same in float32)"),
        "hard_sigmoid": ("jax.nn.hard_sigmoid", lambda jax, x: jax.nn.hard_sigmoid(x), NAN_GRADIENT),
        "hard_swish": ("jax.nn.hard_swish", lambda jax, x: jax.nn.hard_swish(x), "the limit at -inf (0, not NaN)"),
        "glu": ("jax.nn.glu", lambda jax, x: jax.nn.glu(x), f"{NAN_GRADIENT}; 16-bit inputs computed in float32"),
        # JAX has no rrelu: the plain way, slopes drawn with jax.random (its threefry generator), as Keras' are.
        "rrelu (training)": ("jax.random.uniform slopes", lambda jax, x: jax.numpy.where(
            x >= 0, x, x * jax.random.uniform(jax.random.key(0), x.shape, x.dtype, 1 / 8, 1 / 3)), NAN_GRADIENT),
    },
    "torch": {
        "relu": ("torch.relu", lambda torch, x: torch.relu(x), TORCH_NAN),
        "relu6": ("F.relu6", lambda torch, x: torch.nn.functional.relu6(x), TORCH_NAN),
        "leaky_relu": ("F.leaky_relu", lambda torch, x: torch.nn.functional.leaky_relu(x, 0.01), TORCH_NAN),
        "prelu": ("F.prelu", lambda torch, x, alpha: torch.nn.functional.prelu(x.view(-1, x.shape[-1]), alpha)
                  .view(x.shape), f"{NAN_GRADIENT}: relu_zoo checks the slope's gradient, which shows it"),
        "rrelu (training)": ("F.rrelu", lambda torch, x: torch.nn.functional.rrelu(x, 1 / 8, 1 / 3, training=True),
                             TORCH_NAN),
        "rrelu (inference)": ("F.rrelu", lambda torch, x: torch.nn.functional.rrelu(x, 1 / 8, 1 / 3), TORCH_NAN),
        "elu": ("F.elu", lambda torch, x: torch.nn.functional.elu(x), TORCH_NAN),
        "selu": ("F.selu", lambda torch, x: torch.nn.functional.selu(x), TORCH_NAN),
        "celu": ("F.celu", lambda torch, x: torch.nn.functional.celu(x), TORCH_NAN),
        "gelu": ("F.gelu", lambda torch, x: torch.nn.functional.gelu(x),
                 f"{TORCH_LIMITS}; erfc (its 1 + erf(x/√2) cancels for negative x): relu_zoo computes it with "
                 "PyTorch's erfc, which unlike its gelu kernel is not vectorized, in 7 passes"),
        "silu": ("F.silu", lambda torch, x: torch.nn.functional.silu(x), TORCH_LIMITS),
        "mish": ("F.mish", lambda torch, x: torch.nn.functional.mish(x), TORCH_LIMITS),
        "softplus": ("F.softplus", lambda torch, x: torch.nn.functional.softplus(x), "none (relu_zoo runs it)"),
        "hard_sigmoid": ("F.hardsigmoid", lambda torch, x: torch.nn.functional.hardsigmoid(x), TORCH_NAN),
        "hard_swish": ("F.hardswish", lambda torch, x: torch.nn.functional.hardswish(x),
                       f"{NAN_GRADIENT}; the limit at -inf (0, not NaN); x itself above 3 (its x·6/6 overflows)"
                       + _READ.format("a sum of squares", "them")),
        "glu": ("F.glu", lambda torch, x: torch.nn.functional.glu(x), TORCH_NAN),
    },
}

# Each backend's modes, and its relu: every ratio's common base.
MODES = {"tensorflow": ("graph", "xla"), "jax": ("jit",), "torch": ("eager",)}
BASE = {"tensorflow": "tf.nn.relu", "jax": "jax.nn.relu", "torch": "torch.relu"}

# The activations TensorFlow's graph optimizer (grappler's remapper) fuses into a preceding conv + bias.
CONV_FUSED = ("relu", "relu6", "leaky_relu", "elu")
CONV_SHAPE = (64, 32, 32, 32)  # the conv step's input; 32 filters, 3x3, "same"


def _keras_ops():
    import keras

    return keras.ops


def make_step(tf, fn, x, weights, cotangent, jit_compile=False):
    """A `tf.function` returning the loss and its gradients. The loss, as a training step's, keeps the forward pass
    alive: with the gradients alone TensorFlow prunes a forward kernel whose gradient reads the input (Keras'
    LeakyReLU, whose step then cost 0.75x `tf.nn.relu`'s), which no model's step can."""

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * cotangent) if y.shape == cotangent.shape else tf.reduce_sum(y)
        return [loss, *tape.gradient(loss, [x, *weights])]

    return step


def candidates(shape=(256, 32, 32, 64), names=None, unfused=(), jit_compile=False, conv=False):
    """{key: step} of one mode: "tf.nn.relu"; each activation's relu_zoo layer under its name (RReLU as "rrelu
    (training)" and "rrelu (inference)"), Keras' layer as "keras:<name>", the plain op as "plain:<name>"; with
    `unfused`, "<name> unfused" traced with `RELU_ZOO_XLA=0`; with `conv`, "conv+<name>" and "keras:conv+<name>"."""
    import keras
    import tensorflow as tf

    import relu_zoo

    x = tf.random.stateless_normal(shape, seed=[1, 2])
    cotangent = tf.random.stateless_normal(shape, seed=[3, 4])

    def step(fn, weights=()):
        return make_step(tf, fn, x, list(weights), cotangent, jit_compile)

    steps = {"tf.nn.relu": step(tf.nn.relu)}
    for name in names or relu_zoo.list_activations():
        layer = relu_zoo.get(name)
        layer.build(shape)
        if name == "rrelu":
            steps["rrelu (training)"] = step(lambda t, layer=layer: layer(t, training=True))
            steps["rrelu (inference)"] = step(layer)
        else:
            steps[name] = step(layer, layer.trainable_weights)
        if name in KERAS_MATCH:
            klayer = KERAS_MATCH[name](keras)
            klayer.build(shape)
            steps[f"keras:{name}"] = step(klayer, klayer.trainable_weights)
        if name in PLAIN_OPS:
            steps[f"plain:{name}"] = step(lambda t, op=PLAIN_OPS[name][1]: op(tf, t))
    for name in unfused:
        layer = relu_zoo.get(name)
        layer.build(shape)
        call = (lambda t, layer=layer: layer(t, training=True)) if name == "rrelu" else layer
        key = "rrelu (training) unfused" if name == "rrelu" else f"{name} unfused"
        steps[key] = step(_unfused(call), layer.trainable_weights)
    if conv:
        steps.update(conv_candidates(tf, keras, [n for n in CONV_FUSED if n in (names or CONV_FUSED)], jit_compile))
    return steps


def conv_candidates(tf, keras, names, jit_compile=False):
    """{"conv+<name>": step, "keras:conv+<name>": step}: a Conv2D with bias and the activation after it, the
    gradients for the input, kernel and bias (what a conv layer's training step computes)."""
    import relu_zoo

    x = tf.random.stateless_normal(CONV_SHAPE, seed=[5, 6])
    steps = {}
    for name in names:
        for key, act in ((f"conv+{name}", relu_zoo.get(name)), (f"keras:conv+{name}", KERAS_MATCH[name](keras))):
            conv = keras.layers.Conv2D(CONV_SHAPE[-1], 3, padding="same", use_bias=True)
            conv.build(CONV_SHAPE)
            cotangent = tf.random.stateless_normal(CONV_SHAPE, seed=[7, 8])
            steps[key] = make_step(tf, lambda t, conv=conv, act=act: act(conv(t)), x, conv.trainable_weights,
                                   cotangent, jit_compile)
    return steps


def backend_steps(backend, shape=(256, 32, 32, 64), names=None):
    """{key: a function running one forward + backward pass and waiting for it} on JAX (`jax.jit` of `jax.grad`)
    or PyTorch (eager autograd), this process's Keras backend: its relu (`BASE`), each activation's relu_zoo layer
    under its name (RReLU as "rrelu (training)" and "rrelu (inference)"), Keras' layer as "keras:<name>" and the
    backend's own function (`OWN_OPS`) as "plain:<key>"."""
    import keras

    import relu_zoo

    module = importlib.import_module(backend)
    rng = np.random.default_rng(0)
    x, cot = (keras.ops.convert_to_tensor(rng.normal(size=shape).astype("float32")) for _ in range(2))
    if backend == "torch":
        x.requires_grad_()

    def objective(y):
        return (y * cot).sum() if tuple(y.shape) == tuple(cot.shape) else y.sum()

    def step(fn, weights):  # fn(weights, x)
        if backend == "jax":  # the loss too, as for TensorFlow (`make_step`)
            grad = module.jit(module.value_and_grad(lambda w, t: objective(fn(w, t)), argnums=(0, 1)))
            return lambda: module.block_until_ready(grad(weights, x))
        return lambda: module.autograd.grad(objective(fn(weights, x)), [x, *weights])

    def layer_step(layer, **kwargs):
        layer.build(shape)
        weights = [v.value for v in layer.trainable_variables]
        if backend == "jax":
            state = [v.value for v in layer.non_trainable_variables]
            return step(lambda w, t: layer.stateless_call(w, state, t, **kwargs)[0], weights)
        return step(lambda w, t: layer(t, **kwargs), weights)

    own = OWN_OPS[backend]
    steps = {BASE[backend]: step(lambda w, t: own["relu"][1](module, t), [])}
    for name in names or relu_zoo.list_activations():
        keys = {"rrelu (training)": {"training": True}, "rrelu (inference)": {}} if name == "rrelu" else {name: {}}
        layer = relu_zoo.get(name)
        for key, kwargs in keys.items():
            steps[key] = layer_step(layer, **kwargs)
        if name in KERAS_MATCH:
            steps[f"keras:{name}"] = layer_step(KERAS_MATCH[name](keras))
        for key in keys:
            if key in own:
                weights = [module.full(shape[-1:], 0.25, requires_grad=True)] if key == "prelu" else []
                steps[f"plain:{key}"] = step(lambda w, t, op=own[key][1]: op(module, t, *w), weights)
    return steps


def _unfused(call):
    """`call` traced with `RELU_ZOO_XLA=0`: relu_zoo's element-wise math as separate TensorFlow ops."""

    def traced(t):
        previous = os.environ.get("RELU_ZOO_XLA")
        os.environ["RELU_ZOO_XLA"] = "0"
        try:
            return call(t)
        finally:
            if previous is None:
                del os.environ["RELU_ZOO_XLA"]
            else:
                os.environ["RELU_ZOO_XLA"] = previous

    return traced

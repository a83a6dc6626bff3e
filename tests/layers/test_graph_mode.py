"""Inside a TensorFlow graph (`fit`'s train step) relu_zoo's activations run as fused kernels (relu_zoo._xla: one XLA
loop each way, or TensorFlow's own Relu/Relu6/LeakyRelu kernel forward); eagerly they run the plain `keras.ops`
math. Both must give the same values and gradients at every edge input, in every dtype, or a rule of
docs/howto/layers.md would hold only where the other tests look (they call layers eagerly).
"""

import keras
import numpy as np
import pytest

import relu_zoo
from relu_zoo.layers.base import RECORDS, GatedActivation

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow graphs")

NAMES = [n for n in relu_zoo.list_activations() if not issubclass(RECORDS[n].layer, GatedActivation)]
EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 3.0, -3.0, 5.9, 6.0, 6.1,
         19.9, 20.1, 30.0, -30.0, 100.0, -100.0, 1e4, -1e4, 6e4, -6e4, 1e30, -1e30]
# XLA's exp, tanh, erfc and log1p, and grappler's rewrites, may differ from the eager kernels in the last bits:
# relative to the largest finite value compared, not to each (a gradient that cancels towards 0 keeps only the
# absolute error). A parameter's gradient is a sum over the batch, taken in another order, of terms that may cancel:
# PARAMETER_RTOL times that.
RTOL = {"float32": 1e-5, "float64": 1e-12, "bfloat16": 2e-2}
PARAMETER_RTOL = 100


def _inputs(dtype, name):
    """4 x 16 edge and grid values; for an activation that draws on its input's context (its record's `ranks`), as 4
    samples of 4 positions of 4 channels in the lowest rank it takes."""
    grid = np.linspace(-8.0, 8.0, 64 - len(EDGES))
    ranks = RECORDS[name].ranks
    shape = (4, 16) if ranks is None else (4, 4) + (1,) * (min(ranks) - 3) + (4,)
    return tf.cast(tf.constant(np.concatenate([EDGES, grid]).reshape(shape)), dtype)


def _value_and_gradients(layer, x):
    cotangent = tf.cast(tf.reshape(tf.linspace(-2.0, 2.0, tf.size(x)), x.shape) + 0.3, x.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        widen = [1] * (len(x.shape) - 1) + [y.shape[-1] // x.shape[-1]]  # CReLU's output is twice as wide
        loss = tf.reduce_sum(tf.cast(y, "float64") * tf.cast(tf.tile(cotangent, widen), "float64"))
    return [y, *tape.gradient(loss, [x, *layer.trainable_weights])]


def _assert_same(eager, graph, rtol, what):
    eager, graph = (np.asarray(tf.cast(t, "float64")) for t in (eager, graph))
    assert np.array_equal(np.isnan(eager), np.isnan(graph)), f"{what}: NaN where the other has none"
    assert np.array_equal(eager[np.isinf(eager)], graph[np.isinf(eager)]), f"{what}: ±inf differ"
    finite = np.abs(eager[np.isfinite(eager)])
    scale = finite.max() if finite.size else 0.0
    np.testing.assert_allclose(graph, eager, rtol=rtol, atol=rtol * scale, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("name", NAMES)
def test_graph_mode_equals_eager_at_every_edge(name, dtype):
    layer = relu_zoo.get(name, dtype=dtype)
    x = _inputs(dtype, name)
    layer.build(x.shape)
    eager = _value_and_gradients(layer, x)
    graph = tf.function(_value_and_gradients, autograph=False)(layer, x)
    for i, (what, a, b) in enumerate(zip(["value", "input gradient", *(w.path for w in layer.trainable_weights)],
                                         eager, graph)):
        _assert_same(a, b, RTOL[dtype] * (PARAMETER_RTOL if i > 1 else 1), f"{name} {dtype} {what}")


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish", "softplus"])
def test_graph_mode_runs_one_fused_pass_each_way(name):
    # What makes the activations as fast as Keras' in `fit`'s graph: each way one kernel (an XLA cluster, or
    # TensorFlow's own Relu/Relu6/LeakyRelu forward), not a chain of element-wise ops each reading and writing
    # the whole tensor.
    layer = relu_zoo.get(name)
    x = tf.TensorSpec((4, 16), "float32")

    @tf.function(autograph=False)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return tape.gradient(y, x, output_gradients=tf.ones_like(y))

    ops = [op.type for op in step.get_concrete_function(x).graph.get_operations()]
    elementwise = {"Select", "SelectV2", "Greater", "GreaterEqual", "LessEqual", "Mul", "Expm1", "Exp", "Sigmoid",
                   "Tanh", "Erfc", "Softplus", "IsInf", "Abs", "AddV2", "Cast"}
    assert not elementwise & set(ops), ops
    assert sum(op in ("PartitionedCall", "StatefulPartitionedCall") for op in ops) <= 2, ops

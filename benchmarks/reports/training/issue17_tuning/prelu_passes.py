import os, time, statistics
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # run with PYTHONPATH=<checkout>: relu_zoo from this branch
from relu_zoo import activations as A
shape = (256, 32, 32, 64)
x = tf.random.stateless_normal(shape, seed=[1, 2]); dy = tf.random.stateless_normal(shape, seed=[3, 4])
alpha = tf.fill([64], 0.25)
fw_lib = A._fused(A._prelu_forward); bw_lib = A._fused(A._prelu_backward)
@tf.function(jit_compile=True)
def fw_mine(x, a): return tf.where(x > 0, x, a * x)
@tf.function(jit_compile=True)
def bw_mine(x, a, dy):
    pos = x > 0
    return tf.where(pos, dy, a * dy), tf.reduce_sum(tf.where(pos, tf.zeros_like(x), dy * x), axis=[0, 1, 2])
@tf.function(jit_compile=True)
def bw_sel(x, a, dy):
    slope = tf.where(x > 0, tf.ones_like(a), tf.where(x <= 0, a, x))
    neg = tf.where(x > 0, tf.zeros_like(x), x)
    return dy * slope, tf.reduce_sum(dy * neg, axis=[0, 1, 2])
@tf.function(jit_compile=True)
def bw_dx(x, a, dy):
    slope = tf.where(x > 0, tf.ones_like(a), tf.where(x <= 0, a, x))
    return dy * slope
@tf.function
def relu_f(x): return tf.nn.relu(x)
@tf.function
def relu_b(x, dy): return tf.raw_ops.ReluGrad(gradients=dy, features=x)
c = {"relu_f": lambda: relu_f(x), "relu_b": lambda: relu_b(x, dy), "fw_lib": lambda: fw_lib(x, alpha), "fw_mine": lambda: fw_mine(x, alpha),
     "bw_lib": lambda: bw_lib(x, alpha, dy), "bw_mine": lambda: bw_mine(x, alpha, dy), "bw_sel": lambda: bw_sel(x, alpha, dy), "bw_dx": lambda: bw_dx(x, alpha, dy)}
for f in c.values():
    f(); f()
t = {k: [] for k in c}
for _ in range(9):
    for k, f in c.items():
        t0 = time.perf_counter(); tf.nest.map_structure(lambda v: v.numpy(), f()); t[k].append(time.perf_counter() - t0)
for k in c: print(k, f"{1000*statistics.median(t[k]):.1f}")

"""relu_zoo's ReLU and PReLU against each Keras backend's own relu, forward + backward, on TensorFlow, JAX and PyTorch.

    python benchmarks/backends.py [--shape 256,32,32,64] [--repeats 15] [--python jax=/venv_jax/bin/python ...]

Each backend runs in its own process (Keras picks its backend once per process): this interpreter where it has
the backend's package, else the one given by `--python backend=path` (or listed in `RELU_ZOO_PYTHONS`, as for
tests/test_backends.py). Every candidate computes the gradient of `sum(f(x) * cotangent)` with respect to the
input and the layer's weights, the way each backend trains by default: a `tf.function` (graph mode) on
TensorFlow, `jax.jit` on JAX, eager autograd on PyTorch. Candidates are timed round-robin and the median is
reported; the ratios to the backend's relu are what to read (absolute times on a shared machine mean little).
The report (default benchmarks/reports/backends/cpu.json) holds the CPU's flags, since the kernels differ with them.
"""

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")
OWN_RELU = {"tensorflow": "tf.nn.relu", "jax": "jax.nn.relu", "torch": "torch.relu"}
TARGET = 1.5  # relu_zoo's ReLU and PReLU, as ratios to the backend's relu
REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reports", "backends", "cpu.json")


def candidates(backend, shape):
    """name -> (function of x, weights to differentiate too)."""
    import keras

    import relu_zoo

    # Keras' PReLU with one slope per channel, as relu_zoo's default: what the backend's autodiff makes of it.
    zoo_relu, prelu = relu_zoo.ReLU(), relu_zoo.PReLU()
    keras_relu, keras_prelu = keras.layers.ReLU(), keras.layers.PReLU(shared_axes=list(range(1, len(shape) - 1)))
    for layer in (zoo_relu, prelu, keras_relu, keras_prelu):
        layer.build(shape)
    own = {"tensorflow": lambda: __import__("tensorflow").nn.relu, "jax": lambda: __import__("jax").nn.relu,
           "torch": lambda: __import__("torch").relu}[backend]()
    return {OWN_RELU[backend]: (own, None), "keras.layers.ReLU": (keras_relu, keras_relu),
            "relu_zoo.ReLU": (zoo_relu, zoo_relu), "keras.layers.PReLU": (keras_prelu, keras_prelu),
            "relu_zoo.PReLU": (prelu, prelu)}


def steps(backend, shape):
    """name -> a function running one forward + backward pass and waiting for its result."""
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=shape).astype("float32")
    cot_np = rng.normal(size=shape).astype("float32")
    result = {}
    if backend == "tensorflow":
        import tensorflow as tf

        x, cot = tf.constant(x_np), tf.constant(cot_np)
        def graph_step(fn, weights):  # a closure: variables passed as tf.function arguments get no gradient
            @tf.function(jit_compile=False)
            def step():
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    loss = tf.reduce_sum(fn(x) * cot)
                return tape.gradient(loss, [x, *weights])

            return lambda: [g.numpy() for g in step()]

        for name, (fn, layer) in candidates(backend, shape).items():
            result[name] = graph_step(fn, layer.trainable_weights if layer is not None else [])
    elif backend == "jax":
        import jax

        x, cot = jax.numpy.asarray(x_np), jax.numpy.asarray(cot_np)
        for name, (fn, layer) in candidates(backend, shape).items():
            if layer is None:
                step = jax.jit(jax.grad(lambda x, fn=fn: (fn(x) * cot).sum()))
                result[name] = lambda step=step: step(x).block_until_ready()
                continue

            def loss(values, x, layer=layer):
                y, _ = layer.stateless_call(values, [v.value for v in layer.non_trainable_variables], x)
                return (y * cot).sum()

            values = [v.value for v in layer.trainable_variables]
            step = jax.jit(jax.grad(loss, argnums=(0, 1)))
            result[name] = lambda step=step, values=values: jax.block_until_ready(step(values, x))
    else:
        import torch

        x, cot = torch.from_numpy(x_np).requires_grad_(), torch.from_numpy(cot_np)
        for name, (fn, layer) in candidates(backend, shape).items():
            weights = [v.value for v in layer.trainable_variables] if layer is not None else []

            def step(fn=fn, weights=weights):
                return torch.autograd.grad((fn(x) * cot).sum(), [x, *weights])

            result[name] = step
    return result


def worker(backend, shape, repeats):
    """Median seconds of each candidate on `backend` (this process's Keras backend)."""
    import keras

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    runs = steps(backend, shape)
    for step in runs.values():  # compile / warm up
        step()
        step()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, step in runs.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return {"median_s": {k: float(np.median(v)) for k, v in times.items()},
            "versions": {module: __import__(module).__version__, "keras": keras.__version__},
            "tensorflow_imported": "tensorflow" in sys.modules}


def interpreters(given):
    """backend -> Python with its package: this one, then `--python` entries, then RELU_ZOO_PYTHONS."""
    found = {b: sys.executable for b in BACKENDS if importlib.util.find_spec(b)}
    found.update(given)
    for python in filter(None, os.environ.get("RELU_ZOO_PYTHONS", "").split(os.pathsep)):
        probe = "import importlib.util as u; print(' '.join(m for m in %r if u.find_spec(m)))" % (BACKENDS,)
        for backend in subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.split():
            found.setdefault(backend, python)
    return found


def cpu_flags():
    from relu_zoo import _cpu

    return sorted(_cpu.flags() & {"avx2", "avx512_bf16", "amx_bf16"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="256,32,32,64")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH",
                        help="the Python to run BACKEND with (a venv that has it)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", default=REPORT)
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    if args.worker:
        print(json.dumps(worker(args.worker, shape, args.repeats)))
        return None
    pythons = interpreters(dict(p.split("=", 1) for p in args.python))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    report = {"command": "python benchmarks/backends.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "shape": list(shape), "repeats": args.repeats, "cpu_flags": cpu_flags(), "cpus": os.cpu_count(),
              "machine": platform.machine(), "target_ratio": TARGET, "backends": {}}
    for backend in args.backends.split(","):
        if backend not in pythons:
            print(f"{backend}: skipped, no Python with it (pass --python {backend}=PATH)", file=sys.stderr)
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu",
               "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([pythons[backend], os.path.abspath(__file__), "--worker", backend, "--shape",
                               args.shape, "--repeats", str(args.repeats)], capture_output=True, text=True, env=env)
        if done.returncode:
            sys.exit(f"{backend} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        base = result["median_s"][OWN_RELU[backend]]
        result["ratio_to_own_relu"] = {k: round(v / base, 3) for k, v in result["median_s"].items()}
        report["backends"][backend] = result
        ratios = result["ratio_to_own_relu"]
        print(f"{backend:10s} {OWN_RELU[backend]} {base * 1e3:7.1f} ms | " + "  ".join(
            f"{k} {v:.2f}x" for k, v in ratios.items() if k != OWN_RELU[backend]))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return report


if __name__ == "__main__":
    main()

"""A train step's time by op, from TensorFlow's profiler and PyTorch's, grouped into comparable kinds.

Used by `python benchmarks/training.py ops`, which starts this file as a child process per setting
(environment variables such as `TF_ENABLE_ONEDNN_OPTS=0`, thread counts) and `benchmarks/airbench_torch.py
--profile` for PyTorch, then interleaves their timed steps. As a child:

    python benchmarks/ops.py --model airbench --batch-size 512 --widths 32,128,128 --profile-steps 2

builds the model and a fixed random batch, profiles `--profile-steps` train steps, prints one JSON line
({"ready": ..., "ops": ...}), then reads lines from stdin: for each number `n` it trains `n` steps and
prints the seconds per step (the protocol of benchmarks/airbench_torch.py).

An op's time is its duration on the thread that ran it (TensorFlow: the op's event on an executor thread,
its kernel's parallel work included; PyTorch: the profiler's self CPU time). TensorFlow runs independent ops
of a step at once on its inter-op threads (a layer's filter and input gradients, say), so its ops' times add
up to more than the step's wall time: compare kinds by their share of the sum. PyTorch runs one op at a time.
"""

import collections
import glob
import re

# Kinds of work, matched in this order against "<framework op type> <scope>" (TensorFlow: the op's type and
# its name scope; PyTorch: the aten op's name and the enclosing record_function label).
# TensorFlow's oneDNN builds name their kernels `_Mkl<Op>` or `_MklNative<Op>` where oneDNN's optimizations are on
# (by default on CPUs with AVX-512 and newer): `_MKL` below matches either prefix or none.
_MKL = r"(_Mkl(Native)?)?"
KINDS = (
    ("input pipeline", r"^(IteratorGetNext|OptionalGetValue)\b"),
    ("conv backward: filter", rf"^{_MKL}(Conv2DBackpropFilter)\b"),
    ("conv backward: input", rf"^{_MKL}(Conv2DBackpropInput)\b"),
    ("conv backward: input + filter", r"^aten::(convolution_backward|mkldnn_convolution_backward)"),
    ("conv forward", rf"^({_MKL}(Conv2D|FusedConv2D)|_FusedConv2D|aten::(mkldnn_)?convolution|aten::_convolution)\b"),
    ("batch norm", rf"(^{_MKL}FusedBatchNorm|batch_?norm|^aten::native_batch_norm)"),
    ("pooling", rf"(^{_MKL}MaxPool|^{_MKL}AvgPool|max_pool|adaptive_max_pool|^Max\b.*global_max)"),
    ("optimizer", r"(^Resource\w*Apply|^AssignVariableOp|^AssignAddVariableOp|^aten::_foreach|Optimizer\.step"
                  r"|[ /](adam|adamw|nadam|sgd|SGD|rmsprop)(_\d+)?/)"),
    ("dense / matmul", rf"^({_MKL}MatMul|_FusedMatMul|{_MKL}FusedMatMul|aten::(mm|addmm|linear|matmul))\b"),
    ("loss", r"(cross_?entropy|Softmax|LogSoftmax|aten::(log_softmax|nll_loss)|_log_softmax)"),
    ("activation", r"(^(Relu|ReluGrad|Elu|EluGrad|LeakyRelu\w*|Select\w*|Greater\w*|LessEqual|XLA cluster"
                   r"|StatelessRandom\w*)\b|re_lu|relu|(^|/)elu|aten::(relu|clamp_min|threshold_backward))"),
)


def classify(op_type, scope=""):
    """The kind of work an op does (see KINDS), else "other"."""
    text = f"{op_type} {scope}"
    for kind, pattern in KINDS:
        if re.search(pattern, text):
            return kind
    return "other"


def _layer_of(scope):
    """`model/layer/...` -> `layer`, backward ops (gradient_tape/...) marked, for the per-layer table."""
    parts = [p for p in scope.split("/") if p and p != "StatefulPartitionedCall"]
    backward = bool(parts) and parts[0] == "gradient_tape"
    parts = parts[1:] if backward else parts
    # Ops outside any layer's scope: the loss, the optimizer, custom gradients' ops, XLA clusters.
    layer = parts[1] if len(parts) > 2 else "(outside layers)"
    return f"{layer} (backward)" if backward else layer


def tf_op_events(logdir):
    """(op name scope, op type, seconds) of every TensorFlow op event in the profile written to `logdir`."""
    from relu_zoo import _compat

    xspace = _compat.xspace_proto()
    events = []
    for path in glob.glob(f"{logdir}/plugins/profile/*/*.xplane.pb"):
        space = xspace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if plane.name != "/host:CPU":
                continue
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if name.startswith("CpuExecutable::Execute"):  # an XLA cluster: relu_zoo's fused activations
                        events.append(("xla", "XLA cluster", event.duration_ps * 1e-12))
                    elif ":" in name and "::" not in name:  # "scope/op_name:OpType"; "A::B" are runtime events
                        scope, op_type = name.rsplit(":", 1)
                        events.append((scope, op_type, event.duration_ps * 1e-12))
    return events


def summarize(events, steps):
    """Milliseconds per step by kind, by op type and by layer, from (scope, op type, seconds) events."""
    kinds, types, layers = collections.Counter(), collections.Counter(), collections.Counter()
    for scope, op_type, seconds in events:
        kinds[classify(op_type, scope)] += seconds
        types[op_type] += seconds
        layers[_layer_of(scope)] += seconds
    total = sum(kinds.values())

    def per_step(counter, top=None):
        return {k: round(1000 * v / steps, 2) for k, v in counter.most_common(top)}

    summary = {"ops_ms": round(1000 * total / steps, 2), "by_kind": per_step(kinds), "by_op": per_step(types, 25)}
    if len(layers) > 1:  # PyTorch's events carry no layer
        summary["by_layer"] = per_step(layers, 30)
    return summary


def profile_tf(step, steps, logdir):
    """Runs `step()` `steps` times under TensorFlow's profiler; returns `summarize` of its ops, and the wall
    seconds per step (under the profiler, which adds a little)."""
    import time

    import tensorflow as tf

    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    wall = (time.perf_counter() - start) / steps
    tf.profiler.experimental.stop()
    return {"step_ms": round(1000 * wall, 2), **summarize(tf_op_events(logdir), steps)}


def torch_op_events(prof):
    """(record_function scope, aten op, self seconds) from a finished `torch.profiler.profile`."""
    return [("", e.key, e.self_cpu_time_total * 1e-6) for e in prof.key_averages()
            if e.self_cpu_time_total > 0]


def _model_and_batch(model, batch_size, widths, activation, jit_compile=False):
    """The compiled model of a sweep's run (`cnn` on mnist as `python train.py` trains it, or `airbench` on
    cifar10 as the `cifar10` preset does) and a fixed random batch for it."""
    import keras
    import numpy as np

    from relu_zoo import models, tasks
    from relu_zoo.run import spec as config_lib
    from relu_zoo.run.optim import make_loss, make_optimizer

    config = config_lib.resolve(preset="cifar10") if model == "airbench" else config_lib.resolve()
    spec = tasks.get("cifar10" if model == "airbench" else "mnist").spec
    kwargs = {"widths": tuple(widths)} if model == "airbench" and widths else dict(config.model_kwargs)
    keras.utils.set_random_seed(0)
    built = models.create_model(model, task=spec, activation=activation, **kwargs)
    # Keras' "auto" leaves XLA off on CPUs; `jit_compile=True` compiles the whole step (an option to compare).
    built.compile(make_optimizer(config, 100), make_loss(config), metrics=["accuracy"],
                  jit_compile=True if jit_compile else "auto")
    rng = np.random.default_rng(0)
    batch_size = batch_size or config.batch_size
    x = rng.normal(size=(batch_size,) + spec.input_shape).astype("float32")
    y = rng.integers(0, spec.num_classes, size=batch_size)
    return built, x, y


def main(argv=None):
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("cnn", "airbench"), default="airbench")
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--widths", default=None)
    parser.add_argument("--intra", type=int, default=None, help="tf.config.threading intra-op threads")
    parser.add_argument("--inter", type=int, default=None, help="tf.config.threading inter-op threads")
    parser.add_argument("--profile-steps", type=int, default=2)
    parser.add_argument("--jit-compile", action="store_true", help="compile the whole step with XLA")
    args = parser.parse_args(argv)
    import relu_zoo  # noqa: F401  (before TensorFlow's first import: started as relu_zoo's commands start it)
    import tensorflow as tf

    from relu_zoo.run import machine

    if args.intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    if args.inter is not None:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    widths = [int(w) for w in args.widths.split(",")] if args.widths else None
    model, x, y = _model_and_batch(args.model, args.batch_size, widths, args.activation, args.jit_compile)
    iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    model.make_train_function()

    def step():
        model.train_function(iterator)["loss"].numpy()

    step()  # traces
    step()
    with tempfile.TemporaryDirectory() as logdir:
        profile = profile_tf(step, args.profile_steps, logdir) if args.profile_steps else None
    return serve_steps(step, {"tensorflow": tf.__version__, "parameters": int(model.count_params()),
                              "onednn": machine.onednn_enabled(),
                              "threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                                          "inter": tf.config.threading.get_inter_op_parallelism_threads()},
                              "ops": profile})


def serve_steps(step, ready):
    """Prints `ready` as one JSON line, then for each number `n` read from stdin runs `step()` `n` times and
    prints the seconds per step (how `benchmarks/training.py` interleaves processes' steps)."""
    import json
    import sys
    import time

    print(json.dumps({"ready": True, **ready}), flush=True)
    for line in sys.stdin:
        n = int(line)
        start = time.perf_counter()
        for _ in range(n):
            step()
        print(json.dumps({"step_s": (time.perf_counter() - start) / n}), flush=True)
    return 0


def interleaved_with(child_command, step, steps, repeats):
    """Times `step()` (this process) against a `serve_steps` child started from `child_command`, repetitions
    of `steps` steps taken in turn. Returns `(child's ready line as a dict, {"here": [...], "child": [...]})`:
    seconds per step of each repetition."""
    import json
    import subprocess
    import time

    child = subprocess.Popen(child_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(child.stdout.readline())
        times = {"here": [], "child": []}
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times["here"].append((time.perf_counter() - start) / steps)
            times["child"].append(request_steps(child, steps))
    finally:
        child.stdin.close()
        child.wait()
    return info, times


def request_steps(child, n):
    """The parent's half of `serve_steps`: asks `child` (a `subprocess.Popen` with text pipes) to run `n`
    steps and returns its seconds per step."""
    import json

    child.stdin.write(f"{n}\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())["step_s"]


if __name__ == "__main__":
    import sys

    sys.exit(main())

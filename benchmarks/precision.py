"""Train-step time of the cifar10 `airbench` model in float32 and in mixed_bfloat16, and what `precision: auto`
picks on this machine (bfloat16 only where the CPU computes it natively).

    python benchmarks/precision.py [--widths 32,128,128] [--batch-size 512] [--json benchmarks/reports/precision.json]

Both models train on the same random batch; repetitions of a few steps alternate between them, and the medians
are reported.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/precision.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting  # noqa: E402


def precision(widths=(32, 128, 128), batch_size=512, steps=5, repeats=3):
    """Train-step time of the cifar10 `airbench` model under each dtype policy, interleaved repetitions."""
    import keras
    import numpy as np

    from relu_zoo import models, tasks
    from relu_zoo.run.precision import auto_precision, cpu_flags

    spec = tasks.get("cifar10").spec
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size,) + spec.input_shape).astype("float32")
    y = rng.integers(0, spec.num_classes, size=batch_size)
    built, previous = {}, keras.config.dtype_policy()
    try:
        for policy in ("float32", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            model = models.create_model("airbench", task=spec, activation="relu", widths=tuple(widths))
            model.compile(keras.optimizers.SGD(0.1, momentum=0.85, nesterov=True),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.train_on_batch(x, y)  # trace and compile outside the timing
            built[policy] = model
    finally:
        keras.config.set_dtype_policy(previous)
    times = {policy: [] for policy in built}
    for _ in range(repeats):
        for policy, model in built.items():
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            times[policy].append((time.perf_counter() - start) / steps)
    step = {policy: statistics.median(t) for policy, t in times.items()}
    flags = cpu_flags()
    return {"widths": list(widths), "batch_size": batch_size, "steps": steps, "repeats": repeats,
            "step_s": step, "times": times, "bf16_over_f32": step["mixed_bfloat16"] / step["float32"],
            "cpu_bf16_flags": sorted(flags & {"amx_bf16", "avx512_bf16", "amx_tile"}),
            "cpu_avx512f": "avx512f" in flags, "auto": auto_precision()}


def markdown(report):
    rows = [[policy, f"{seconds:.3f}", f"{seconds / report['step_s']['float32']:.2f}"]
            for policy, seconds in report["step_s"].items()]
    return (f"cifar10 `airbench` widths {report['widths']}, batch {report['batch_size']}, train step seconds "
            f"(median of {report['repeats']} interleaved repetitions of {report['steps']} steps); CPU bf16 flags: "
            f"{', '.join(report['cpu_bf16_flags']) or 'none'}; `precision: auto` picks {report['auto']}\n\n"
            + reporting.table(["policy", "step s", "× float32"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/precision.py", description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="32,128,128", help="airbench widths")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args(argv)
    report = precision(tuple(int(w) for w in args.widths.split(",")), batch_size=args.batch_size)
    reporting.publish(report, "precision.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

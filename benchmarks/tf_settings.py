"""A train step by kind of op under each TensorFlow setting (oneDNN off, thread counts, XLA), and in PyTorch.

    python benchmarks/tf_settings.py [--model airbench|cnn] [--torch-python PYTHON] [--variants "default;..."]
        [--json F]

For the cifar10 `airbench` net or the default run's mnist `cnn`, one child process of benchmarks/ops.py per
setting (`--variants`: environment variables such as `TF_ENABLE_ONEDNN_OPTS=0` or `RELU_ZOO_XLA=0`, and ops.py
flags such as `--inter 1` or `--jit-compile`) and, for `airbench` with `--torch-python`, the same net in PyTorch
(benchmarks/airbench_torch.py, torch.profiler). Each child first profiles a few steps alone (ms per step by kind
of op: conv forward, conv backward by filter and input, batch norm, pooling, activation, optimizer, ...); then
repetitions of every process's steps are interleaved, so that each setting's step time is compared with the
first's under the same load.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/tf_settings.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import ops as ops_lib  # noqa: E402
from benchmarks import reporting  # noqa: E402

VARIANTS = ("default", "TF_ENABLE_ONEDNN_OPTS=0", "--inter 1", "--intra 1 --inter 2", "--jit-compile",
            "RELU_ZOO_XLA=0")


def parse_variant(text):
    """"NAME=VALUE ... --flag value ...": environment variables and benchmarks/ops.py flags of one setting."""
    env, flags = {}, []
    for token in text.split():
        if "=" in token and not token.startswith("-"):
            key, value = token.split("=", 1)
            env[key] = value
        else:
            flags.append(token)
    return env, flags


def ops(model="airbench", variants=VARIANTS, torch_python=None, steps=3, repeats=5, profile_steps=2,
        batch_size=None, widths=None, activation="relu"):
    """A train step by op kind (benchmarks/ops.py) for each TensorFlow setting in `variants` (a child process
    each) and, for `airbench`, the same net in PyTorch; then `repeats` interleaved repetitions of `steps`
    steps of every process, so that each setting's step is compared with the first's under the same load."""
    ops_py, torch_py = Path(ops_lib.__file__), Path(ops_lib.__file__).with_name("airbench_torch.py")
    shape = (["--batch-size", str(batch_size)] if batch_size else []) + (
        ["--widths", ",".join(map(str, widths))] if widths else [])
    commands = {}
    for variant in variants:
        env, flags = parse_variant("" if variant == "default" else variant)
        commands[variant] = ([sys.executable, str(ops_py), "--model", model, "--activation", activation,
                              "--profile-steps", str(profile_steps), *shape, *flags], {**os.environ, **env})
    if torch_python and model == "airbench":
        commands["pytorch"] = ([torch_python, str(torch_py), "--profile", str(profile_steps), "--threads", "2",
                                *shape], dict(os.environ))
    children, ready = {}, {}
    try:
        for name, (command, env) in commands.items():  # one at a time: each profile runs alone
            children[name] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                              env=env)
            line = children[name].stdout.readline()
            if not line:
                raise RuntimeError(f"{' '.join(command)} ({name}) exited before its first step")
            ready[name] = json.loads(line)
        times = {name: [] for name in children}
        for rep in range(repeats):
            names = list(children)
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                times[name].append(ops_lib.request_steps(children[name], steps))
    finally:
        for child in children.values():
            child.stdin.close()
            child.wait()
    base = next(iter(times))
    rows = []
    for name, seconds in times.items():
        ratios = [t / b for t, b in zip(seconds, times[base])]
        rows.append({"setting": name, "step_s": statistics.median(seconds), "times": seconds,
                     "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                     "ops": ready[name].get("ops"), "threads": ready[name].get("threads"),
                     "parameters": ready[name].get("parameters")})
    return {"model": model, "activation": activation, "batch_size": batch_size, "widths": widths,
            "steps": steps, "repeats": repeats, "profile_steps": profile_steps, "baseline": base, "rows": rows}


def markdown(report):
    base = report["baseline"]
    lines = [f"`{report['model']}` ({report['activation']}) train step: median of {report['repeats']} interleaved "
             f"repetitions of {report['steps']} steps; ratio = median of per-repetition ratios to {base}", "",
             reporting.table(["setting", "step s", f"× {base} (min–max)"],
                             [[r["setting"], f"{r['step_s']:.3f}",
                               f"{r['ratio']:.2f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})"]
                              for r in report["rows"]])]
    profiled = [r for r in report["rows"] if r["ops"]]
    kinds = list(dict.fromkeys(k for r in profiled for k in r["ops"]["by_kind"]))
    totals = {"all ops": "ops_ms", "step (wall)": "step_ms"}
    rows = [[kind, *(f"{r['ops'][totals[kind]] if kind in totals else r['ops']['by_kind'].get(kind, 0.0):.0f}"
                     for r in profiled)] for kind in kinds + list(totals)]
    lines += ["", f"ms per step by kind of op ({report['profile_steps']} profiled steps, each setting alone)", "",
              reporting.table(["kind", *(r["setting"] for r in profiled)], rows)]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/tf_settings.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("airbench", "cnn"), default="airbench",
                        help="airbench: the cifar10 preset's net (with PyTorch's beside it); cnn: the default run's")
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--variants", default=";".join(VARIANTS),
                        help="';'-separated settings, each 'default' or environment variables (NAME=VALUE) and "
                             "benchmarks/ops.py flags (--intra N, --inter N); the first is the baseline")
    parser.add_argument("--torch-python", default=None, help="a Python with PyTorch (airbench only)")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed repetition")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile-steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the run's (cnn 128, airbench 512)")
    parser.add_argument("--widths", default=None, help="airbench widths (default: the cifar10 preset's)")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args(argv)
    report = ops(args.model, [v.strip() for v in args.variants.split(";") if v.strip()], args.torch_python,
                 steps=args.steps, repeats=args.repeats, profile_steps=args.profile_steps,
                 batch_size=args.batch_size, activation=args.activation,
                 widths=[int(w) for w in args.widths.split(",")] if args.widths else None)
    reporting.publish(report, "tf_settings.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

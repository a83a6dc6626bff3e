"""The zoo's cifar10 `airbench` net (relu_zoo/models/airbench.py) in PyTorch, for timing its train step.

Run by `benchmarks/training.py targets` in a PyTorch interpreter (PyTorch is no dependency of relu_zoo):

    python benchmarks/airbench_torch.py --widths 32,128,128 --batch-size 512 --threads 2

It builds the net, prints one JSON line ({"ready": ...}), then reads lines from stdin: for each number `n` it
trains `n` steps on a fixed random batch and prints the seconds per step, so that the caller can interleave
repetitions with TensorFlow's. Layer by layer as the Keras model: a frozen 2x2 whitening conv (24 filters for
RGB) -> ReLU -> 3 x [conv3x3 -> maxpool2 -> batch norm (shift only) -> ReLU -> conv3x3 -> batch norm -> ReLU]
-> global max pool -> linear (no bias) -> x 1/9; NCHW (PyTorch's default layout); Nesterov SGD (momentum 0.85,
weight decay), cross-entropy with label smoothing 0.2: the `cifar10` preset's step. `--precision bfloat16` runs
the forward pass and the loss under `torch.autocast("cpu", dtype=torch.bfloat16)` with float32 weights, as Keras'
`mixed_bfloat16` policy does; the default is float32.
"""

import argparse
import sys
import time
from pathlib import Path

if not __package__:  # run as a script by the PyTorch interpreter: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import ops as ops_lib  # noqa: E402  (the step protocol and the grouping of ops)


def build(torch, widths, channels=3, classes=10):
    nn = torch.nn

    def bn(width):
        # Keras BatchNormalization(center=False, scale=False) + ScaledShift: a shift, no scale.
        layer = nn.BatchNorm2d(width, momentum=0.4, eps=1e-5, affine=True)
        layer.weight.requires_grad_(False)
        return layer

    whiten_width = 2 * channels * 4
    layers = [nn.Conv2d(channels, whiten_width, 2, bias=False), nn.ReLU()]
    layers[0].weight.requires_grad_(False)
    previous = whiten_width
    for width in widths:
        layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.MaxPool2d(2), bn(width), nn.ReLU(),
                   nn.Conv2d(width, width, 3, padding=1, bias=False), bn(width), nn.ReLU()]
        previous = width
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(previous, classes, bias=False)]
    return nn.Sequential(*layers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="32,128,128")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.75)
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--profile", type=int, default=0,
                        help="profile this many steps (torch.profiler) and add their ops to the first line")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(torch, [int(w) for w in args.widths.split(",")])
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=args.lr / args.batch_size, momentum=0.85, nesterov=True,
                                weight_decay=0.0089 / args.batch_size)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.2)
    x = torch.randn(args.batch_size, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bfloat16"):
            loss = loss_fn(model(x) / 9.0, y)
        loss.backward()
        optimizer.step()
        return loss

    step()  # warm-up (oneDNN primitive creation)
    step()
    ops = None
    if args.profile:
        start = time.perf_counter()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(args.profile):
                step()
        ops = {"step_ms": round(1000 * (time.perf_counter() - start) / args.profile, 2),
               **ops_lib.summarize(ops_lib.torch_op_events(prof), args.profile)}
    return ops_lib.serve_steps(step, {"torch": torch.__version__, "threads": torch.get_num_threads(),
                                      "precision": args.precision,
                                      "parameters": sum(p.numel() for p in model.parameters()), "ops": ops})


if __name__ == "__main__":
    sys.exit(main())

"""airbench94 (Jordan 2024) in PyTorch on the CPU: the reference the Keras `cifar10` recipe is measured against.

Run in a PyTorch interpreter (PyTorch is no dependency of relu_zoo). Two modes:

    python benchmarks/airbench_torch.py train --data cifar10.npz --widths 16,64,64 --epochs 4 --seed 0
    python benchmarks/airbench_torch.py steps --widths 32,128,128 --batch-size 512 --threads 2

`train` follows airbench94.py (github.com/KellerJordan/cifar10-airbench) step for step, on the CPU in float32
(`--precision bfloat16`: the forward pass under `torch.autocast`), with the activation as a parameter:
- data: the arrays in `--data` (an .npz of uint8 `train_x` (N, 32, 32, 3), `train_y`, `test_x`, `test_y`,
  written by benchmarks/cifar10_parity.py from the TFDS splits, so both sides read the same images),
  standardized with CIFAR-10's per-channel mean and std; batches of 1024 without the last partial one;
- augmentation: 2-px reflect-padded random translate; alternating flip (a random half of the images flipped
  in epoch 0, and every image mirrored relative to that in odd epochs);
- net: a frozen 2x2 whitening conv (with a bias trained for 3 epochs) set from the patch covariance of 5000
  training images -> act -> 3 x [conv -> maxpool -> BN -> act -> conv -> BN -> act] -> maxpool -> linear
  -> x 1/9; BN with a frozen weight, eps 1e-12, momentum 0.6; convs with PyTorch's default init and Dirac
  identity in their first filters;
- optimizer: Nesterov SGD on the summed loss (label smoothing 0.2), lr 11.5 and weight decay 0.0153 per
  1024 examples, batch-norm biases at 64x the lr; lr 0.2x -> 1x over the first 23% of the steps, then
  linearly to 0.07x; lookahead every 5 steps with decay 0.95^5 * (step / total)^3;
- evaluation: test accuracy plain and with airbench's TTA level 2 (mirror x {0, +-1 px} translates).
It prints one JSON line: accuracies, train seconds, steps, seconds per step.

`steps` times the train step of that net on a fixed random batch for `benchmarks/speed_targets.py` and `benchmarks/tf_settings.py`: it prints one
JSON line ({"ready": ...}), then for each number `n` read from stdin trains `n` steps and prints the seconds
per step, so the caller can interleave repetitions with TensorFlow's.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

if not __package__:  # run as a script by the PyTorch interpreter: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import ops as ops_lib  # noqa: E402  (the step protocol and the grouping of ops)

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
HYP = {"batch_size": 1024, "lr": 11.5, "momentum": 0.85, "weight_decay": 0.0153, "bias_scaler": 64.0,
       "label_smoothing": 0.2, "whiten_bias_epochs": 3, "translate": 2, "batchnorm_momentum": 0.6,
       "scaling_factor": 1 / 9, "tta_level": 2, "whiten_examples": 5000}


def build(torch, widths, activation="gelu", batchnorm_momentum=0.6, scaling_factor=1 / 9, channels=3, classes=10):
    """airbench94's `make_net` with `activation` ("gelu" as airbench, "relu", ...) at every use site."""
    nn = torch.nn
    act = {"gelu": nn.GELU, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": lambda: nn.LeakyReLU(0.01)}[activation]

    class BatchNorm(nn.BatchNorm2d):
        def __init__(self, width):
            super().__init__(width, eps=1e-12, momentum=1 - batchnorm_momentum)
            self.weight.requires_grad = False

    class Conv(nn.Conv2d):
        def __init__(self, cin, cout, kernel_size=3, padding="same", bias=False):
            super().__init__(cin, cout, kernel_size=kernel_size, padding=padding, bias=bias)

        def reset_parameters(self):
            super().reset_parameters()
            if self.bias is not None:
                self.bias.data.zero_()
            w = self.weight.data
            torch.nn.init.dirac_(w[:w.size(1)])

    def group(cin, cout):
        return nn.Sequential(Conv(cin, cout), nn.MaxPool2d(2), BatchNorm(cout), act(),
                             Conv(cout, cout), BatchNorm(cout), act())

    whiten_width = 2 * channels * 4
    net = nn.Sequential(
        Conv(channels, whiten_width, 2, padding=0, bias=True), act(),
        group(whiten_width, widths[0]), group(widths[0], widths[1]), group(widths[1], widths[2]),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(widths[2], classes, bias=False))
    net[0].weight.requires_grad = False

    class Scaled(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x) * scaling_factor

    return Scaled(net).to(memory_format=torch.channels_last)


def whiten_(torch, conv, images, eps=5e-4):
    """airbench's `init_whitening_conv`: ± the 2x2 patch covariance's eigenvectors / sqrt(eigenvalue + eps)."""
    c, (h, w) = images.shape[1], conv.weight.shape[2:]
    patches = images.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w).float()
    flat = patches.view(len(patches), -1)
    eigenvalues, eigenvectors = torch.linalg.eigh(flat.T @ flat / len(flat), UPLO="U")
    eigenvalues = eigenvalues.flip(0).view(-1, 1, 1, 1)
    eigenvectors = eigenvectors.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = eigenvectors / torch.sqrt(eigenvalues + eps)
    conv.weight.data[:] = torch.cat((scaled, -scaled))


def train(args):
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = np.load(args.data)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)

    def normalize(uint8):
        x = torch.from_numpy(uint8).permute(0, 3, 1, 2).float() / 255.0
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)

    train_x, train_y = normalize(data["train_x"]), torch.from_numpy(data["train_y"]).long()
    test_x, test_y = normalize(data["test_x"]), torch.from_numpy(data["test_y"]).long()
    if args.max_train:
        train_x, train_y = train_x[:args.max_train], train_y[:args.max_train]
    batch_size, momentum = args.batch_size, HYP["momentum"]
    steps_per_epoch = len(train_x) // batch_size
    total_steps = math.ceil(steps_per_epoch * args.epochs)

    # airbench's decoupled hyperparameters -> PyTorch SGD on the summed loss.
    kilostep_scale = 1024 * (1 + 1 / (1 - momentum))
    lr = HYP["lr"] / kilostep_scale
    wd = HYP["weight_decay"] * batch_size / kilostep_scale
    lr_biases = lr * HYP["bias_scaler"]
    model = build(torch, args.widths, args.activation)
    net = model.inner
    norm_biases = [p for k, p in model.named_parameters() if isinstance(_owner(model, k), torch.nn.BatchNorm2d)
                   and p.requires_grad]
    others = [p for k, p in model.named_parameters()
              if not isinstance(_owner(model, k), torch.nn.BatchNorm2d) and p.requires_grad]
    optimizer = torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                                 dict(params=others, lr=lr, weight_decay=wd / lr)], momentum=momentum, nesterov=True)
    warmup = int(total_steps * 0.23)

    def factor(step):
        if step < warmup:
            return 0.2 + 0.8 * step / warmup
        return 1.0 + (0.07 - 1.0) * (step - warmup) / (total_steps - warmup)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    alpha = 0.95**5 * (torch.arange(total_steps + 1) / total_steps) ** 3
    average = {k: v.clone() for k, v in model.state_dict().items()}

    def lookahead(decay):
        for (k, avg), value in zip(average.items(), model.state_dict().values()):
            if value.dtype.is_floating_point:
                avg.lerp_(value, 1 - decay)
                value.copy_(avg)

    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=HYP["label_smoothing"], reduction="none")
    whiten_(torch, net[0], train_x[:HYP["whiten_examples"]])
    pad = HYP["translate"]
    generator = torch.Generator().manual_seed(args.seed)
    flipped = torch.where((torch.rand(len(train_x), generator=generator) < 0.5).view(-1, 1, 1, 1),
                          train_x.flip(-1), train_x)
    padded = F.pad(flipped, (pad,) * 4, "reflect")
    step, start = 0, time.perf_counter()
    for epoch in range(math.ceil(args.epochs)):
        net[0].bias.requires_grad = epoch < HYP["whiten_bias_epochs"]
        model.train()
        shifts = torch.randint(-pad, pad + 1, size=(len(train_x), 2), generator=generator)
        images = _translate(torch, padded, shifts, pad)
        if epoch % 2 == 1:
            images = images.flip(-1)
        order = torch.randperm(len(images), generator=generator)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bfloat16"):
                loss = loss_fn(model(images[idx]), train_y[idx]).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 5 == 0:
                lookahead(alpha[step].item())
            if step >= total_steps:
                lookahead(1.0)
                break
    seconds = time.perf_counter() - start
    model.eval()
    result = {"framework": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "seed": args.seed, "activation": args.activation, "widths": list(args.widths), "epochs": args.epochs,
              "batch_size": batch_size, "train_examples": len(train_x), "steps": step, "train_seconds": seconds,
              "step_seconds": seconds / step, "precision": args.precision,
              "parameters": sum(p.numel() for p in model.parameters())}
    with torch.no_grad():
        for level in (0, 2):
            logits = torch.cat([_infer(torch, F, model, test_x[i:i + 2000], level) for i in range(0, len(test_x), 2000)])
            result["test_accuracy" if level == 0 else "test_accuracy_tta"] = (
                (logits.argmax(1) == test_y).float().mean().item())
    print(json.dumps(result), flush=True)
    return 0


def _owner(model, name):
    return model.get_submodule(name.rsplit(".", 1)[0])


def _translate(torch, padded, shifts, pad):
    """Crops each padded image at its own offset (airbench's batch_crop): (dy, dx) in [-pad, pad]."""
    n, c, h, w = padded.shape
    size = h - 2 * pad
    rows = (shifts[:, 0] + pad).view(n, 1) + torch.arange(size).view(1, size)
    cols = (shifts[:, 1] + pad).view(n, 1) + torch.arange(size).view(1, size)
    out = padded[torch.arange(n).view(n, 1, 1), :, rows.view(n, size, 1), cols.view(n, 1, size)]
    return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def _infer(torch, F, model, inputs, level):
    def mirror(x):
        return 0.5 * model(x) + 0.5 * model(x.flip(-1))

    if level == 0:
        return model(inputs)
    logits = mirror(inputs)
    padded = F.pad(inputs, (1,) * 4, "reflect")
    translated = [mirror(padded[:, :, 0:32, 0:32]), mirror(padded[:, :, 2:34, 2:34])]
    return 0.5 * logits + 0.5 * torch.stack(translated).mean(0)


def steps(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(torch, args.widths, args.activation)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.75 / args.batch_size, momentum=0.85, nesterov=True,
                                weight_decay=0.0089 / args.batch_size)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.2)
    x = torch.randn(args.batch_size, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bfloat16"):
            loss = loss_fn(model(x), y)
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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "steps"):
        argv.insert(0, "steps")  # benchmarks/speed_targets.py and tf_settings.py call the step server without a mode
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("train", "steps"))
    parser.add_argument("--widths", default="64,256,256", type=lambda s: [int(w) for w in s.split(",")])
    parser.add_argument("--activation", default="gelu")
    parser.add_argument("--batch-size", type=int, default=HYP["batch_size"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--data", help="train: the .npz of uint8 images and labels")
    parser.add_argument("--epochs", type=float, default=9.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--profile", type=int, default=0,
                        help="steps: profile this many steps (torch.profiler) and add their ops to the first line")
    args = parser.parse_args(argv)
    return train(args) if args.mode == "train" else steps(args)


if __name__ == "__main__":
    sys.exit(main())

"""Command line of `train.py`: compare activations on TFDS tasks and report with honest statistics.

    python train.py                                   # quick default comparison on mnist
    python train.py --task mnist --model cnn --activations relu,leaky_relu,prelu,rrelu,elu \
        --seeds 3 --epochs 5 --out runs/mnist
    python train.py --preset imdb --seeds 5           # shipped config, then overrides
    python train.py report --out runs/a runs/b --dest runs/merged
    python train.py list                              # activations, models, tasks, presets

Precedence: built-in defaults < --preset < --config FILE < command-line flags.
"""

import argparse
import os
import shlex
import signal
import sys

from relu_zoo import _logs
from relu_zoo.run import spec

# flag -> help; every flag maps to the SweepConfig field of the same name (dashes -> underscores).
FLAGS = {
    "--task": "task name(s), comma-separated (see `train.py list`); default mnist",
    "--model": "model name(s), comma-separated: mlp, cnn, rnn, relu_rnn; default cnn",
    "--activations": "activation specs, comma-separated; parameters as name:key=value "
                     "(e.g. relu,leaky_relu:negative_slope=0.2,prelu). The first is the baseline",
    "--seeds": "number of seeds (3 -> 0,1,2) or an explicit list (0,5,7)",
    "--epochs": "epochs per run",
    "--batch-size": "batch size",
    "--learning-rate": "peak learning rate",
    "--optimizer": f"one of {', '.join(spec.OPTIMIZERS)}",
    "--schedule": f"learning-rate schedule: {', '.join(spec.SCHEDULES)}",
    "--weight-decay": "decoupled weight decay (adamw; sgd: per step, times the learning rate)",
    "--momentum": "sgd (Nesterov) momentum; default 0.9",
    "--warmup": "fraction of the steps over which the learning rate rises linearly from 0 (any schedule)",
    "--label-smoothing": "label smoothing of the cross-entropy, in [0, 1)",
    "--precision": f"Keras dtype policy: {', '.join(spec.PRECISIONS)} (auto: mixed_bfloat16 on a CPU with "
                   "AMX/AVX-512 BF16 or a GPU of compute capability >= 8, mixed_float16 on older GPUs, float32 "
                   "elsewhere; learned activation parameters stay float32)",
    "--tta": "also report test accuracy with test-time augmentation (image tasks): false, true or flip (the "
             "mirror image), flip_translate (airbench's mirror x {0, +-1 px} translates)",
    "--lookahead": "airbench's lookahead: every 5 steps the weights (and batch-norm statistics) become an "
                   "average of themselves and their last such average, weighted more towards the average "
                   "as training ends: true/false",
    "--clipnorm": "gradient clipping by norm (relu_rnn defaults to 1.0)",
    "--max-train-examples": "cap on training examples per run ('all' for no cap)",
    "--max-eval-examples": "cap on validation and test examples ('all' for no cap)",
    "--model-kwargs": "JSON object of model options, e.g. '{\"width\": 128}'",
    "--task-kwargs": "JSON object of task options, e.g. '{\"flip\": \"alternating\", \"validation_every\": null}'",
    "--probe-examples": "examples in the diagnostics probe batch",
    "--data-dir": "TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    "--out": "output folder; re-running with the same folder resumes the sweep",
    "--verbose": "Keras fit verbosity: auto (a progress bar on a terminal, one line per epoch into a file or "
                 "pipe), 0, 1, 2",
    "--distribute": "one run across devices: mirrored (all local devices) or multi_worker (synchronous over "
                    "the processes listed in TF_CONFIG; start the same command on every worker, the chief "
                    "writes --out); default: one device",
    "--cpu-devices": "split the CPU into N logical devices (try --distribute mirrored without GPUs)",
    "--shard": "run only shard i of n of the grid, as 'i/n' (e.g. a Slurm array task or a Kubernetes indexed "
               "Job); merge the shards' folders with `train.py report`",
}


def train_parser():
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Compare ReLU-family activations on TensorFlow Datasets across seeds. Writes results.json, "
                    "results.csv, summary.md and plots/ to --out. Subcommands: `report` (rebuild/merge reports), "
                    "`study NAME` (measure a claim: relu_zoo.studies), `list` (what is available).",
        epilog="Config files (YAML/JSON) use the same keys as the flags, with underscores; unknown keys are an "
               "error. Precedence: defaults < --preset < --config < flags.",
    )
    parser.add_argument("--preset", help=f"shipped config: {', '.join(spec.list_presets())}")
    parser.add_argument("--config", help="YAML or JSON config file")
    for flag, text in FLAGS.items():
        parser.add_argument(flag, help=text, default=None)
    parser.add_argument("--diagnostics", dest="diagnostics", action="store_true", default=None,
                        help="record dead units, gradient norms and learned parameters (default on)")
    parser.add_argument("--no-diagnostics", dest="diagnostics", action="store_false")
    parser.add_argument("--no-download", dest="download", action="store_false", default=None,
                        help="never download a dataset missing from --data-dir; fail at once instead. By default "
                             "TFDS downloads and prepares it when its hosts answer")
    parser.add_argument("--save-checkpoint", dest="save_checkpoint", action="store_true", default=None,
                        help="save each run's trained model as runs/<run_id>/model.keras (it loads with "
                             "keras.saving.load_model after `import relu_zoo.models`, which registers relu_zoo's "
                             "layers and blocks)")
    # How the runs are executed, not what they compute: not part of the sweep's configuration.
    ray = parser.add_argument_group("Ray (pip install 'relu_zoo[ray]')")
    ray.add_argument("--ray", action="store_true", help="run each run of the grid as a Ray task")
    ray.add_argument("--ray-address", help="cluster to join: 'auto' (started with `ray start` on this machine) or "
                                           "HOST:PORT; default: a new local Ray instance")
    ray.add_argument("--ray-cpus-per-run", type=float, default=1.0, help="CPUs each run asks for (default 1)")
    ray.add_argument("--ray-gpus-per-run", type=float, default=0.0, help="GPUs each run asks for (default 0)")
    return parser


def report_parser():
    parser = argparse.ArgumentParser(prog="train.py report",
                                     description="Rebuild a report from finished runs, merging several folders.")
    parser.add_argument("--out", nargs="+", required=True, help="output folder(s) holding runs/")
    parser.add_argument("--dest", help="where to write the merged report (default: the first --out)")
    return parser


def _overrides(args):
    overrides = {}
    for key, value in vars(args).items():
        if key in ("preset", "config") or key.startswith("ray") or value is None:
            continue
        overrides[key] = value
    return overrides


def _error(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_list():
    import relu_zoo
    from relu_zoo import models, tasks

    print("activations:", ", ".join(relu_zoo.list_activations()))
    print("aliases:    ", ", ".join(f"{a}->{t}" for a, t in relu_zoo.list_aliases().items()))
    print("models:     ", ", ".join(f"{m} ({'/'.join(models.model_modalities(m))})" for m in models.list_models()))
    print("tasks:      ", ", ".join(f"{t} ({tasks.get(t).spec.modality})" for t in tasks.list_tasks()))
    print("presets:    ", ", ".join(spec.list_presets()))
    return 0


def cmd_report(argv):
    from relu_zoo.run import report

    args = report_parser().parse_args(argv)
    dest = args.dest or args.out[0]
    try:
        path = report.write_report(args.out, dest)
    except ValueError as e:
        return _error(str(e))
    print(f"Report: {path}")
    return 0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (which clusters send before killing): stop, keeping finished runs and the resume
    point, and exit with 128 + the signal's number (130, 143)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum, frame):
    raise Interrupted(signum)


def _ray_sweep():
    """relu_zoo.run.ray_sweep.ray_sweep, imported only for --ray: Ray is an optional dependency."""
    try:
        from relu_zoo.run.ray_sweep import ray_sweep
    except ImportError as e:
        raise spec.ConfigError(f"--ray needs Ray ({e}). Install it with: pip install 'relu_zoo[ray]'") from None
    return ray_sweep


@_logs.running_command()
def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if argv[:1] == ["list"]:
        return cmd_list()
    if argv[:1] == ["report"]:
        return cmd_report(argv[1:])
    if argv[:1] == ["study"]:
        from relu_zoo.studies.cli import main as study_main

        return study_main(argv[1:])
    args = train_parser().parse_args(argv)
    from relu_zoo.run import report
    from relu_zoo.run.distribute import Distribution
    from relu_zoo.run.sweep import sweep
    from relu_zoo.tasks import DatasetNotFoundError

    config = None
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        config = spec.resolve(args.preset, args.config, _overrides(args), check=False)
        # Devices and strategies must be set up before anything creates a tensor (validation builds layers).
        distribution = Distribution(config.distribute, config.cpu_devices)
        spec.validate(config)
        command = "python train.py " + shlex.join(argv) if argv else "python train.py"
        if args.ray:
            summary = _ray_sweep()(config, command=command, address=args.ray_address,
                                   cpus_per_run=args.ray_cpus_per_run, gpus_per_run=args.ray_gpus_per_run)
        else:
            summary = sweep(config, command=command, distribution=distribution)
    except (spec.ConfigError, DatasetNotFoundError) as e:
        return _error(str(e))
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        out = config.out if config else args.out
        print(f"\nStopped by {signal.Signals(signum).name}. Finished runs and the last finished epoch of the run "
              f"in progress are kept in {out}; run the same command to continue.", file=sys.stderr)
        return 128 + signum
    except OSError as e:
        from relu_zoo.run.store import output_error

        error = output_error(e, config.out if config else args.out)
        if error is None:
            raise
        return _error(str(error))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if summary is None:
        if not distribution.is_chief:
            print(f"Worker finished ({distribution.name}); the chief writes the results and the report.")
        return 0
    print(f"\nReport: {summary}")
    print(report.short_table(summary.parent))
    return 0

"""The `relu-zoo` command line (pyproject `[project.scripts]`); `python train.py ...` is `relu-zoo train ...`.

    relu-zoo train [options]                     # compare activations across seeds (`relu-zoo train --help`)
    relu-zoo compare my_pkg.acts:swish2          # one activation against the stored baselines (--protocol standard)
    relu-zoo report DIR [DIR ...] [--out DIR]    # rebuild / merge the reports of finished sweeps
    relu-zoo list [activations|aliases|models|tasks|presets|pretrained]
    relu-zoo study NAME [--quick]                # measure a claim about ReLU (relu_zoo.studies)
    relu-zoo predict cnn_relu.mnist digit.png    # top-k labels with probabilities
    relu-zoo sample RUN_DIR --prompt "This movie" --length 200   # text from a trained language model
    relu-zoo export cnn_prelu.mnist --format tflite --out cnn_prelu.tflite
    relu-zoo finetune cnn_relu.mnist --to prelu --out DIR   # swap activations, fine-tune, before / after
    relu-zoo zoo export RUN_DIR [RUN_DIR ...]    # finished runs -> checkpoint folders (`zoo index|cards|list`)
    relu-zoo reproduce cnn_relu.mnist            # re-run a checkpoint's card, compare its test accuracy

Exit status, the same for every command:
    0         success
    1         `relu-zoo reproduce`: the re-run's accuracy is outside the card's tolerance
    2         a usage error: an unknown command, name or flag, a bad value or config file, an input that does
              not fit the checkpoint's task, a missing file, data or checkpoint weights that are neither local
              nor downloadable, an output folder that cannot be written. One line `error: ...` on stderr names
              the problem and the fix (argparse's own errors print the usage first).
    130, 143  stopped by SIGINT / SIGTERM (128 + the signal's number); finished runs and the resume point are
              kept, and the same command continues.
"""

import argparse
import os
import re
import shlex
import signal
import sys
from pathlib import Path

from relu_zoo import _deprecation, _logs
from relu_zoo.run import interrupt, spec

LISTS = ("activations", "aliases", "models", "tasks", "presets", "pretrained")


def error(message):
    """Prints `error: <message>` on stderr; returns the usage-error exit status, 2."""
    print(f"error: {message}", file=sys.stderr)
    return 2


# -- train --------------------------------------------------------------------------------------------------

def train_parser(prog="relu-zoo train"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compare ReLU-family activations on TensorFlow Datasets across seeds. Writes results.json, "
                    "results.csv, summary.md and plots/ to --out. The other commands: `relu-zoo --help`.",
        epilog="Config files (YAML/JSON) use the same keys as the flags, with underscores; unknown keys are an "
               "error. Precedence: defaults < --preset < --config < flags.",
    )
    parser.add_argument("--preset", help=f"shipped config: {', '.join(spec.list_presets())}")
    parser.add_argument("--config", help="YAML or JSON config file")
    for flag, text in spec.FLAGS.items():
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
    parser.add_argument("--jobs", type=int, default=1,
                        help="train N runs at once in N processes on this machine, each with 1/N of the cores "
                             "(relu_zoo.run.jobs); default 1")
    ray = parser.add_argument_group("Ray (pip install 'relu_zoo[ray]')")
    ray.add_argument("--ray", action="store_true", help="run each run of the grid as a Ray task")
    ray.add_argument("--ray-address", help="cluster to join: 'auto' (started with `ray start` on this machine) or "
                                           "HOST:PORT; default: a new local Ray instance")
    ray.add_argument("--ray-cpus-per-run", type=float, default=1.0, help="CPUs each run asks for (default 1)")
    ray.add_argument("--ray-gpus-per-run", type=float, default=0.0, help="GPUs each run asks for (default 0)")
    return parser


def _overrides(args):
    overrides = {}
    for key, value in vars(args).items():
        if key in ("preset", "config", "jobs") or key.startswith("ray") or value is None:
            continue
        overrides[key] = value
    return overrides


def train_config(argv, prog="relu-zoo train"):
    """The sweep configuration `relu-zoo train argv` runs (defaults < --preset < --config < flags), before its
    semantic checks: for tools that time or inspect a run as the command would make it."""
    args = train_parser(prog).parse_args(list(argv))
    return spec.resolve(args.preset, args.config, _overrides(args), check=False)


def _ray_sweep():
    """relu_zoo.run.ray_sweep.ray_sweep, imported only for --ray: Ray is an optional dependency."""
    try:
        from relu_zoo.run.ray_sweep import ray_sweep
    except ImportError as e:
        raise spec.ConfigError(f"--ray needs Ray ({e}). Install it with: pip install 'relu_zoo[ray]'") from None
    return ray_sweep


def _sweeping(work, out):
    """Runs `work()` (sweeps) under the command line's handling: usage errors as one line (exit 2), SIGINT/SIGTERM
    keeping finished runs (128 + the signal), an unwritable `out()` named. Returns (exit status or None, result)."""
    from relu_zoo.tasks import DatasetNotFoundError

    try:
        with interrupt.stop_on_signals():
            return None, work()
    except (spec.ConfigError, DatasetNotFoundError) as e:
        return error(str(e)), None
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"\nStopped by {signal.Signals(signum).name}. Finished runs and the last finished epoch of the run "
              f"in progress are kept in {out()}; run the same command to continue.", file=sys.stderr)
        return 128 + signum, None
    except OSError as e:
        from relu_zoo.run.store import output_error

        failure = output_error(e, out())
        if failure is None:
            raise
        return error(str(failure)), None


def cmd_train(argv, prog="relu-zoo train"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = train_parser(prog).parse_args(argv)
    from relu_zoo.run import jobs, report
    from relu_zoo.run.distribute import Distribution
    from relu_zoo.run.rounds import sweep_until
    from relu_zoo.run.sweep import sweep

    resolved = {}

    def work():
        config = resolved["config"] = spec.resolve(args.preset, args.config, _overrides(args), check=False)
        if args.jobs < 1 or (args.jobs > 1 and (args.ray or config.distribute)):
            raise spec.ConfigError(f"--jobs must be a number of processes >= 1, without --ray or --distribute "
                                   f"(they place runs themselves). Received: --jobs {args.jobs}.")
        if config.target_ci is not None and (args.jobs > 1 or args.ray):
            raise spec.ConfigError(f"--target-ci decides after each round, from all of its runs, whether to add "
                                   f"seeds: it runs in one process, without {'--ray' if args.ray else '--jobs'}. "
                                   "Drop one of the two.")
        if args.jobs > 1:
            jobs.use_threads(jobs.threads_per_job(args.jobs))
        # Devices and strategies must be set up before anything creates a tensor (validation builds layers).
        distribution = resolved["distribution"] = Distribution(config.distribute, config.cpu_devices)
        spec.validate(config)
        invoked = "python train.py" if prog == "train.py" else prog
        command = f"{invoked} {shlex.join(argv)}" if argv else invoked
        if args.ray:
            return _ray_sweep()(config, command=command, address=args.ray_address,
                                cpus_per_run=args.ray_cpus_per_run, gpus_per_run=args.ray_gpus_per_run)
        if config.target_ci is not None:
            return sweep_until(config, command=command, distribution=distribution)
        if args.jobs == 1:
            return sweep(config, command=command, distribution=distribution)
        others = jobs.start(argv, args.jobs)
        try:
            summary = sweep(config, command=command, distribution=distribution)
        except BaseException:
            jobs.stop(others)
            raise
        resolved["others_status"] = jobs.wait(others)
        # The last process to finish writes the report; it may have been one of the others.
        written = Path(config.out) / "summary.md"
        return summary or (written if written.is_file() and not resolved["others_status"] else None)

    status, summary = _sweeping(work, lambda: resolved["config"].out if "config" in resolved else args.out)
    if status is not None:
        return status
    if resolved.get("others_status"):
        return error(f"a process of --jobs {args.jobs} exited with status {resolved['others_status']} (its "
                     "message is above); re-run the same command to finish the sweep.")
    if summary is None:
        if not resolved["distribution"].is_chief:
            print(f"Worker finished ({resolved['distribution'].name}); the chief writes the results and the report.")
        return 0
    print(f"\nReport: {summary}")
    print(report.short_table(summary.parent))
    return 0


# -- compare ----------------------------------------------------------------------------------------------------

def cmd_compare(argv):
    from relu_zoo.run import protocol as protocols

    parser = argparse.ArgumentParser(
        prog="relu-zoo compare",
        description="Compare activations with the zoo's under a fixed protocol: only the given activations (and "
                    "any baseline run not stored) are trained; the report pairs them by seed with the stored "
                    "baselines. Resumable: re-run the same command to continue.")
    parser.add_argument("activations", nargs="?", default="",
                        help="activation specs, comma-separated, as for `relu-zoo train --activations` (none: the "
                             "baselines only)")
    parser.add_argument("--protocol", default="standard", choices=protocols.list_protocols())
    parser.add_argument("--out", help="the comparison's folder (default runs/compare/PROTOCOL__ACTIVATIONS)")
    parser.add_argument("--baselines", default="stored",
                        help="a folder of stored baseline records; 'stored' (default): the checkout's "
                             "benchmarks/reports/PROTOCOL/records where there is one; 'none': train them too")
    parser.add_argument("--save-baselines", metavar="DIR",
                        help="copy the finished baseline runs' records into DIR (how the stored ones are made)")
    parser.add_argument("--target-ci", type=float, default=None,
                        help="add seeds beyond each cell's in rounds until every paired interval's half-width is at "
                             "most this many points (as for `relu-zoo train`; the extra seeds' baselines train too)")
    parser.add_argument("--max-seeds", type=int, default=None, help="the cap on seeds per cell with --target-ci")
    parser.add_argument("--data-dir", help="TFDS data folder (default TFDS_DATA_DIR)")
    parser.add_argument("--verbose", default=None, help="as for `relu-zoo train`")
    args = parser.parse_args(argv)
    activations = [a for a in args.activations.split(",") if a]
    baselines = None if args.baselines == "none" else args.baselines
    if baselines not in (None, "stored") and not Path(baselines).is_dir():
        return error(f"--baselines {baselines!r} is not a folder. Pass a folder of stored records, 'stored' or "
                     "'none'.")
    settings = {k: v for k, v in (("data_dir", args.data_dir), ("verbose", args.verbose),
                                  ("target_ci", args.target_ci), ("max_seeds", args.max_seeds)) if v is not None}
    command = shlex.join(["relu-zoo", "compare", *argv])
    status, path = _sweeping(
        lambda: protocols.compare(activations, args.protocol, args.out, baselines, args.save_baselines, settings,
                                  command=command),
        # Asked for only after the names were checked (an interrupt, an unwritable folder).
        lambda: args.out or protocols.default_out(args.protocol, activations))
    if status is not None:
        return status
    out = Path(path).parent
    from relu_zoo.run import report

    print(f"\nReport: {path}\nFigure: {Path(out) / 'plots' / protocols.SUMMARY_FIGURE}")
    print(report.short_table(out))
    return 0


# -- list ---------------------------------------------------------------------------------------------------

def listing(what):
    """{"activations": [...], ...} for one category, or all of them when `what` is None."""
    import relu_zoo
    from relu_zoo import models, pretrained, registry, tasks
    from relu_zoo.run import spec

    make = {
        # The classic baselines and the plug-ins declared by installed distributions follow the zoo's own, marked.
        "activations": lambda: relu_zoo.list_activations() + [
            f"{name} (classic baseline: {source})" for name, source in registry.list_baselines().items()] + [
            f"{name} (plug-in: {source})" for name, source in relu_zoo.list_plugins().items()],
        "aliases": lambda: [f"{alias}->{target}" for alias, target in relu_zoo.list_aliases().items()],
        "models": lambda: [f"{m} ({'/'.join(models.model_modalities(m))})" for m in models.list_models()],
        "tasks": lambda: [f"{t} ({tasks.get(t).spec.modality})" for t in tasks.list_tasks()],
        "presets": spec.list_presets,
        "pretrained": pretrained.list_pretrained,
    }
    return {name: list(make[name]()) for name in ([what] if what else LISTS)}


def cmd_list(argv):
    parser = argparse.ArgumentParser(prog="relu-zoo list", description="What relu_zoo has.")
    parser.add_argument("what", nargs="?", choices=LISTS, help="one category (default: all)")
    args = parser.parse_args(argv)
    if args.what == "pretrained":
        from relu_zoo import pretrained

        print(pretrained.describe())
        return 0
    found = listing(args.what)
    if args.what in (None, "activations"):
        from relu_zoo.registry import shadowed_plugins

        for message in shadowed_plugins().values():
            print(f"warning: {message}", file=sys.stderr)
    if args.what:
        print("\n".join(found[args.what]))
    else:
        for name, items in found.items():
            print(f"{name + ':':13} {', '.join(items)}")
    return 0


# -- report ---------------------------------------------------------------------------------------------------

def cmd_report(argv):
    from relu_zoo.run import report

    parser = argparse.ArgumentParser(prog="relu-zoo report",
                                     description="Rebuild a report from finished sweeps, merging several folders.")
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="sweep output folder(s) holding runs/")
    out = parser.add_argument("--out", help="where to write the merged report (default: the first DIR)")
    _deprecation.renamed_flag(parser, "--dest", out)
    args = parser.parse_args(argv)
    try:
        path = report.write_report(args.dirs, args.out or args.dirs[0])
    except ValueError as e:
        return error(str(e))
    print(f"Report: {path}")
    return 0


# -- study ---------------------------------------------------------------------------------------------------

def cmd_study(argv):
    from relu_zoo.studies import list_studies, restate_study, run_study

    parser = argparse.ArgumentParser(prog="relu-zoo study",
                                     description="Measure a claim about ReLU; resumable: re-run to continue.")
    parser.add_argument("name", choices=list_studies(), help="the study")
    parser.add_argument("--out", help="where results.json, figures/ and README.md go (default "
                                      "benchmarks/reports/studies/NAME, or runs/studies-quick/NAME with --quick)")
    parser.add_argument("--work", help="where the runs are trained (default runs/studies/NAME/runs)")
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred examples, for tests: seconds, not evidence")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: write the results of the runs finished so far (marked partial if "
                             "some are missing)")
    parser.add_argument("--restate", action="store_true",
                        help="train and read no runs: recompute the comparisons and verdict of the results.json "
                             "stored in --out, from its analysis and the runs' scalars, and rewrite the report")
    parser.add_argument("--data-dir", help="TFDS data folder (default TFDS_DATA_DIR)")
    args = parser.parse_args(argv)
    try:
        if args.restate:
            path = restate_study(args.name, out=args.out, quick=args.quick)
        else:
            path = run_study(args.name, out=args.out, work=args.work, quick=args.quick, data_dir=args.data_dir,
                             train=not args.report_only)
    except spec.ConfigError as e:
        return error(str(e))
    print(f"Wrote {path}")
    return 0


# -- predict ------------------------------------------------------------------------------------------------

def cmd_predict(argv):
    parser = argparse.ArgumentParser(prog="relu-zoo predict",
                                     description="Classify files with a pretrained checkpoint: PNG/JPEG images, "
                                                 "WAV audio or text files, as the checkpoint's task takes them.")
    parser.add_argument("name", help="checkpoint (`relu-zoo list pretrained`)")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--top-k", type=int, default=3, help="labels to print per file (default 3)")
    args = parser.parse_args(argv)
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        return error(f"no such file: {', '.join(missing)}")
    from relu_zoo.predict import InputError, predict
    from relu_zoo.pretrained import CheckpointUnavailableError

    try:
        results = predict(args.name, args.files, args.top_k)
    except (InputError, ValueError, CheckpointUnavailableError) as e:
        return error(str(e))
    for path, top in results:
        print(f"{path}: " + ", ".join(f"{label} ({100 * p:.2f}%)" for label, p in top))
    return 0


# -- sample ---------------------------------------------------------------------------------------------------

def cmd_sample(argv):
    parser = argparse.ArgumentParser(prog="relu-zoo sample", description="Continue a prompt with a trained byte-level "
                                     "language model (`relu-zoo train --preset imdb_bytes --save-checkpoint`).")
    parser.add_argument("model", help="a run or checkpoint folder (model.keras), a .keras file or a pretrained name")
    parser.add_argument("--prompt", default="", help="text to continue (default: the start of a new document)")
    parser.add_argument("--length", type=int, default=200, help="bytes to generate (default 200)")
    parser.add_argument("--temperature", type=float, default=1.0, help="> 0; 1 samples the model's distribution, "
                                                                       "lower is greedier (default 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same text (default 0)")
    args = parser.parse_args(argv)
    from relu_zoo import sample
    from relu_zoo.pretrained import CheckpointUnavailableError

    try:
        sample.check_arguments(args.length, args.temperature, args.seed)  # before the model is loaded
        text = sample.sample(sample.load(args.model), args.prompt, args.length, args.temperature, args.seed)
    except (ValueError, CheckpointUnavailableError) as e:
        return error(re.sub(r"`(length|temperature|seed)`", r"--\1", str(e)))
    print(args.prompt + text)
    return 0


# -- export ---------------------------------------------------------------------------------------------------

def cmd_export(argv):
    from relu_zoo import deploy

    parser = argparse.ArgumentParser(prog="relu-zoo export",
                                     description="Write a checkpoint's model (preprocessed inputs -> logits) in a "
                                                 "deployment format.")
    parser.add_argument("name", help="checkpoint (`relu-zoo list pretrained`)")
    parser.add_argument("--format", required=True, choices=list(deploy.FORMATS))
    parser.add_argument("--out", help="file (folder for saved_model); default <name>.<suffix> here")
    parser.add_argument("--check", type=int, default=0, metavar="N",
                        help="then compare the export with the Keras model on the first N real test inputs, "
                             "run by the format's own runtime (needs the task's data)")
    args = parser.parse_args(argv)
    try:
        deploy.check_backend(args.format)  # at once: a format this backend cannot write needs nothing loaded
    except ValueError as e:
        return error(str(e))
    from relu_zoo import pretrained
    from relu_zoo.tasks import DatasetNotFoundError

    try:
        model = pretrained.load(args.name, compile=False)
        # The check's inputs first: without the data the command fails before it writes anything, rather than
        # leaving an export that was asked to be checked and was not.
        inputs = pretrained.model_inputs(args.name, args.check) if args.check else None
        path = deploy.export_model(model, args.format, args.out or deploy.default_path(args.name, args.format))
    except (ValueError, ImportError, pretrained.CheckpointUnavailableError, DatasetNotFoundError) as e:
        return error(str(e))
    print(f"{path} ({deploy.file_size(path) / 1e6:.2f} MB)")
    if args.check:
        result = deploy.parity(model, deploy.runtime(path, args.format), inputs)
        print(f"top-1 agreement {100 * result['top1_agreement']:.2f}% on {result['examples']} test inputs, "
              f"max abs difference {result['max_abs_diff']:.3g}")
    return 0


# -- finetune ------------------------------------------------------------------------------------------------

def cmd_finetune(argv):
    import json

    from relu_zoo import _io, registry
    from relu_zoo.finetune import finetune, result_markdown

    parser = argparse.ArgumentParser(
        prog="relu-zoo finetune",
        description="Swap the activations of a zoo checkpoint, fine-tune it and measure test accuracy before "
                    "and after. Writes <out>/<checkpoint>-<to>.json (and .md) and prints the table.")
    parser.add_argument("checkpoint", help="a checkpoint name, e.g. cnn_relu.mnist (`relu-zoo list pretrained`)")
    parser.add_argument("--to", required=True, help="activation spec, e.g. prelu or 'leaky_relu:negative_slope=0.2'")
    parser.add_argument("--match", default="relu", help="activation names to replace, comma-separated (default relu)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--max-train-examples", type=int, default=None, help="cap on training examples (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="skip fine-tuning the unswapped checkpoint the same way")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory (default $TFDS_DATA_DIR)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")
    args = parser.parse_args(argv)
    match = tuple(m.strip() for m in args.match.split(",") if m.strip())
    try:
        result = finetune(args.checkpoint, args.to, match=match, epochs=args.epochs, batch_size=args.batch_size,
                          learning_rate=args.learning_rate, max_train_examples=args.max_train_examples,
                          seed=args.seed, control=args.control, data_dir=args.data_dir, verbose=args.verbose)
    except ValueError as e:
        return error(str(e))
    result["command"] = "relu-zoo finetune " + shlex.join(argv)
    stem = os.path.join(args.out, f"{args.checkpoint}-{registry.parse_spec(args.to)[0]}")
    _io.atomic_write_text(stem + ".json", json.dumps(result, indent=2) + "\n")
    table = result_markdown(result)
    _io.atomic_write_text(stem + ".md", table + "\n")
    print(table)
    print(f"\nWrote {stem}.json")
    return 0


# -- reproduce -------------------------------------------------------------------------------------------------

def cmd_reproduce(argv):
    parser = argparse.ArgumentParser(
        prog="relu-zoo reproduce",
        description="Re-run the training a checkpoint's card records (its activation and seed only) and compare the "
                    "test accuracy with the card's: exit 0 within the card's tolerance, 1 outside it. Resumable: "
                    "re-run the same command to continue.")
    parser.add_argument("name", help="checkpoint (`relu-zoo list pretrained`)")
    parser.add_argument("--out", help="the re-run's folder (default runs/reproduce/NAME)")
    parser.add_argument("--record", metavar="DIR", help="also store the comparison as DIR/NAME.json and regenerate "
                        "DIR/README.md (how benchmarks/reports/reproduce is made)")
    parser.add_argument("--data-dir", help="TFDS data folder (default TFDS_DATA_DIR)")
    parser.add_argument("--verbose", default=None, help="as for `relu-zoo train`")
    args = parser.parse_args(argv)
    from relu_zoo import reproduce

    status, record = _sweeping(lambda: reproduce.reproduce(args.name, args.out, args.data_dir, args.verbose),
                               lambda: args.out or reproduce.default_out(args.name))
    if status is not None:
        return status
    print(reproduce.summary(record))
    if args.record:
        print(f"Recorded in {reproduce.store_record(record, args.record)}")
    return 0 if record["within"] else 1


# -- zoo -------------------------------------------------------------------------------------------------------

def cmd_zoo(argv):
    import json

    parser = argparse.ArgumentParser(prog="relu-zoo zoo", description="Build the zoo of pretrained checkpoints.")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="copy finished runs saved with --save-checkpoint into the zoo")
    exp.add_argument("runs", nargs="+")
    exp.add_argument("--root", help="zoo folder (default: the repository's models/)")
    exp.add_argument("--missed-note", default=None, help="reason recorded in the card when a target is missed")
    exp.add_argument("--data-note", default=None, help="a sentence on the data for the card (e.g. which copy of "
                     "the dataset it was trained on)")
    sub.add_parser("index", help="regenerate models/index.json and models/README.md (then run "
                   "`python tools/docs_tables.py` for the repository's docs tables and pyproject)").add_argument("--root")
    sub.add_parser("cards", help="regenerate each checkpoint's card and command (machine-independent, its activation "
                   "and seed only) from its metadata, weights untouched; then the index").add_argument("--root")
    sub.add_parser("list", help="list the checkpoints").add_argument("--root")
    args = parser.parse_args(argv)
    from relu_zoo import pretrained, zoo

    if args.command == "export":
        for run in args.runs:
            task = json.loads((Path(run) / "result.json").read_text())["task"]
            try:
                name = zoo.export(run, root=args.root, target_accuracy=zoo.TARGETS.get(task),
                                  target_note=args.missed_note, data_notes=args.data_note)
            except ValueError as e:
                return error(str(e))
            print(f"exported {name}")
        print("Regenerate the docs' checkpoint table and pyproject's data-files: python tools/docs_tables.py")
    elif args.command == "index":
        zoo.write_index(args.root)
    elif args.command == "cards":
        try:
            zoo.rewrite_cards(args.root)
        except ValueError as e:
            return error(str(e))
    else:
        print("\n".join(pretrained.list_pretrained(args.root)))
    return 0


# -- main -------------------------------------------------------------------------------------------------------

COMMANDS = {"train": cmd_train, "compare": cmd_compare, "report": cmd_report, "list": cmd_list, "study": cmd_study, "predict": cmd_predict,
            "sample": cmd_sample,
            "export": cmd_export, "finetune": cmd_finetune, "zoo": cmd_zoo, "reproduce": cmd_reproduce}


@_logs.running_command()
def main(argv=None, prog="relu-zoo"):
    """Runs one command; returns its exit status. `prog="train.py"` (what train.py passes) makes the command
    default to `train`: `python train.py --preset x` is `relu-zoo train --preset x`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if prog == "train.py" and (not argv or argv[0] not in COMMANDS):
        return cmd_train(argv, prog)
    if not argv or argv[0] in ("-h", "--help"):
        print("\n".join("  " + line[4:] for line in __doc__.split("\n\n")[1].splitlines()))
        return 0 if argv else 2
    if argv[0] == "--version":
        import relu_zoo

        print(f"relu-zoo {relu_zoo.__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        from relu_zoo.names import did_you_mean

        return error(f"unknown command {command!r}.{did_you_mean(command, list(COMMANDS))} "
                     f"Commands: {', '.join(COMMANDS)}.")
    try:
        return COMMANDS[command](rest)
    except BrokenPipeError:  # `relu-zoo list | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0


# Moved to relu_zoo.predict: reading and classifying input files is not the command line's job.
__getattr__ = _deprecation.moved(__name__, {name: f"relu_zoo.predict.{name}" for name in (
    "predict", "read_input", "sniff", "what_fits", "InputError")})


if __name__ == "__main__":
    sys.exit(main())

"""The `relu-zoo` command (pyproject `[project.scripts]`).

    relu-zoo train [train.py options]            # exactly `python train.py ...`
    relu-zoo report DIR [DIR ...] [--dest DIR]   # rebuild / merge reports of finished sweeps
    relu-zoo list [activations|models|tasks|presets|pretrained]
    relu-zoo predict cnn_relu.mnist digit.png    # top-k labels with probabilities
    relu-zoo export cnn_prelu.mnist --format tflite --out cnn_prelu.tflite

Exit status: 0 on success, 2 for a usage error (unknown name, an input that does not fit the checkpoint's
task, a missing file, checkpoint weights that are neither local nor downloadable), as `train.py` does.
"""

import argparse
import os
import sys
import wave
from pathlib import Path

LISTS = ("activations", "models", "tasks", "presets", "pretrained")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class InputError(ValueError):
    """A file given to `predict` does not fit the checkpoint's task."""


def _error(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


# -- list ---------------------------------------------------------------------------------------------------

def listing(what):
    """{"activations": [...], ...} for one category, or all of them when `what` is None."""
    import relu_zoo
    from relu_zoo import models, pretrained, tasks
    from relu_zoo.run import spec

    make = {
        "activations": relu_zoo.list_activations,
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
    found = listing(args.what)
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
    parser.add_argument("--dest", help="where to write the merged report (default: the first DIR)")
    args = parser.parse_args(argv)
    try:
        path = report.write_report(args.dirs, args.dest or args.dirs[0])
    except ValueError as e:
        return _error(str(e))
    print(f"Report: {path}")
    return 0


# -- predict ------------------------------------------------------------------------------------------------

def sniff(path, data):
    """"image", "speech" (WAV) or "text" from a file's first bytes (its suffix only names it in messages)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff":
        return "image"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "speech"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a PNG/JPEG image, a WAV file or UTF-8 text.") from None
    return "text"


def what_fits(task):
    """One phrase saying which files fit `task`."""
    if task.modality == "image":
        h, w, c = task.spec.input_shape
        return f"{w}x{h} {'grayscale' if c == 1 else 'RGB'} PNG or JPEG images"
    if task.modality == "speech":
        return f"mono 16-bit WAV audio at {task.sample_rate} Hz"
    return "UTF-8 text files"


def read_input(path, task):
    """The raw input of `task` (as its `raw_input_spec`) read from `path`, or an InputError saying why not."""
    import numpy as np

    path = Path(path)
    data = path.read_bytes()
    kind = sniff(path, data)
    if kind != task.modality:
        names = {"image": "an image", "speech": "WAV audio", "text": "text"}
        raise InputError(f"{path} is {names[kind]}, but task {task.name!r} takes {what_fits(task)}.")
    if kind == "text":
        return np.array(data.decode("utf-8"), dtype=object)
    if kind == "speech":
        return _read_wav(path, task)
    import tensorflow as tf

    image = tf.io.decode_image(data, expand_animations=False).numpy()
    h, w, c = task.spec.input_shape
    if image.shape[:2] != (h, w):
        raise InputError(f"{path} is {image.shape[1]}x{image.shape[0]} pixels, but task {task.name!r} takes "
                         f"{what_fits(task)}. Resize it first (the model was trained at {w}x{h}).")
    if image.shape[-1] in (2, 4):  # drop alpha
        image = image[..., :-1]
    if image.shape[-1] == 3 and c == 1:
        image = tf.image.rgb_to_grayscale(image).numpy()
    elif image.shape[-1] == 1 and c == 3:
        image = np.repeat(image, 3, axis=-1)
    return image.astype("uint8")


def _read_wav(path, task):
    import numpy as np

    with wave.open(str(path), "rb") as f:
        rate, channels, width, frames = f.getframerate(), f.getnchannels(), f.getsampwidth(), f.readframes(-1)
    if rate != task.sample_rate or channels != 1 or width != 2:
        raise InputError(f"{path} is {channels}-channel {8 * width}-bit audio at {rate} Hz, but task "
                         f"{task.name!r} takes {what_fits(task)}.")
    return np.frombuffer(frames, dtype="<i2").astype(task.raw_input_spec.dtype.as_numpy_dtype)


def predict(name, paths, top_k=3):
    """[(path, [(label, probability), ...]), ...]: the top-k classes of checkpoint `name` for each file."""
    import numpy as np

    from relu_zoo import pretrained, tasks

    task = tasks.get(pretrained.metadata(name)["task"])
    inputs = [read_input(p, task) for p in paths]  # every file is checked before the model loads
    model = pretrained.load(name, compile=False, raw_inputs=True)
    results = []
    for path, x in zip(paths, inputs):
        probabilities = np.asarray(model.predict_on_batch(x[None]))[0]
        top = np.argsort(-probabilities)[:top_k]
        results.append((path, [(task.class_names[i], float(probabilities[i])) for i in top]))
    return results


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
        return _error(f"no such file: {', '.join(missing)}")
    from relu_zoo.pretrained import CheckpointUnavailableError

    try:
        results = predict(args.name, args.files, args.top_k)
    except (InputError, ValueError, CheckpointUnavailableError) as e:
        return _error(str(e))
    for path, top in results:
        print(f"{path}: " + ", ".join(f"{label} ({100 * p:.2f}%)" for label, p in top))
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
    from relu_zoo import pretrained

    try:
        model = pretrained.load(args.name, compile=False)
        path = deploy.export_model(model, args.format, args.out or deploy.default_path(args.name, args.format))
    except (ValueError, ImportError, pretrained.CheckpointUnavailableError) as e:
        return _error(str(e))
    print(f"{path} ({deploy.file_size(path) / 1e6:.2f} MB)")
    if args.check:
        result = deploy.parity(model, deploy.runtime(path, args.format), pretrained.model_inputs(args.name, args.check))
        print(f"top-1 agreement {100 * result['top1_agreement']:.2f}% on {result['examples']} test inputs, "
              f"max abs difference {result['max_abs_diff']:.3g}")
    return 0


# -- main -------------------------------------------------------------------------------------------------------

COMMANDS = {"train": None, "report": cmd_report, "list": cmd_list, "predict": cmd_predict, "export": cmd_export}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1].replace("    ", "  "))
        return 0 if argv else 2
    if argv[0] == "--version":
        import relu_zoo

        print(f"relu-zoo {relu_zoo.__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        from relu_zoo.registry import did_you_mean

        return _error(f"unknown command {command!r}.{did_you_mean(command, list(COMMANDS))} "
                      f"Commands: {', '.join(COMMANDS)}.")
    if command == "train":
        from relu_zoo import cli

        return cli.main(rest)  # the same entry as train.py, so every train.py option and exit status applies
    try:
        return COMMANDS[command](rest)
    except BrokenPipeError:  # `relu-zoo list | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())

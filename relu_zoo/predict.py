"""Reading a user's files as a checkpoint's task takes them, and classifying them (`relu-zoo predict`).

    from relu_zoo.predict import predict
    predict("cnn_relu.mnist", ["digit.png"])     # [("digit.png", [("7", 0.998), ("1", 0.001), ...])]
"""

import wave
from pathlib import Path


class InputError(ValueError):
    """A file given to `predict` does not fit the checkpoint's task."""


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

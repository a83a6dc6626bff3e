"""Text from a trained byte-level language model (`relu-zoo sample`): the model continues a prompt, one byte at a
time, each drawn from its softmax at a temperature.

    from relu_zoo.sample import load, sample
    model = load("runs/lm/runs/imdb_bytes__decoder__relu__seed0")   # a run folder, a .keras file or a checkpoint name
    sample(model, "This movie was", length=200, temperature=0.8, seed=0)

The prompt is encoded as the `imdb_bytes` task presents a review (`relu_zoo.tasks.language.encode`): a newline,
which begins every document, then its UTF-8 bytes, so an empty prompt starts a new review. The model sees at most
its context (the last `context` bytes); shorter inputs are padded after their end, which the causal mask keeps
from every position that is read. The same model, prompt, temperature and seed give the same text.
"""

import math
from pathlib import Path

import numpy as np

MODEL_FILE = "model.keras"


class SampleError(ValueError):
    """Sampling was asked for something the model or the arguments cannot give; the message says how to fix it."""


def load(source):
    """The model of `source`: a run or checkpoint folder holding `model.keras`, a `.keras` file, or the name of a
    pretrained checkpoint (`relu-zoo list pretrained`). Loaded with `safe_mode=True`, uncompiled."""
    from relu_zoo import pretrained

    path = Path(source)
    if path.is_dir():
        if not (path / MODEL_FILE).is_file():
            raise SampleError(f"{source!r} holds no {MODEL_FILE}: give a run folder trained with --save-checkpoint, "
                              "a checkpoint folder or a .keras file.")
        path = path / MODEL_FILE
    if path.is_file():
        return pretrained.load_file(path, compile=False)
    if path.suffix == ".keras":
        raise SampleError(f"No such file: {source!r}. Check the path, or give a pretrained name "
                          "(`relu-zoo list pretrained`).")
    return pretrained.load(str(source), compile=False)  # an unknown name: ValueError listing the available ones


def language_model_shape(model):
    """`(context, vocab_size)` of a next-token model: `(batch, context)` token ids in, `(batch, context, vocab)`
    logits out; a SampleError for any other model."""
    inputs, outputs = tuple(model.input_shape), tuple(model.output_shape)
    if len(inputs) != 2 or len(outputs) != 3 or inputs[1] is None or outputs[1] != inputs[1]:
        raise SampleError(f"Model {model.name!r} is not a next-token language model (input {inputs}, output "
                          f"{outputs}): sample from one trained on a language task, e.g. `relu-zoo train --preset "
                          "imdb_bytes --save-checkpoint`.")
    return int(inputs[1]), int(outputs[2])


def encode_prompt(prompt, vocab_size):
    """The prompt's token ids (`relu_zoo.tasks.language.encode`); a SampleError naming the characters whose bytes
    are outside the model's vocabulary."""
    from relu_zoo.tasks.language import encode

    if not isinstance(prompt, str):
        raise SampleError(f"`prompt` must be a string. Received: prompt={prompt!r}")
    ids = encode(prompt)
    if max(ids) >= vocab_size:
        outside = sorted({c for c in prompt if max(c.encode("utf-8")) >= vocab_size})
        raise SampleError(f"The prompt has characters outside the model's vocabulary of {vocab_size} bytes: "
                          f"{', '.join(repr(c) for c in outside)}. Leave them out of the prompt.")
    return ids


def check_arguments(length, temperature, seed):
    """SampleError for `length` < 1, `temperature` <= 0 (or not finite) or a negative `seed`."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise SampleError(f"`length` must be an integer >= 1 (bytes to generate). Received: length={length!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature > 0):
        raise SampleError(f"`temperature` must be a finite number > 0 (1 samples the model's own distribution, "
                          f"lower is greedier). Received: temperature={temperature!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SampleError(f"`seed` must be an integer >= 0. Received: seed={seed!r}")


def sample_ids(model, ids, length, temperature=1.0, seed=0):
    """`length` token ids drawn after `ids`, each from softmax(logits / temperature) of the last `context` ids."""
    check_arguments(length, temperature, seed)
    context, vocab_size = language_model_shape(model)
    rng = np.random.default_rng(seed)
    ids, drawn = list(ids), []
    window = np.zeros((1, context), dtype="int32")
    for _ in range(length):
        recent = ids[-context:]
        window[0, :] = 0
        window[0, :len(recent)] = recent
        logits = np.asarray(model(window, training=False), dtype="float64")[0, len(recent) - 1]
        logits = logits / temperature
        probs = np.exp(logits - logits.max())
        token = int(rng.choice(vocab_size, p=probs / probs.sum()))
        ids.append(token)
        drawn.append(token)
    return drawn


def sample(model, prompt="", length=200, temperature=1.0, seed=0):
    """The text `model` writes after `prompt`: `length` bytes, decoded as UTF-8 (an incomplete or invalid sequence
    becomes U+FFFD). `model`: a Keras model, or anything `load` takes.

    Raises:
        SampleError: a model that is not a byte-level language model, a prompt outside its vocabulary,
            `length` < 1, `temperature` <= 0 or a negative `seed`.
    """
    from relu_zoo.tasks.language import decode

    check_arguments(length, temperature, seed)
    if isinstance(model, (str, Path)):
        model = load(model)
    _, vocab_size = language_model_shape(model)
    return decode(sample_ids(model, encode_prompt(prompt, vocab_size), length, temperature, seed))

"""Language modelling tasks: next-byte prediction on a TFDS text dataset, scored in bits per byte.

| task | TFDS | trained on | evaluated on | vocabulary | context |
|---|---|---|---|---|---|
| `imdb_bytes` | `imdb_reviews/plain_text` 1.0.0 | `train` + `unsupervised` (75,000 reviews, ~100 MB) less every 10th review | `test` (25,000 reviews, ~32 MB) | 256 bytes | 128 |

The reviews of a split are read in their TFDS order (`train` before `unsupervised`), each preceded by a newline
(IMDB reviews hold none: it marks where a review begins, so the model can be prompted with the start of one and
learns where reviews end), and cut into consecutive windows of `context + 1` bytes that overlap by one byte: `x` is a window's first
`context` bytes, `y` the `context` bytes that follow each of them. An example is one window, so
`max_examples` caps windows (20,000 windows of 128 bytes are 2.56 MB of text). Validation is every
`validation_every`-th review of the training reviews, carved before windowing, so no validation byte is
trained on; the test split's reviews are never trained on.

Bits per byte is the mean cross-entropy of the next byte over the held-out bytes, in bits (nats / ln 2):
`BitsPerByte` (below), the metric the runner records and compares for these tasks (lower is
better). Byte ids are the model's input and output directly: there is no vocabulary to fit, and any text
(UTF-8) can be a prompt.

Windowing is TensorFlow ops only (string join, `decode_raw`, reshape), a few hundred reviews at a time; no
Keras layer runs inside the pipeline. The task's preprocessor (what a checkpoint stores beside its model) is
the identity on byte ids.
"""

import math

import keras
import tensorflow as tf

from relu_zoo.tasks.base import AUTOTUNE, SPLITS, Task, TaskSpec, _resolve_caps, register_task
from relu_zoo.tasks.tfds_data import open_builder, read_split

VOCAB_SIZE = 256  # byte values
SEPARATOR = "\n"  # written before every document
# Documents joined and windowed per step of the pipeline: large enough to be vectorized, small enough that
# the bytes cut off at a group's end (less than one window per group) do not matter.
_GROUP = 256


def encode(text):
    """The byte ids of `text` (a str, UTF-8) as the task presents a document's start: the separator, then the text."""
    return list((SEPARATOR + text).encode("utf-8"))


def decode(ids):
    """Byte ids -> str; bytes that do not form valid UTF-8 (a sample may stop inside a character) become U+FFFD."""
    return bytes(int(i) for i in ids).decode("utf-8", errors="replace")


def byte_windows(texts, context, group=_GROUP):
    """Scalar strings -> `(x, y)` int32 windows of `context` byte ids, `y` the next byte of each of `x`'s.

    Every text is preceded by `SEPARATOR`; `group` texts at a time are joined and cut into windows of
    `context + 1` bytes overlapping by one; the remainder of each group (fewer than `context + 1` bytes) is
    dropped.
    """

    def windows(batch):
        ids = tf.cast(tf.io.decode_raw(tf.strings.reduce_join(SEPARATOR + batch), tf.uint8), tf.int32)
        n = (tf.size(ids) - 1) // context
        x = tf.reshape(ids[:n * context], (n, context))
        y = tf.reshape(ids[1:n * context + 1], (n, context))
        return tf.data.Dataset.from_tensor_slices((x, y))

    return texts.batch(group, num_parallel_calls=AUTOTUNE).flat_map(windows)


def _bits(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True) / math.log(2.0)


@keras.saving.register_keras_serializable(package="relu_zoo")
class BitsPerByte(keras.metrics.MeanMetricWrapper):
    """Mean cross-entropy of the next byte in bits: nats / ln 2, over every predicted byte.

    Takes integer labels `(batch, steps)` and logits `(batch, steps, 256)`. Every example has the same number of
    steps, so the mean over examples of their mean is the mean over bytes. The loss is not used for this: with
    label smoothing it is not the cross-entropy.
    """

    def __init__(self, name="bits_per_byte", dtype=None):
        super().__init__(_bits, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class LanguageTask(Task):
    """A TFDS text dataset as next-byte prediction: windows of byte ids in, the following bytes as labels.

    Args:
        name, tfds_name, validation_every, description: See `Task`. Validation is carved by document.
        context: Bytes per example (the model's sequence length).
        train_split: The TFDS split(s) trained on, in TFDS split syntax (`"train+unsupervised"`, `"train[:10%]"`).
        test_split: The TFDS split evaluated on; never trained on.
        text_feature: The TFDS string feature holding each document.
    """

    modality = "language"

    def __init__(self, name, tfds_name, *, context=128, train_split="train", test_split="test",
                 text_feature="text", validation_every=10, description=""):
        if isinstance(context, bool) or not isinstance(context, int) or context < 2:
            raise ValueError(f"`context` must be an integer >= 2. Received: context={context!r}")
        for arg, value in (("train_split", train_split), ("test_split", test_split), ("text_feature", text_feature)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"`{arg}` must be a non-empty string. Received: {arg}={value!r}")
        super().__init__(name, tfds_name, [str(i) for i in range(VOCAB_SIZE)],
                         tfds_splits={"train": train_split, "validation": None, "test": test_split},
                         validation_every=validation_every, description=description)
        self.context = context
        self.text_feature = text_feature

    def get_config(self):
        return {"name": self.name, "tfds_name": self.tfds_name, "context": self.context,
                "train_split": self.tfds_splits["train"], "test_split": self.tfds_splits["test"],
                "text_feature": self.text_feature, "validation_every": self.validation_every,
                "description": self.description}

    @property
    def spec(self):
        return TaskSpec(name=self.name, modality="language", input_shape=(self.context,), input_dtype="int32",
                        num_classes=VOCAB_SIZE, class_names=self.class_names, vocab_size=VOCAB_SIZE)

    @property
    def raw_input_spec(self):
        return tf.TensorSpec((self.context,), tf.int32, name="byte_ids")

    def select(self, example):
        return example[self.text_feature], tf.constant(0, tf.int32)

    def build_preprocessor(self, raw_train):
        # Byte ids are the model's inputs already: nothing to adapt, nothing to compute.
        return keras.layers.Identity(name=f"{self.name.replace('/', '_')}_byte_ids")

    def _read(self, builder, split):
        """The documents of `split`; for `"a+b"`, all of `a` then all of `b` (TFDS would interleave the files of
        the parts in blocks, so a capped run would see some of each in an order no one wrote down)."""
        parts = [read_split(builder, part.strip()) for part in split.split("+")]
        documents = parts[0]
        for part in parts[1:]:
            documents = documents.concatenate(part)
        return documents.map(self.select, num_parallel_calls=AUTOTUNE)

    def raw_splits(self, data_dir=None, max_examples=None, download="auto"):
        """Unbatched `(x, y)` windows per split (see the module docstring); `max_examples` caps windows."""
        caps = _resolve_caps(max_examples)
        builder = open_builder(self.tfds_name, data_dir=data_dir, download=download)
        documents = self._split(builder)
        splits = {split: byte_windows(documents[split].map(lambda text, _: text), self.context) for split in SPLITS}
        return {name: ds.take(caps[name]) if caps[name] is not None else ds for name, ds in splits.items()}


register_task(LanguageTask(
    "imdb_bytes", "imdb_reviews/plain_text", context=128, train_split="train+unsupervised",
    description="next byte of movie reviews (bits per byte)"))

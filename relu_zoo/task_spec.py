"""What a model needs to know about a task: the `TaskSpec` every builder takes (no TensorFlow needed)."""

import dataclasses

MODALITIES = ("image", "text", "speech", "language")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task, known without loading any data.

    Attributes:
        name: Task name (registry key), e.g. `"mnist"`.
        modality: `"image"`, `"text"`, `"speech"` or `"language"` (next-token prediction: labels are the
            `(seq_len,)` next token ids, `num_classes` the vocabulary).
        input_shape: Model input shape without the batch axis, e.g. `(28, 28, 1)`, `(seq_len,)`,
            `(frames, n_mels, 1)`.
        input_dtype: dtype of the model input: `"float32"`, or `"int64"` for token ids.
        num_classes: Number of classes; labels are int32 in `[0, num_classes)`.
        class_names: One name per class, in label order.
        vocab_size: Text: `TextVectorization(max_tokens=...)`, including the padding (0) and OOV (1)
            ids; language: the token vocabulary (256 for bytes). Every token id is `< vocab_size`.
    """

    name: str
    modality: str
    input_shape: tuple
    input_dtype: str
    num_classes: int
    class_names: tuple
    vocab_size: int | None = None

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"`modality` must be one of {MODALITIES}. Received: modality={self.modality!r}")
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"Need one class name per class: num_classes={self.num_classes} but "
                             f"{len(self.class_names)} class_names.")

"""Scoring a checkpoint's raw-input model (`pretrained.load(..., raw_inputs=True)`) on its task's test split, as
`relu-zoo zoo export` records it and the tests re-check it: accuracy, and bits per byte for a language model.
"""

from relu_zoo.pretrained import CHECK_EXAMPLES, raw_test_batches


def raw_accuracy(model, task_name, max_examples=CHECK_EXAMPLES, data_dir=None):
    """Accuracy of an end-to-end (raw-input) model on the first `max_examples` raw test examples (for a language
    model, of every next byte of them), and how many examples that was."""
    scores = raw_scores(model, task_name, max_examples, data_dir)
    return scores["accuracy"], scores["examples"]


def raw_scores(model, task_name, max_examples=CHECK_EXAMPLES, data_dir=None):
    """`{"accuracy", "examples"}` of an end-to-end (raw-input, probabilities out) model on the first `max_examples`
    raw test examples, and for a language task `"bits_per_byte"`: the mean cross-entropy of every next byte, in
    bits. A language example's every position is a prediction, each counted once."""
    import numpy as np

    from relu_zoo import tasks

    language = tasks.get(task_name).spec.modality == "language"
    correct = total = examples = 0
    bits = 0.0
    for x, y in raw_test_batches(task_name, max_examples, data_dir=data_dir).as_numpy_iterator():
        probabilities, y = np.asarray(model.predict_on_batch(x), "float64"), np.asarray(y)
        correct += int(np.sum(np.argmax(probabilities, axis=-1) == y))
        total += int(y.size)
        examples += int(len(y))
        if language:
            chosen = np.take_along_axis(probabilities, y[..., None], axis=-1)
            bits -= float(np.sum(np.log2(np.maximum(chosen, np.finfo("float64").tiny))))
    scores = {"accuracy": correct / total, "examples": examples}
    if language:
        scores["bits_per_byte"] = bits / total
    return scores

"""The `imdb_bytes` language task: byte windows, held-out splits, the bits-per-byte metric."""

import math

import numpy as np
import pytest
import tensorflow as tf

from relu_zoo import tasks
from relu_zoo.run import metrics
from relu_zoo.tasks.language import byte_windows, decode, encode


def _windows(ds):
    return [(x.tolist(), y.tolist()) for x, y in ds.as_numpy_iterator()]


def test_windows_cut_the_joined_documents_and_label_the_next_byte():
    texts = tf.data.Dataset.from_tensor_slices(["ab", "cdé"])
    stream = list(b"\nab\ncd" + "é".encode())  # 8 bytes: 3 windows of 2 with their next bytes, 1 byte left over
    got = _windows(byte_windows(texts, context=2))
    assert got == [(stream[i:i + 2], stream[i + 1:i + 3]) for i in (0, 2, 4)]
    assert encode("ab") == stream[:3] and decode(stream[4:]) == "cdé"
    assert decode([0xC3]) == "\ufffd"  # a sample cut inside a character


def test_spec_and_options():
    task = tasks.get("imdb_bytes")
    assert tasks.list_tasks("language") == ["imdb_bytes"]
    spec = task.spec
    assert (spec.modality, spec.input_shape, spec.input_dtype, spec.num_classes, spec.vocab_size) == (
        "language", (128,), "int32", 256, 256)
    assert task.tfds_splits == {"train": "train+unsupervised", "validation": None, "test": "test"}
    shorter = task.replace(context=64)
    assert shorter.spec.input_shape == (64,) and shorter.get_config() == {**task.get_config(), "context": 64}
    with pytest.raises(ValueError, match="context"):
        task.replace(context=1)
    with pytest.raises(ValueError, match="Unknown option"):
        task.replace(sequence_length=64)


def test_mock_load_gives_shifted_windows_and_seeded_epochs(mock_tfds):
    task = tasks.get("imdb_bytes").replace(context=16)
    with mock_tfds(40):
        data = task.load(batch_size=4, seed=1, max_examples={"train": 24, "test": 8})
        again = task.load(batch_size=4, seed=1, max_examples={"train": 24, "test": 8})
        assert data.num_examples["train"] == 24 and data.num_examples["test"] == 8
        assert data.num_examples["validation"] > 0
        first = [w for w, _ in _windows(data.train.unbatch())]  # each iteration of `train` is an epoch
        assert first == [w for w, _ in _windows(again.train.unbatch())]  # same seed, same order
        x, y = next(iter(data.test))
        assert x.shape == (4, 16) and y.shape == (4, 16) and x.dtype == y.dtype == tf.int32
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x one byte on
        assert sorted(first) == sorted(w for w, _ in _windows(data.train_unbatched))
        assert first != [w for w, _ in _windows(data.train.unbatch())]  # reshuffled each epoch


def test_real_windows_follow_the_tfds_reviews_and_validation_is_held_out(real_tfds_dir):
    import tensorflow_datasets as tfds

    data_dir = real_tfds_dir("imdb_reviews/plain_text/1.0.0")
    task = tasks.get("imdb_bytes").replace(context=32)
    splits = task.raw_splits(data_dir=data_dir, max_examples=200)
    builder = tfds.builder("imdb_reviews/plain_text", data_dir=data_dir)
    reviews = [ex["text"] for ex in tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False).take(300))]
    test_reviews = [ex["text"] for ex in tfds.as_numpy(builder.as_dataset(split="test", shuffle_files=False).take(20))]

    def expected(documents, n):
        stream = list(b"".join(b"\n" + d for d in documents))
        return [(stream[i * 32:i * 32 + 32], stream[i * 32 + 1:i * 32 + 33]) for i in range(n)]

    train = [r for i, r in enumerate(reviews) if i % 10 != 9]
    assert _windows(splits["train"]) == expected(train, 200)
    held_out = [r for i, r in enumerate(reviews) if i % 10 == 9]
    assert _windows(splits["validation"])[:40] == expected(held_out, 40)
    assert _windows(splits["test"])[:40] == expected(test_reviews, 40)
    # No validation or test window is a training window.
    seen = {tuple(x) for x, _ in _windows(splits["train"])}
    assert not seen & {tuple(x) for x, _ in _windows(splits["validation"]) + _windows(splits["test"])}


def test_bits_per_byte_is_the_cross_entropy_in_bits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 256)).astype("float32")
    labels = rng.integers(0, 256, (3, 5))
    metric = metrics.BitsPerByte()
    metric.update_state(labels[:2], logits[:2])
    metric.update_state(labels[2:], logits[2:])  # an uneven last batch still averages over bytes
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nats = -np.take_along_axis(log_probs, labels[..., None], -1).mean()
    assert float(metric.result()) == pytest.approx(nats / math.log(2), rel=1e-5)
    uniform = metrics.BitsPerByte()
    uniform.update_state(labels, np.zeros_like(logits))
    assert float(uniform.result()) == pytest.approx(8.0, rel=1e-6)  # 256 equally likely bytes: 8 bits
    assert metrics.BitsPerByte.from_config(metric.get_config()).name == "bits_per_byte"
    assert metrics.for_modality("language") is metrics.BITS_PER_BYTE
    assert metrics.for_modality("image") is metrics.ACCURACY


def test_preset_resolves_to_the_decoder_on_imdb_bytes_and_target_ci_is_refused():
    from relu_zoo.run import spec

    config = spec.resolve(preset="imdb_bytes")
    assert (config.tasks, config.models, config.activations[0]) == (["imdb_bytes"], ["decoder"], "relu")
    assert (config.epochs, config.batch_size, config.max_train_examples, config.max_eval_examples) == (
        1, 32, 20000, 2000)
    with pytest.raises(spec.ConfigError, match="bits per byte"):
        spec.resolve(preset="imdb_bytes", overrides={"target_ci": 0.3, "max_seeds": 10, "seeds": 3})
    with pytest.raises(spec.ConfigError, match="does not fit task 'imdb_bytes'"):
        spec.resolve(preset="imdb_bytes", overrides={"models": ["transformer"]})

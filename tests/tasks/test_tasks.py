"""relu_zoo.tasks: registry, specs, pipelines on mocked TFDS for every task, real data, offline errors."""

import hashlib
import json
import os
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_zoo import _net, tasks
from relu_zoo.tasks import raw_inputs
from relu_zoo.tasks.image import random_crop_flip
from relu_zoo.tasks.preprocessing import ImageNormalization, KeepLastWords, LogMelSpectrogram, standardize_text

# The classification tasks, whose examples are (input, class); the language tasks' examples are windows of bytes
# with the next bytes as labels (tests/tasks/test_language.py).
ALL_TASKS = [name for name in tasks.list_tasks() if tasks.get(name).modality != "language"]
MOCK_EXAMPLES = 30


def _pipeline(name):
    """What decides a task's pipeline code: its class, augmentation, a carved or a given validation split and
    its features; tasks that differ only in the dataset, sizes or split names share one."""
    task = tasks.get(name)
    return (type(task).__name__, bool(task.default_augment()), task.tfds_splits["validation"] is None,
            getattr(task, "features", None))


_FIRST_OF_ITS_PIPELINE = {}
for _name in ALL_TASKS:
    _FIRST_OF_ITS_PIPELINE.setdefault(_pipeline(_name), _name)
# The pipeline properties (determinism, shuffling, limits, the preprocessor, declared lengths) on one task per
# pipeline in the fast subset, on every task in CI (slow); every task's shapes and split sizes stay fast.
EACH_PIPELINE = [name if name in _FIRST_OF_ITS_PIPELINE.values() else pytest.param(name, marks=pytest.mark.slow)
                 for name in ALL_TASKS]


def _digest(array):
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()


def _examples(ds):
    """Batched `(x, y)` -> list of `(x, y)` numpy pairs, in order."""
    return [(x, y) for xb, yb in ds.as_numpy_iterator() for x, y in zip(xb, yb)]


def _raw_examples(ds):
    return [(x, int(y)) for x, y in ds.as_numpy_iterator()]


def _spoken_digit_as_dataset(self, split, *args, **kwargs):
    """Mock spoken_digit: 2 speakers x 10 digits x 10 takes, named `{digit}_{speaker}_{take}.wav`, shuffled."""
    rng = np.random.default_rng(0)
    names = [(d, s, t) for d in range(10) for s in ("alice", "bob") for t in range(10)]
    order = rng.permutation(len(names))
    audio = [rng.integers(-32768, 32768, size=int(rng.integers(500, 12000)), dtype=np.int64) for _ in names]

    def generate():
        for i in order:
            d, s, t = names[i]
            yield {"audio": audio[i], "audio/filename": f"{d}_{s}_{t}.wav", "label": d}

    return tf.data.Dataset.from_generator(generate, output_signature={
        "audio": tf.TensorSpec((None,), tf.int64), "audio/filename": tf.TensorSpec((), tf.string),
        "label": tf.TensorSpec((), tf.int64)})


def _mock(mock_tfds, name):
    if tasks.get(name).tfds_name == "spoken_digit":  # spoken_digit and its waveform variant
        return mock_tfds(MOCK_EXAMPLES, as_dataset_fn=_spoken_digit_as_dataset)
    return mock_tfds(MOCK_EXAMPLES)


def _expected_mock_sizes(task):
    """Split sizes for MOCK_EXAMPLES examples per TFDS split (200 structured ones for spoken_digit)."""
    if task.tfds_name == "spoken_digit":
        rest = 200 - 100  # takes 0-4 of 2 speakers x 10 digits are test
        return {"train": rest - rest // 10, "validation": rest // 10, "test": 100}
    n = MOCK_EXAMPLES
    if task.tfds_splits["validation"] is None:
        return {"train": n - n // task.validation_every, "validation": n // task.validation_every, "test": n}
    return {"train": n, "validation": n, "test": n}


def _tiny_model(spec):
    inputs = keras.Input(spec.input_shape, dtype=spec.input_dtype)
    x = inputs
    if spec.modality == "text":
        x = keras.layers.Embedding(spec.vocab_size, 4)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(spec.num_classes)(x))


# -- registry and specs ---------------------------------------------------------------------------------


def test_list_tasks_is_the_documented_registry():
    assert tasks.list_tasks() == ["ag_news_subset", "cifar10", "cifar100", "fashion_mnist", "glue/sst2",
                                  "imdb_bytes", "imdb_reviews", "imdb_reviews_512", "mnist", "speech_commands",
                                  "spoken_digit", "spoken_digit_waveform"]
    assert tasks.list_tasks("speech") == ["speech_commands", "spoken_digit", "spoken_digit_waveform"]
    with pytest.raises(ValueError, match="modality"):
        tasks.list_tasks("video")


def test_imdb_reviews_512_is_imdb_reviews_with_longer_inputs():
    base, long = tasks.get("imdb_reviews"), tasks.get("imdb_reviews_512")
    assert long.spec.input_shape == (512,) and base.spec.input_shape == (256,)
    assert long.get_config() == {**base.get_config(), "name": "imdb_reviews_512", "sequence_length": 512,
                                 "description": "imdb_reviews, the last 512 words"}


def test_unknown_task_names_closest_match_and_valid_names():
    with pytest.raises(ValueError) as info:
        tasks.get("mnits")
    message = str(info.value)
    assert "Did you mean 'mnist'?" in message
    assert all(name in message for name in ALL_TASKS)


def test_register_task_refuses_duplicates_and_adds_entries():
    mnist = tasks.get("mnist")
    with pytest.raises(ValueError, match="already registered"):
        tasks.register_task(mnist)
    variant = mnist.replace(name="mnist_test_variant", mean=(0.5,), std=(0.5,))
    try:
        assert tasks.register_task(variant) is variant
        assert tasks.get("mnist_test_variant").spec.input_shape == (28, 28, 1)
        assert "mnist_test_variant" in tasks.list_tasks("image")
    finally:
        tasks.base.TASKS.remove("mnist_test_variant")
    with pytest.raises(TypeError):
        tasks.register_task("mnist")


@pytest.mark.parametrize("name", ALL_TASKS)
def test_spec_matches_tfds_metadata(name):
    import tensorflow_datasets as tfds

    task = tasks.get(name)
    spec = task.spec
    assert spec.name == name and spec.modality == task.modality
    assert len(spec.class_names) == spec.num_classes
    label = tfds.builder(task.tfds_name).info.features["label"]
    assert spec.num_classes == label.num_classes
    placeholder = [str(i) for i in range(label.num_classes)]
    if label.names != placeholder:  # CIFAR's names come from files written at preparation time
        assert list(spec.class_names) == label.names
    assert (spec.vocab_size is not None) == (spec.modality == "text")
    assert spec.input_dtype == ("int64" if spec.modality == "text" else "float32")


def test_task_spec_validates():
    with pytest.raises(ValueError, match="modality"):
        tasks.TaskSpec("x", "video", (1,), "float32", 1, ("a",))
    with pytest.raises(ValueError, match="class name"):
        tasks.TaskSpec("x", "image", (1,), "float32", 2, ("a",))
    assert tasks.TaskSpec("x", "image", [2, 2, 1], "float32", 1, ["a"]).input_shape == (2, 2, 1)


# -- every task on mocked TFDS --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_TASKS)
def test_mock_load_shapes_dtypes_splits(name, mock_tfds):
    task = tasks.get(name)
    spec = task.spec
    with _mock(mock_tfds, name):
        data = task.load(batch_size=8, seed=0)
        assert data.spec == spec
        sizes = {}
        for split in tasks.SPLITS:
            ds = data.split(split)
            x_spec, y_spec = ds.element_spec
            assert tuple(x_spec.shape) == (None, *spec.input_shape)
            assert x_spec.dtype.name == spec.input_dtype
            assert y_spec.dtype == tf.int32
            examples = _examples(ds)
            sizes[split] = len(examples)
            labels = np.array([y for _, y in examples])
            assert labels.min() >= 0 and labels.max() < spec.num_classes
            assert all(np.isfinite(x).all() for x, _ in examples)
        assert sizes == _expected_mock_sizes(task)
        if spec.modality == "text":
            ids = np.stack([x for x, _ in _examples(data.train)])
            assert ids.min() >= 0 and ids.max() < spec.vocab_size and ids.max() > 1


@pytest.mark.parametrize("name", EACH_PIPELINE)
def test_mock_split_is_deterministic_and_disjoint(name, mock_tfds):
    task = tasks.get(name)
    with _mock(mock_tfds, name):
        first = task.raw_splits()
        second = task.raw_splits()
        digests = {}
        for split in tasks.SPLITS:
            a = [(_digest(x), y) for x, y in _raw_examples(first[split])]
            assert a == [(_digest(x), y) for x, y in _raw_examples(second[split])]
            digests[split] = {d for d, _ in a}
        if task.tfds_splits["validation"] is None:  # carved: disjoint parts of the TFDS train split
            sizes = _expected_mock_sizes(task)
            assert not digests["train"] & digests["validation"]
            assert len(digests["train"] | digests["validation"]) == sizes["train"] + sizes["validation"]


@pytest.mark.parametrize("name", EACH_PIPELINE)
def test_mock_seeded_shuffle(name, mock_tfds):
    task = tasks.get(name)
    with _mock(mock_tfds, name):
        a = task.load(batch_size=4, seed=3)
        b = task.load(batch_size=4, seed=3)
        c = task.load(batch_size=4, seed=4)
        epoch1 = [_digest(x) for x, _ in _examples(a.train)]
        epoch2 = [_digest(x) for x, _ in _examples(a.train)]
        assert epoch1 == [_digest(x) for x, _ in _examples(b.train)]  # same seed, same order
        assert epoch1 != [_digest(x) for x, _ in _examples(c.train)]  # other seed, other order
        assert epoch1 != epoch2  # reshuffled every epoch
        if not task.default_augment():
            assert sorted(epoch1) == sorted(epoch2)  # ... over the same examples
        assert ([_digest(x) for x, _ in _examples(a.validation)]
                == [_digest(x) for x, _ in _examples(c.validation)])  # evaluation splits are not shuffled


@pytest.fixture
def global_seed_zero():
    """TensorFlow's global seed 0 (keras.utils.set_random_seed(0)): a corner case of its seed logic."""
    tf.random.set_seed(0)
    yield
    tf.random.set_seed(None)


@pytest.mark.parametrize("name", ["mnist", "cifar10", "imdb_reviews", "spoken_digit"])
def test_mock_resumable_epochs_and_unbatched_examples(name, mock_tfds, global_seed_zero):
    task = tasks.get(name)
    with _mock(mock_tfds, name):
        data = task.load(batch_size=4, seed=5)
        sizes = _expected_mock_sizes(task)
        assert data.num_examples == sizes
        steps = -(-sizes["train"] // 4)
        full = [(_digest(x), int(y)) for x, y in _examples(data.train_epochs(0, 3))]
        resumed = [(_digest(x), int(y)) for x, y in _examples(data.train_epochs(2, 3))]
        assert len(full) == 3 * sizes["train"] and len(resumed) == sizes["train"]
        assert resumed == full[2 * sizes["train"]:]  # a restart at epoch 2 sees what epoch 2 would have seen
        assert full[: sizes["train"]] != full[sizes["train"]: 2 * sizes["train"]]  # epochs differ
        assert len(list(data.train_epochs(0, 1))) == steps
        other_seed = [(_digest(x), int(y)) for x, y in _examples(data.train_epochs(2, 3, seed=6))]
        assert other_seed != resumed and other_seed == [
            (_digest(x), int(y)) for x, y in _examples(data.train_epochs(2, 3, seed=6))]
        unbatched = [(_digest(x), int(y)) for x, y in data.train_unbatched.as_numpy_iterator()]
        assert len(unbatched) == sizes["train"]
        if not task.default_augment():  # epochs are orderings of the same preprocessed examples
            assert sorted(resumed) == sorted(unbatched)
        assert data.train_unbatched.element_spec[0].shape == data.spec.input_shape


@pytest.mark.parametrize("name", EACH_PIPELINE)
def test_mock_max_examples(name, mock_tfds):
    task = tasks.get(name)
    with _mock(mock_tfds, name):
        data = task.load(batch_size=4, max_examples={"train": 5, "test": 2})
        assert len(_examples(data.train)) == 5
        assert len(_examples(data.test)) == 2
        assert len(_examples(data.validation)) == _expected_mock_sizes(task)["validation"]
        assert len(_examples(task.load(batch_size=4, max_examples=1).validation)) == 1
    with pytest.raises(ValueError, match="Unknown split"):
        task.load(max_examples={"tran": 5})
    with pytest.raises(ValueError, match="max_examples"):
        task.load(max_examples=0)


@pytest.mark.parametrize("name", EACH_PIPELINE)
def test_preprocessor_reproduces_pipeline_and_saves(name, mock_tfds, tmp_path):
    """The preprocessor is what the pipeline applies, and a raw-input model round-trips with safe_mode."""
    task = tasks.get(name)
    with _mock(mock_tfds, name):
        data = task.load(batch_size=8, max_examples={"test": 8})
        raw = task.raw_splits(max_examples={"test": 8})["test"]
        raw_x, _ = next(iter(raw.padded_batch(8)))  # zero padding = what the speech front end adds anyway
        expected = np.stack([x for x, _ in _examples(data.test)])
    assert raw_x.dtype == data.raw_input_spec.dtype
    assert tuple(raw_x.shape[1:]) == tuple(data.raw_input_spec.shape) or data.raw_input_spec.shape[0] is None
    # What a raw-input checkpoint runs on every backend (in TensorFlow in front of the model where it must).
    np.testing.assert_allclose(raw_inputs.preprocess(data.preprocessor, raw_x.numpy()), expected, rtol=1e-5,
                               atol=1e-5)
    if not raw_inputs.runs_in_model(data.preprocessor):
        return  # strings and tf.signal inside a Keras model: TensorFlow's backend only
    np.testing.assert_allclose(np.asarray(data.preprocessor(raw_x)), expected, rtol=1e-5, atol=1e-5)

    # The preprocessor alone (a checkpoint's preprocessor.keras) and a raw-input model both round-trip.
    data.preprocessor.save(tmp_path / "preprocessor.keras")
    restored = keras.saving.load_model(tmp_path / "preprocessor.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(restored(raw_x)), expected, rtol=1e-5, atol=1e-5)
    model = data.with_preprocessing(_tiny_model(data.spec))
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(raw_x)),
                               keras.ops.convert_to_numpy(model(raw_x)), rtol=1e-5, atol=1e-5)


def test_spoken_digit_mock_test_set_is_takes_0_to_4(mock_tfds):
    task = tasks.get("spoken_digit")
    source = _spoken_digit_as_dataset(None, "train")
    take_of = {_digest(ex["audio"]): int(ex["audio/filename"].decode().rsplit("_", 1)[1][:-4])
               for ex in source.as_numpy_iterator()}
    with _mock(mock_tfds, "spoken_digit"):
        splits = task.raw_splits()
        takes = {split: [take_of[_digest(x)] for x, _ in _raw_examples(ds)] for split, ds in splits.items()}
    assert sorted(set(takes["test"])) == [0, 1, 2, 3, 4] and len(takes["test"]) == 100
    assert min(takes["train"] + takes["validation"]) == 5


def test_cifar_augmentation(mock_tfds):
    task = tasks.get("cifar10")
    assert task.default_augment() and not tasks.get("mnist").default_augment()
    with mock_tfds(MOCK_EXAMPLES):
        plain = task.load(batch_size=8, augment=False)
        plain_images = {_digest(x) for x, _ in _examples(plain.train)}
        augmented = task.load(batch_size=8, seed=1)
        a = [x for x, _ in _examples(augmented.train)]
        b = [x for x, _ in _examples(task.load(batch_size=8, seed=1).train)]
        # Seeded: the same crops and flips in every run; they change the images, and differ per epoch.
        assert [_digest(x) for x in a] == [_digest(x) for x in b]
        assert {_digest(x) for x in a} != plain_images
        assert {_digest(x) for x in a} != {_digest(x) for x, _ in _examples(augmented.train)}
        # Evaluation splits are never augmented.
        assert ([_digest(x) for x, _ in _examples(plain.test)]
                == [_digest(x) for x, _ in _examples(task.load(batch_size=8, seed=1).test)])
        with pytest.raises(ValueError, match="no augmentation"):
            tasks.get("mnist").load(augment=True)


def test_random_crop_flip_is_a_padded_crop_maybe_flipped():
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(16, 6, 5, 3), dtype=np.uint8)
    out = random_crop_flip(tf.constant(images), tf.constant([1, 2]), padding=2).numpy()
    np.testing.assert_array_equal(out, random_crop_flip(tf.constant(images), tf.constant([1, 2]), padding=2))
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)])
    flips, offsets = 0, set()
    for image, result in zip(padded, out):
        matches = [(dy, dx, flip) for dy in range(5) for dx in range(5) for flip in (False, True)
                   if np.array_equal(result, (lambda c: c[:, ::-1] if flip else c)(image[dy:dy + 6, dx:dx + 5]))]
        assert matches, "output is not a crop of the padded image"
        flips += matches[0][2]
        offsets.add(matches[0][:2])
    assert 0 < flips < 16 and len(offsets) > 1  # flips and offsets vary per image


# -- preprocessing layers -------------------------------------------------------------------------------


def test_image_normalization():
    layer = ImageNormalization(mean=0.5, std=0.25)
    np.testing.assert_allclose(np.asarray(layer(np.array([[0, 255]], dtype="uint8"))), [[-2.0, 2.0]], atol=1e-6)
    assert ImageNormalization.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="std"):
        ImageNormalization(mean=[0.5, 0.5], std=[0.1, 0.0])


def test_log_mel_spectrogram_tone_and_silence():
    layer = LogMelSpectrogram(sample_rate=8000, num_samples=8000, frame_length=200, frame_step=80)
    t = np.arange(6000) / 8000
    tone = (np.sin(2 * np.pi * 1000 * t) * 16000).astype("int64")
    out = np.asarray(layer(np.stack([tone, np.zeros_like(tone)])))
    assert out.shape == (2, 98, 40, 1) == (2, *layer.compute_output_shape((None, 6000))[1:])
    # The 1 kHz tone peaks in the mel bin whose centre is closest to 1 kHz.
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    centres = np.linspace(mel(20), mel(4000), 42)[1:-1]
    assert out[0, 10, :, 0].argmax() == np.abs(centres - mel(1000)).argmin()
    # Zero padding after 6,000 samples and silence map to log(epsilon).
    np.testing.assert_allclose(out[1], np.log(1e-6), rtol=1e-5)
    np.testing.assert_allclose(out[0, -1], np.log(1e-6), rtol=1e-5)
    assert LogMelSpectrogram.from_config(layer.get_config()).get_config() == layer.get_config()
    mfcc = LogMelSpectrogram(sample_rate=8000, num_samples=8000, frame_length=200, frame_step=80, num_mfcc=13)
    assert mfcc(tone[None]).shape == (1, 98, 13, 1)
    with pytest.raises(ValueError, match="num_mfcc"):
        LogMelSpectrogram(sample_rate=8000, num_mfcc=41)
    with pytest.raises(ValueError, match="upper_edge_hertz"):
        LogMelSpectrogram(sample_rate=8000, upper_edge_hertz=5000)


@pytest.mark.slow
def test_preprocessors_load_in_a_fresh_process_with_safe_mode(tmp_path):
    """Registration happens on `import relu_zoo.tasks`: no custom_objects, safe_mode=True."""
    import subprocess
    import sys

    vectorizer = keras.layers.TextVectorization(standardize=standardize_text, vocabulary=["film", "great"],
                                                output_sequence_length=4)
    layers = {"image": tasks.get("cifar10").build_preprocessor(None), "text": vectorizer,
              "speech": tasks.get("spoken_digit").replace(features="mfcc").build_preprocessor(None)}
    raw = {"image": np.arange(2 * 32 * 32 * 3).reshape(2, 32, 32, 3).astype("uint8"),
           "text": np.array(["Great FILM!", "a film"]), "speech": np.arange(2 * 9000).reshape(2, 9000) % 300}
    for modality, layer in layers.items():
        inputs = keras.Input(raw[modality].shape[1:], dtype="string" if modality == "text" else raw[modality].dtype)
        keras.Model(inputs, layer(inputs)).save(tmp_path / f"{modality}.keras")
        np.save(tmp_path / f"{modality}_raw.npy", raw[modality])
        np.save(tmp_path / f"{modality}_out.npy", np.asarray(layer(raw[modality])))
    script = (
        "import sys, keras, numpy as np, relu_zoo.tasks\n"
        "for m in ('image', 'text', 'speech'):\n"
        "    model = keras.saving.load_model(f'{sys.argv[1]}/{m}.keras', safe_mode=True)\n"
        "    out = np.asarray(model(np.load(f'{sys.argv[1]}/{m}_raw.npy')))\n"
        "    np.testing.assert_allclose(out, np.load(f'{sys.argv[1]}/{m}_out.npy'), rtol=1e-5, atol=1e-5)\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
    assert np.load(tmp_path / "text_out.npy")[0].tolist() == [3, 2, 0, 0]  # great film, padded


def test_speech_task_mfcc_variant():
    task = tasks.get("spoken_digit").replace(name="spoken_digit_mfcc", features="mfcc")
    assert task.spec.input_shape == (98, 13, 1)
    assert tuple(task.build_preprocessor(None)(np.zeros((1, 100), "int64")).shape[1:]) == task.spec.input_shape
    with pytest.raises(ValueError, match="features"):
        tasks.get("spoken_digit").replace(features="wavelet")
    with pytest.raises(ValueError, match="Unknown option"):
        tasks.get("spoken_digit").replace(n_mels=64)


def test_keep_last_words_any_shape_and_round_trip():
    keep = KeepLastWords(2)
    texts = tf.constant([["a b c"], ["Hello, World!"]])
    out = keep(texts).numpy()
    assert out.shape == (2, 1) and out.tolist() == [[b"b c"], [b"hello world"]]
    assert keep(tf.constant("")).numpy() == b""
    layer = keras.layers.TextVectorization(standardize=keep, vocabulary=["b", "c"], output_sequence_length=3)
    clone = keras.layers.deserialize(json.loads(json.dumps(keras.layers.serialize(layer))))
    assert np.asarray(clone(tf.constant(["a b c"]))).tolist() == [[2, 3, 0]]
    with pytest.raises(ValueError, match="num_words"):
        KeepLastWords(0)
    with pytest.raises(ValueError, match="truncating"):
        tasks.get("imdb_reviews").replace(truncating="middle")


def test_standardize_text():
    out = standardize_text(tf.constant(["Great film!<br /><br />It#39;s FUN.", "don't&amp;stop"])).numpy()
    assert [s.split() for s in out] == [[b"great", b"film", b"its", b"fun"], [b"dont", b"stop"]]


# Every character str.splitlines() breaks at; Keras reads a saved vocabulary back with splitlines().
LINE_BOUNDARIES = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def test_standardize_text_splits_at_controls_and_unicode_separators():
    texts = [f"word{c}next" for c in LINE_BOUNDARIES + "\t\xa0\x96"]
    out = standardize_text(tf.constant(texts)).numpy()
    assert all(s.split() == [b"word", b"next"] for s in out), out


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a string input in a Keras model is TensorFlow's")
def test_vectorizer_with_line_separators_in_text_saves_and_loads(tmp_path):
    # IMDB reviews hold "\x85" (a mis-decoded ellipsis) glued to words; such a token used to make the
    # saved vocabulary unloadable ("The passed vocabulary has at least one repeated term").
    texts = tf.constant([f"the{c}well said{c}" for c in LINE_BOUNDARIES] + ["the end"])
    layer = keras.layers.TextVectorization(standardize=KeepLastWords(4), output_sequence_length=4)
    layer.adapt(texts)
    assert all(len(token.splitlines()) <= 1 for token in layer.get_vocabulary())
    inputs = keras.Input(shape=(), dtype="string")
    keras.Model(inputs, layer(inputs)).save(tmp_path / "vectorizer.keras")
    restored = keras.saving.load_model(tmp_path / "vectorizer.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(restored(texts)), np.asarray(layer(texts)))


# -- real data (TFDS_DATA_DIR); skipped locally without it, failing in CI ---------------------------------


@pytest.mark.slow  # reads and preprocesses the real splits
def test_real_mnist(real_tfds_dir):
    real_tfds_dir("mnist/3.0.1")
    data = tasks.get("mnist").load(batch_size=2000)
    counts, sums, squares = {}, 0.0, 0.0
    for split in tasks.SPLITS:
        labels, lo, hi = [], np.inf, -np.inf
        for x, y in data.split(split).as_numpy_iterator():
            labels.append(y)
            lo, hi = min(lo, x.min()), max(hi, x.max())
            if split != "test":
                sums += x.sum(dtype=np.float64)
                squares += np.square(x, dtype=np.float64).sum()
        labels = np.concatenate(labels)
        counts[split] = len(labels)
        assert sorted(set(labels)) == list(range(10))
        np.testing.assert_allclose([lo, hi], [-0.1307 / 0.3081, (1 - 0.1307) / 0.3081], rtol=1e-5)
    assert counts == {"train": 54_000, "validation": 6_000, "test": 10_000}
    # The documented constants standardize the TFDS train split (train + validation).
    n = 60_000 * 28 * 28
    mean = sums / n
    assert abs(mean) < 1e-3 and abs(np.sqrt(squares / n - mean ** 2) - 1) < 1e-3


@pytest.mark.slow
def test_real_spoken_digit(real_tfds_dir):
    import tensorflow_datasets as tfds

    data_dir = real_tfds_dir("spoken_digit/1.0.9")
    task = tasks.get("spoken_digit")
    source = tfds.load("spoken_digit", split="train", data_dir=data_dir)
    name_of = {}
    for ex in source.as_numpy_iterator():
        name_of[_digest(ex["audio"])] = ex["audio/filename"].decode()
    assert len(name_of) == 2500  # recordings are distinct, so the digest identifies each one

    splits = task.raw_splits(data_dir=data_dir)
    names = {split: [name_of[_digest(x)] for x, _ in _raw_examples(ds)] for split, ds in splits.items()}
    assert {k: len(v) for k, v in names.items()} == {"train": 2025, "validation": 225, "test": 250}
    parse = [(n.split("_")[0], n.split("_")[1], int(n.rsplit("_", 1)[1][:-4])) for n in names["test"]]
    speakers = {s for _, s, _ in parse}
    assert len(speakers) == 5
    # Every speaker's recordings 0-4 of every digit are in test, and none of them elsewhere.
    assert sorted(parse) == sorted((str(d), s, t) for d in range(10) for s in speakers for t in range(5))
    assert all(int(n.rsplit("_", 1)[1][:-4]) >= 5 for n in names["train"] + names["validation"])
    assert len(set(names["train"]) | set(names["validation"])) == 2250

    data = task.load(data_dir=data_dir, batch_size=256)
    x, y = next(iter(data.test))
    assert x.shape[1:] == (98, 40, 1) and x.dtype == tf.float32
    values = np.concatenate([x.numpy().ravel() for x, _ in data.train])
    # Padding is silence, log(epsilon); the mel energy of a frame of [-1, 1) PCM is at most
    # fft_length * sum(hann(200)^2) = 256 * 75 (Parseval; mel weights are <= 1).
    np.testing.assert_allclose(values.min(), np.log(1e-6), rtol=1e-6)
    assert values.max() < np.log(256 * 75)
    assert len(_examples(data.train)) == 2025


@pytest.mark.slow
def test_real_imdb_vocabulary_from_train_only(real_tfds_dir, tmp_path):
    data_dir = real_tfds_dir("imdb_reviews/plain_text/1.0.0")
    task = tasks.get("imdb_reviews")
    sizes = {split: int(ds.reduce(0, lambda n, _: n + 1)) for split, ds in task.raw_splits(data_dir).items()}
    assert sizes == {"train": 22_500, "validation": 2_500, "test": 25_000}

    caps = {"train": 3000, "validation": 500, "test": 3000}
    data = task.load(data_dir=data_dir, batch_size=500, max_examples=caps)
    raw = task.raw_splits(data_dir, max_examples=caps)
    vocabulary = data.preprocessor.layers[-1].get_vocabulary()
    assert len(vocabulary) == 20_000 and vocabulary[:2] == ["", "[UNK]"]

    def adapted(*splits):
        layer = keras.layers.TextVectorization(max_tokens=20_000, standardize=KeepLastWords(256))
        texts = raw[splits[0]]
        for split in splits[1:]:
            texts = texts.concatenate(raw[split])
        layer.adapt(texts.map(lambda x, y: x).batch(1024))
        return layer.get_vocabulary()

    assert vocabulary == adapted("train")
    assert vocabulary != adapted("train", "validation", "test")  # so the check above can tell

    ids = np.concatenate([x for x, _ in data.test.as_numpy_iterator()])
    assert ids.shape == (3000, 256) and ids.dtype == np.int64
    assert ids.min() == 0 and ids.max() < 20_000
    assert (ids[:, -1] == 0).any() and (ids[:, -1] != 0).any()  # short reviews padded, long ones truncated
    first_text, first_label = next(iter(raw["test"]))
    words = standardize_text(first_text).numpy().decode().split()[-256:]  # long reviews keep their end
    expected = [vocabulary.index(w) if w in vocabulary else 1 for w in words]
    assert list(ids[0][: len(expected)]) == expected
    labels = np.concatenate([y for _, y in data.test.as_numpy_iterator()])
    assert labels[0] == first_label and set(labels) == {0, 1}

    # The adapted preprocessor (a checkpoint's preprocessor.keras) saves and loads with safe_mode.
    data.preprocessor.save(tmp_path / "preprocessor.keras")
    restored = keras.saving.load_model(tmp_path / "preprocessor.keras", safe_mode=True)
    assert restored.layers[-1].get_vocabulary() == vocabulary
    texts = next(iter(raw["test"].batch(64)))[0]
    np.testing.assert_array_equal(np.asarray(restored(texts)), np.asarray(data.preprocessor(texts)))


# -- quiet pipelines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EACH_PIPELINE)
def test_counted_pipelines_declare_their_length(name, mock_tfds):
    """After `num_examples`, every pipeline's length is known to tf.data, though carving (filters) hides it."""
    task = tasks.get(name)
    with _mock(mock_tfds, name):
        data = task.load(batch_size=8, seed=0)
        counts = data.num_examples
        for split in tasks.SPLITS:
            batches = -(-counts[split] // 8)
            assert int(data.split(split).cardinality()) == batches
            assert len(_examples(data.split(split))) == counts[split]  # the declared length is the true one
            assert int(data.train_unbatched.cardinality()) == counts["train"]


def test_fit_with_carved_validation_warns_nothing(mock_tfds):
    """Keras learns an unknown-length validation set's end by running into it: "Your input ran out of data"."""
    import warnings

    from relu_zoo import models

    with _mock(mock_tfds, "mnist"):
        data = tasks.get("mnist").load(batch_size=8, seed=0)
        steps = -(-data.num_examples["train"] // 8)
        model = models.create_model("mlp", task=data.spec, activation="relu", width=8, depth=1)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(data.train_epochs(0, 2), validation_data=data.validation, epochs=2, steps_per_epoch=steps,
                      shuffle=False, verbose=0)
            model.evaluate(data.test, verbose=0)
    # A library's DeprecationWarning (NumPy 2 about torch's `__array__` on the PyTorch backend) is not what this is
    # about: a warning at run time is.
    assert [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)] == []


def test_tfds_reads_skip_tfds_autocache(mock_tfds, monkeypatch):
    """TFDS's own cache of small datasets, cut short by `max_examples`, is what tf.data warns about
    ("did not fully read the dataset being cached"); the preprocessed examples are cached instead."""
    import tensorflow_datasets as tfds

    seen = []
    with _mock(mock_tfds, "mnist"):
        as_dataset = tfds.core.DatasetBuilder.as_dataset

        def recording(self, *args, **kwargs):
            seen.append(kwargs.get("read_config"))
            return as_dataset(self, *args, **kwargs)

        monkeypatch.setattr(tfds.core.DatasetBuilder, "as_dataset", recording)
        tasks.get("mnist").load(batch_size=8, max_examples=4)
    assert seen and all(config is not None and config.try_autocache is False for config in seen)


# -- missing data: download on demand, or one clear error -----------------------------------------------


def _assert_clear_not_found(info, name, data_dir):
    error = info.value
    message = str(error)
    assert f"'{name}'" in message and repr(str(data_dir)) in message
    # How to bring the data from another machine: prepare it there, copy it here.
    assert "TFDS_DATA_DIR" in message and "tfds build" in message and "copy" in message
    # One error, not a chain of tracebacks.
    assert error.__cause__ is None and error.__suppress_context__


@pytest.fixture
def no_tfds_download(monkeypatch):
    """TFDS's download replaced at its boundary: records the builders it was called for, downloads nothing."""
    import tensorflow_datasets as tfds

    calls = []

    def download_and_prepare(self, *args, **kwargs):
        calls.append(self.name)
        raise ConnectionError("Failed to resolve 'example.invalid'\nlong traceback text")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)
    return calls


def _network(monkeypatch, answer):
    """Replaces the reachability probe; returns the address lists it was asked about."""
    asked = []

    def probe(addresses, timeout=None):
        asked.append(list(addresses))
        return [(host, port, "ConnectionRefusedError: refused") for host, port in addresses] if not answer else []

    monkeypatch.setattr(tasks.tfds_data, "unreachable", probe)
    return asked


def test_prepared_dataset_is_opened_without_download_or_probe(tfds_metadata_dir, no_tfds_download, monkeypatch):
    asked = _network(monkeypatch, answer=False)
    builder = tasks.tfds_data.open_builder("mnist", data_dir=tfds_metadata_dir)
    assert os.fspath(builder.data_dir).startswith(tfds_metadata_dir)
    assert no_tfds_download == [] and asked == []


def test_no_download_fails_at_once_naming_the_flag(tmp_path, no_tfds_download, monkeypatch):
    asked = _network(monkeypatch, answer=True)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))  # read at call time, after TFDS was imported
    with pytest.raises(tasks.DatasetNotFoundError) as info:
        tasks.get("cifar10").load(download=False)
    _assert_clear_not_found(info, "cifar10", tmp_path)
    assert "download=False" in str(info.value) and isinstance(info.value, RuntimeError)
    assert "--no-download" not in str(info.value)  # a Python caller has no such flag
    assert no_tfds_download == [] and asked == []
    monkeypatch.setattr(sys, "argv", ["train.py", "--no-download"])
    with pytest.raises(tasks.DatasetNotFoundError) as info:
        tasks.get("cifar10").load(download=False)
    assert "--no-download" in str(info.value) and "download=False" not in str(info.value)


def test_missing_dataset_offline_fails_with_one_clear_error(tmp_path, no_tfds_download, monkeypatch):
    asked = _network(monkeypatch, answer=False)
    with pytest.raises(tasks.DatasetNotFoundError) as info:
        tasks.get("mnist").load(data_dir=str(tmp_path))  # download="auto", the default
    _assert_clear_not_found(info, "mnist", tmp_path)
    assert "no network" in str(info.value) and "storage.googleapis.com:443" in str(info.value)
    assert asked == [[("storage.googleapis.com", 443)]]  # the host of mnist's TFDS download URLs
    assert no_tfds_download == []  # never reached TFDS's retrying downloads


@pytest.mark.parametrize("argv", [["train.py"], ["relu-zoo", "export", "cnn_prelu.mnist", "--check", "8"]])
def test_offline_error_of_a_command_offers_what_the_command_line_has(tmp_path, no_tfds_download, monkeypatch, argv):
    """`download=True` and `data_dir=...` are Python arguments: a command-line user is offered the data folder's
    variable and the network instead."""
    _network(monkeypatch, answer=False)
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(tasks.DatasetNotFoundError) as info:
        tasks.get("mnist").load(data_dir=str(tmp_path))
    _assert_clear_not_found(info, "mnist", tmp_path)
    message = str(info.value)
    assert "download=True" not in message and "data_dir=..." not in message and "--data-dir" in message
    assert "run the same command again once this machine reaches those hosts" in message


def test_missing_dataset_online_is_downloaded_by_tfds(tmp_path, no_tfds_download, monkeypatch):
    asked = _network(monkeypatch, answer=True)
    with pytest.raises(tasks.DatasetNotFoundError) as info:
        tasks.get("spoken_digit").load(data_dir=str(tmp_path))
    assert asked == [[("github.com", 443)]] and no_tfds_download == ["spoken_digit"]
    # The download's failure (here the replaced download) is reported in one error.
    _assert_clear_not_found(info, "spoken_digit", tmp_path)
    assert "TFDS's download failed: ConnectionError: Failed to resolve 'example.invalid'" in str(info.value)
    assert "long traceback text" not in str(info.value)


def test_a_successful_download_opens_the_prepared_builder(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    _network(monkeypatch, answer=True)

    def download_and_prepare(self, *args, **kwargs):  # what TFDS leaves behind: the prepared version folder
        tf.io.gfile.makedirs(os.fspath(self.data_dir))
        self.info.write_to_directory(self.data_dir)

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)
    builder = tasks.tfds_data.open_builder("mnist", data_dir=str(tmp_path))
    assert os.path.isfile(os.path.join(os.fspath(builder.data_dir), "dataset_info.json"))


def test_download_true_skips_the_probe(tmp_path, no_tfds_download, monkeypatch):
    asked = _network(monkeypatch, answer=False)
    with pytest.raises(tasks.DatasetNotFoundError):
        tasks.get("spoken_digit").load(data_dir=str(tmp_path), download=True)
    assert asked == [] and no_tfds_download == ["spoken_digit"]


def test_download_mode_is_checked(tmp_path):
    with pytest.raises(ValueError, match="`download` must be one of"):
        tasks.get("mnist").load(data_dir=str(tmp_path), download="yes")


def test_offline_probe_on_loopback_fails_fast(tmp_path, no_tfds_download, monkeypatch):
    """The real probe: a listening loopback port answers, a closed one does not, and the load fails fast."""
    import socket

    with socket.socket() as server, socket.socket() as closed:
        server.bind(("127.0.0.1", 0))
        server.listen()
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        open_address, closed_address = server.getsockname(), closed.getsockname()
        assert _net.unreachable([open_address]) == []
        [(host, port, reason)] = _net.unreachable([open_address, closed_address], timeout=2)
        assert (host, port) == closed_address and "Connection" in reason

        monkeypatch.setattr(tasks.tfds_data, "download_addresses", lambda builder: [closed_address])
        start = time.monotonic()
        with pytest.raises(tasks.DatasetNotFoundError) as info:
            tasks.get("mnist").load(data_dir=str(tmp_path))
    # Behaviour, not a benchmark: TFDS's own download retries for minutes offline; the issue allows 60 s.
    assert time.monotonic() - start < 60
    assert f"127.0.0.1:{closed_address[1]} did not answer" in str(info.value)
    assert no_tfds_download == []


def test_probe_gives_up_on_an_address_that_never_answers():
    """A port that accepts nothing and refuses nothing (TEST-NET-1, RFC 5737, is never routed) costs the
    timeout, not the system's connect timeout."""
    [(host, port, reason)] = _net.unreachable([("192.0.2.1", 9)], timeout=0.5)
    assert (host, port) == ("192.0.2.1", 9) and reason


def test_download_addresses_follow_the_dataset_and_the_proxy(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    for variable in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    cifar = tfds.builder("cifar10", data_dir=str(tmp_path))
    assert tasks.tfds_data.download_addresses(cifar) == [("www.cs.toronto.edu", 443)]
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert tasks.tfds_data.download_addresses(cifar) == [("proxy.example", 3128)]


def test_resolve_data_dir(monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", "/from/env")
    assert tasks.resolve_data_dir() == "/from/env"
    assert tasks.resolve_data_dir("/given") == "/given"
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert tasks.resolve_data_dir() == os.path.expanduser("~/tensorflow_datasets")

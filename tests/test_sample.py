"""`relu_zoo.sample` and `relu-zoo sample`: text from a byte-level language model, deterministic under a seed,
and one-line errors for what cannot be sampled."""

import keras
import numpy as np
import pytest

from relu_zoo import console, models, tasks
from relu_zoo.sample import SampleError, encode_prompt, load, sample, sample_ids

# ASCII only (128 ids): a prompt with other characters is outside its vocabulary.
ASCII = tasks.TaskSpec(name="ascii", modality="language", input_shape=(8,), input_dtype="int32", num_classes=128,
                       class_names=[str(i) for i in range(128)], vocab_size=128)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny byte model (context 8) trained a little on "abcabc...", saved as a run folder's model.keras."""
    keras.utils.set_random_seed(0)
    spec = tasks.get("imdb_bytes").replace(context=8).spec
    model = models.create_model("decoder", task=spec, activation="relu", dim=16, heads=2, depth=1)
    model.compile(keras.optimizers.Adam(2e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    stream = np.array(list(b"abc" * 40))
    x = np.stack([stream[i:i + 8] for i in range(100)]).astype("int32")
    y = np.stack([stream[i + 1:i + 9] for i in range(100)]).astype("int32")
    model.fit(x, y, epochs=20, batch_size=25, verbose=0)
    folder = tmp_path_factory.mktemp("run")
    model.save(folder / "model.keras")
    return folder


def test_a_seed_gives_the_same_text_and_the_model_continues_its_pattern(saved):
    model = load(saved)
    first = sample(model, "abcab", length=20, temperature=0.5, seed=3)
    assert first == sample(model, "abcab", length=20, temperature=0.5, seed=3)
    assert len(first.encode("utf-8", errors="surrogatepass")) >= 1
    # Longer than the context: the window slides. At a low temperature the learned cycle goes on.
    assert sample(model, "abcab", length=20, temperature=0.05, seed=0) == "cabcabcabcabcabcabca"
    different = {sample(model, "", length=30, temperature=3.0, seed=s) for s in range(3)}
    assert len(different) > 1  # a hot temperature and other seeds give other texts


def test_sampled_ids_follow_the_temperature_scaled_softmax(saved):
    model = load(saved / "model.keras")
    ids = encode_prompt("abca", 256)
    window = np.zeros((1, 8), "int32")
    window[0, :len(ids)] = ids
    logits = np.asarray(model(window))[0, len(ids) - 1].astype("float64")
    probs = np.exp(logits / 2.0 - (logits / 2.0).max())
    probs /= probs.sum()
    expected = np.random.default_rng(7).choice(256, p=probs)
    assert sample_ids(model, ids, 1, temperature=2.0, seed=7) == [expected]


def test_bad_arguments_and_models_raise_one_clear_error(saved):
    model = load(saved)
    with pytest.raises(SampleError, match="temperature"):
        sample(model, "a", temperature=0)
    with pytest.raises(SampleError, match="length"):
        sample(model, "a", length=0)
    with pytest.raises(SampleError, match=r"outside the model's vocabulary of 128 bytes: 'é'"):
        encode_prompt("café", 128)
    ascii_model = models.create_model("decoder", task=ASCII, dim=8, heads=2, depth=1)
    with pytest.raises(SampleError, match="vocabulary"):
        sample(ascii_model, "naïve", length=2)
    classifier = models.create_model("mlp", input_shape=(8,), num_classes=3, modality="image", width=4)
    with pytest.raises(SampleError, match="not a next-token language model"):
        sample(classifier, "a")
    with pytest.raises(ValueError, match="Unknown pretrained model 'no_such_model'"):
        load("no_such_model")


def test_command_prints_the_prompt_and_its_continuation(saved, capsys):
    assert console.main(["sample", str(saved), "--prompt", "abcab", "--length", "20", "--temperature", "0.05"]) == 0
    assert capsys.readouterr().out == "abcab" + "cabcabcabcabcabcabca" + "\n"


@pytest.mark.parametrize("argv,message", [
    (["--temperature", "0"], "error: --temperature must be a finite number > 0"),
    (["--temperature", "-1"], "error: --temperature must be a finite number > 0"),
    (["--length", "0"], "error: --length must be an integer >= 1"),
    (["--prompt", "naïve", "--model-is-ascii"], None),
])
def test_command_refuses_bad_input_with_one_line_and_exit_2(saved, capsys, argv, message):
    if message is None:  # a prompt outside the vocabulary of an ASCII model
        folder = saved.parent / "ascii_run"
        folder.mkdir(exist_ok=True)
        models.create_model("decoder", task=ASCII, dim=8, heads=2, depth=1).save(folder / "model.keras")
        argv, message, source = ["--prompt", "naïve"], "error: The prompt has characters outside", folder
    else:
        source = saved
    assert console.main(["sample", str(source), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)


def test_command_refuses_an_unknown_model(capsys, tmp_path):
    assert console.main(["sample", "no_such_model", "--prompt", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Unknown pretrained model 'no_such_model'" in err[0]
    assert console.main(["sample", str(tmp_path)]) == 2  # a folder without model.keras
    assert "holds no model.keras" in capsys.readouterr().err

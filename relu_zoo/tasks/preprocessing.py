"""Keras layers that turn a raw task input into a model input.

The same objects run inside the `tf.data` pipelines of `relu_zoo.tasks` and, after training, in front of a
model (`TaskData.with_preprocessing(model)`), so a saved model can take raw uint8 images, strings or integer
waveforms. Everything here is registered with
`keras.saving.register_keras_serializable(package="relu_zoo")` and loads with `safe_mode=True` once
`relu_zoo.tasks` is imported.

| raw input | layer | model input |
|---|---|---|
| uint8 image `(H, W, C)` | `ImageNormalization` | float32 `(H, W, C)`, `(x / 255 - mean) / std` |
| string `()` | `keras.layers.TextVectorization(standardize=standardize_text)` | int64 token ids `(seq_len,)` |
| int waveform `(samples,)` | `LogMelSpectrogram` | float32 `(frames, n_mels or n_mfcc, 1)` |
| int waveform `(samples,)` | `Waveform` | float32 `(num_samples, 1)` in `[-1, 1)` |

On every Keras backend the pipelines run these layers inside `tf.data`, on TensorFlow tensors: given a
`tf.Tensor` under JAX or PyTorch, relu_zoo's layers compute with TensorFlow ops (`tf_call`) and return a
`tf.Tensor` (Keras' `TextVectorization` does the same by itself), so `fit` on those backends receives plain
arrays. Inside a JAX or PyTorch model only `ImageNormalization` runs (it is `keras.ops`): strings have no
JAX or PyTorch tensor, and the spectrogram is `tf.signal`; `relu_zoo.pretrained.load(..., raw_inputs=True)`
runs those in TensorFlow in front of the model (`relu_zoo.tasks.raw_inputs`).
"""

import math

import keras
import tensorflow as tf
from keras import ops

from relu_zoo import _compat


class TFDataLayer(keras.layers.Layer):
    """A preprocessing layer whose math is also written in TensorFlow ops (`tf_call`), for `tf.data` pipelines
    on every Keras backend.

    Called with a `tf.Tensor` while Keras runs on JAX or PyTorch (inside a `tf.data` map, or eagerly), it runs
    `tf_call` and returns a `tf.Tensor`: Keras cannot run a JAX or PyTorch layer on `tf.data`'s symbolic
    tensors. On the TensorFlow backend, and on the backend's own tensors, it is an ordinary Keras layer.
    """

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (tf.Tensor, tf.Variable)) and keras.backend.backend() != "tensorflow":
            return self.tf_call(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def tf_call(self, inputs):
        """The layer's output for a `tf.Tensor`, computed with TensorFlow ops only."""
        raise NotImplementedError


def _check_positive(name, value, integer=False):
    bad = value is None or isinstance(value, bool) or (integer and not isinstance(value, int))
    if bad or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"`{name}` must be {kind}. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="relu_zoo")
class ImageNormalization(TFDataLayer):
    """Scales integer images to `[0, 1]` and standardizes each channel.

    Formula:
    ```
    y = (cast(x, float) / max_value - mean[c]) / std[c]
    ```

    `mean` and `std` are per-channel statistics of the *scaled* training images (values in `[0, 1]`), the
    convention of torchvision / timm, so the constants in `relu_zoo.tasks.image` can be compared with theirs.

    Args:
        mean: Per-channel means, a float or a sequence with one value per channel.
        std: Per-channel standard deviations (same length as `mean`, all > 0).
        max_value: The largest raw value, 255 for uint8 images.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`. The tasks pass
            `dtype="float32"` so a mixed-precision policy never rounds the inputs.

    Call arguments:
        inputs: Integer or float images, channels last, any leading shape.

    Example:

    >>> layer = ImageNormalization(mean=0.5, std=0.25)
    >>> np.asarray(layer(np.array([[0, 255]], dtype="uint8")))
    array([[-2.,  2.]], dtype=float32)
    """

    def __init__(self, mean, std, max_value=255.0, **kwargs):
        super().__init__(**kwargs)
        mean = [float(m) for m in (mean if isinstance(mean, (list, tuple)) else [mean])]
        std = [float(s) for s in (std if isinstance(std, (list, tuple)) else [std])]
        if len(mean) != len(std):
            raise ValueError(f"`mean` and `std` need one value per channel each. Received: mean={mean}, std={std}")
        if not all(s > 0 for s in std):
            raise ValueError(f"Every `std` must be > 0. Received: std={std}")
        _check_positive("max_value", max_value)
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.max_value = float(max_value)
        self.supports_masking = True
        _compat.build_at_init(self)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(self.std, dtype=self.compute_dtype)
        # One multiply-add per pixel: (x / max - mean) / std == x * a + b.
        return x * (1.0 / (self.max_value * std)) - mean / std

    def tf_call(self, inputs):
        # `call` with TensorFlow ops, step for step, so the pipelines give the same floats on every backend.
        x = tf.cast(inputs, self.compute_dtype)
        mean = tf.constant(self.mean, dtype=self.compute_dtype)
        std = tf.constant(self.std, dtype=self.compute_dtype)
        return x * (1.0 / (self.max_value * std)) - mean / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std), "max_value": self.max_value}


@keras.saving.register_keras_serializable(package="relu_zoo")
def standardize_text(text):
    """Lower-cases text and removes markup and punctuation before whitespace splitting.

    Keras' default `"lower_and_strip_punctuation"` deletes punctuation, which glues words joined by it
    ("good.<br /><br />The" becomes "goodbrbrthe" in IMDB reviews). Here HTML tags, HTML entities (AG News
    writes apostrophes as "#39;") and punctuation become spaces; apostrophes are deleted so "don't" stays
    one token ("dont"), as with the Keras default. Control characters and Unicode spaces/separators also
    become spaces: IMDB reviews hold C1 controls from mis-decoded Windows-1252 ("\\x85" for an ellipsis,
    "\\x96" for a dash), which whitespace splitting keeps inside tokens, and Keras writes the vocabulary
    one token per line but reads it back with `str.splitlines()`, which also breaks at "\\x85", so a
    saved `TextVectorization` with such a token fails to load ("repeated term").

    Args:
        text: A string tensor of any shape.

    Returns:
        A string tensor of the same shape.

    Example:

    >>> standardize_text(tf.constant("Great film!<br /><br />It#39;s FUN.")).numpy()
    b'great film   its fun '
    """
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"[\p{Cc}\p{Z}]", " ")
    text = tf.strings.regex_replace(text, r"<[^>]*>", " ")
    text = tf.strings.regex_replace(text, r"&?#39;|&apos;|'", "")
    text = tf.strings.regex_replace(text, r"&[a-z]+;|&?#[0-9]+;", " ")
    return tf.strings.regex_replace(text, r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~]", " ")


@keras.saving.register_keras_serializable(package="relu_zoo")
class KeepLastWords:
    """`standardize_text`, then only the last `num_words` whitespace-separated words of each text.

    A `TextVectorization` `standardize` callable for "pre" truncation (Keras' `pad_sequences` default):
    `TextVectorization` itself cuts sequences longer than `output_sequence_length` at the end, which
    drops the end of long reviews, where the verdict usually is. It saves with the layer (`get_config`).

    Args:
        num_words: Words kept per text (use the vectorizer's `output_sequence_length`).

    Example:

    >>> KeepLastWords(3)(tf.constant(["One, two. Three! Four"])).numpy()
    array([b'two three four'], dtype=object)
    """

    def __init__(self, num_words):
        _check_positive("num_words", num_words, integer=True)
        self.num_words = num_words

    def __call__(self, text):
        text = tf.convert_to_tensor(text)
        words = tf.strings.split(tf.reshape(standardize_text(text), [-1]))[:, -self.num_words:]
        return tf.reshape(tf.strings.reduce_join(words, axis=-1, separator=" "), tf.shape(text))

    def get_config(self):
        return {"num_words": self.num_words}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def vectorize_in_tf_data(vectorizer):
    """A function of a `tf.data` graph's string tensors that gives what `vectorizer` (an adapted
    `keras.layers.TextVectorization`) gives, on every Keras backend.

    On TensorFlow that is the layer itself. On JAX and PyTorch Keras 3.15 hands a callable `standardize` a NumPy
    array, which a `tf.data` graph cannot make of its symbolic tensor; there the callable (TensorFlow ops:
    `standardize_text`, `KeepLastWords`) runs first and a twin layer without one, holding the same vocabulary
    and settings, does the rest.
    """
    config = vectorizer.get_config()
    standardize = config["standardize"]
    if keras.backend.backend() == "tensorflow" or not callable(standardize):
        return vectorizer
    config.update(standardize=None, vocabulary=vectorizer.get_vocabulary(), name=f"{vectorizer.name}_in_tf_data")
    config.pop("vocabulary_size", None)
    twin = keras.layers.TextVectorization.from_config(config)

    def vectorize(text):
        return twin(standardize(text))

    return vectorize


def fit_length(waveform, num_samples):
    """Zero-pads or crops the last axis of `waveform` to `num_samples` (keeps the start)."""
    length = tf.shape(waveform)[-1]
    rank = waveform.shape.rank
    padding = [[0, 0]] * (rank - 1) + [[0, tf.maximum(num_samples - length, 0)]]
    waveform = tf.pad(waveform, padding)[..., :num_samples]
    return tf.ensure_shape(waveform, waveform.shape[:-1].concatenate([num_samples]))


@keras.saving.register_keras_serializable(package="relu_zoo")
class Waveform(TFDataLayer):
    """Integer or float waveform -> scaled float waveform of a fixed length with a channel axis.

    Formula:
    ```
    y = fit_length(cast(waveform, float) * input_scale, num_samples)[..., None]
    ```
    The input of raw-audio models (`wavecnn`); zero-padded at the end or cut after `num_samples`.

    Args:
        num_samples: Fixed length the waveform is padded/cropped to.
        input_scale: Multiplies the waveform; `1 / 32768` maps 16-bit PCM to `[-1, 1)`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Waveforms `(..., samples)`, integer PCM or float.

    Example:

    >>> Waveform(num_samples=4)(np.array([[16384, -32768]], dtype="int64")).numpy()[..., 0]
    array([[ 0.5, -1. ,  0. ,  0. ]], dtype=float32)
    """

    def __init__(self, num_samples, input_scale=1.0 / 32768.0, **kwargs):
        super().__init__(**kwargs)
        _check_positive("num_samples", num_samples, integer=True)
        _check_positive("input_scale", input_scale)
        self.num_samples = num_samples
        self.input_scale = float(input_scale)
        _compat.build_at_init(self)

    def call(self, inputs):
        return self.tf_call(inputs)

    def tf_call(self, inputs):
        x = fit_length(tf.cast(inputs, tf.float32) * self.input_scale, self.num_samples)
        return tf.cast(x[..., None], self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_samples, 1)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "num_samples": self.num_samples, "input_scale": self.input_scale}


@keras.saving.register_keras_serializable(package="relu_zoo")
class LogMelSpectrogram(TFDataLayer):
    """Integer or float waveform -> log-mel spectrogram (or MFCCs) with a channel axis, via `tf.signal`.

    Formula:
    ```
    x     = fit_length(cast(waveform, float) * input_scale, num_samples)
    power = |STFT(x; frame_length, frame_step, fft_length, Hann window)|^2
    y     = log(power @ mel_matrix(num_mel_bins, lower_edge_hertz, upper_edge_hertz) + epsilon)
    y     = MFCC(y)[..., :num_mfcc]    if num_mfcc is set
    ```

    `fit_length` zero-pads short recordings at the end and keeps the first `num_samples` of long ones, so
    every example has `frames = 1 + (num_samples - frame_length) // frame_step` frames. The STFT has no end
    padding. It is `tf.signal`: a model of the TensorFlow backend can hold it; on JAX and PyTorch it runs in
`tf.data` and in front of the model (see the module docstring).

    Args:
        sample_rate: Sampling rate of the waveform in Hz.
        num_samples: Fixed length the waveform is padded/cropped to; `None` keeps the input length.
        frame_length: STFT window length in samples (25 ms: 200 at 8 kHz, 400 at 16 kHz).
        frame_step: Hop length in samples (10 ms: 80 at 8 kHz, 160 at 16 kHz).
        fft_length: FFT size; default the smallest power of two >= `frame_length`.
        num_mel_bins: Number of mel filters.
        lower_edge_hertz: Lowest mel filter edge.
        upper_edge_hertz: Highest mel filter edge; default the Nyquist frequency `sample_rate / 2`.
        epsilon: Added before the log so silence (zero padding) maps to `log(epsilon)`, not `-inf`.
        num_mfcc: If set, return this many MFCCs (DCT-II of the log-mels) instead of log-mels.
        input_scale: Multiplies the waveform first; `1 / 32768` maps 16-bit PCM to `[-1, 1)`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Waveforms `(..., samples)`, integer PCM or float.

    Example:

    >>> layer = LogMelSpectrogram(sample_rate=8000, num_samples=8000, frame_length=200, frame_step=80)
    >>> layer(np.zeros((2, 6000), dtype="int64")).shape
    TensorShape([2, 98, 40, 1])
    """

    def __init__(
        self,
        sample_rate,
        num_samples=None,
        frame_length=400,
        frame_step=160,
        fft_length=None,
        num_mel_bins=40,
        lower_edge_hertz=20.0,
        upper_edge_hertz=None,
        epsilon=1e-6,
        num_mfcc=None,
        input_scale=1.0 / 32768.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive("sample_rate", sample_rate, integer=True)
        _check_positive("frame_length", frame_length, integer=True)
        _check_positive("frame_step", frame_step, integer=True)
        _check_positive("num_mel_bins", num_mel_bins, integer=True)
        _check_positive("epsilon", epsilon)
        _check_positive("input_scale", input_scale)
        if num_samples is not None:
            _check_positive("num_samples", num_samples, integer=True)
            if num_samples < frame_length:
                raise ValueError(f"`num_samples` must be >= frame_length={frame_length}. "
                                 f"Received: num_samples={num_samples}")
        if fft_length is None:
            fft_length = 2 ** math.ceil(math.log2(frame_length))
        _check_positive("fft_length", fft_length, integer=True)
        if fft_length < frame_length:
            raise ValueError(f"`fft_length` must be >= frame_length={frame_length}. Received: fft_length={fft_length}")
        if upper_edge_hertz is None:
            upper_edge_hertz = sample_rate / 2.0
        if not 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2.0:
            raise ValueError(f"Need 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2 = "
                             f"{sample_rate / 2}. Received: lower_edge_hertz={lower_edge_hertz}, "
                             f"upper_edge_hertz={upper_edge_hertz}")
        if num_mfcc is not None and not (isinstance(num_mfcc, int) and 0 < num_mfcc <= num_mel_bins):
            raise ValueError(f"`num_mfcc` must be None or an integer in [1, num_mel_bins={num_mel_bins}]. "
                             f"Received: num_mfcc={num_mfcc!r}")
        self.sample_rate = sample_rate
        self.num_samples = num_samples
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.num_mel_bins = num_mel_bins
        self.lower_edge_hertz = float(lower_edge_hertz)
        self.upper_edge_hertz = float(upper_edge_hertz)
        self.epsilon = float(epsilon)
        self.num_mfcc = num_mfcc
        self.input_scale = float(input_scale)
        # A constant, not a weight: it is fully determined by the config.
        self._mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins, fft_length // 2 + 1, sample_rate, self.lower_edge_hertz, self.upper_edge_hertz)
        _compat.build_at_init(self)

    @property
    def num_frames(self):
        """Frames per example (`None` when `num_samples` is None)."""
        if self.num_samples is None:
            return None
        return 1 + (self.num_samples - self.frame_length) // self.frame_step

    @property
    def num_features(self):
        """Feature bins per frame: `num_mfcc` or `num_mel_bins`."""
        return self.num_mfcc or self.num_mel_bins

    def call(self, inputs):
        return self.tf_call(inputs)

    def tf_call(self, inputs):
        # STFT and log in float32 whatever the policy: float16 underflows for quiet frames.
        x = tf.cast(inputs, tf.float32) * self.input_scale
        if self.num_samples is not None:
            x = fit_length(x, self.num_samples)
        stft = tf.signal.stft(x, self.frame_length, self.frame_step, self.fft_length,
                              window_fn=tf.signal.hann_window, pad_end=False)
        power = tf.math.square(tf.math.abs(stft))
        mel = tf.tensordot(power, self._mel_matrix, 1)
        features = tf.math.log(mel + self.epsilon)
        if self.num_mfcc is not None:
            features = tf.signal.mfccs_from_log_mel_spectrograms(features)[..., : self.num_mfcc]
        return tf.cast(features[..., None], self.compute_dtype)

    def compute_output_shape(self, input_shape):
        frames = self.num_frames
        if frames is None and input_shape[-1] is not None:
            frames = 1 + (input_shape[-1] - self.frame_length) // self.frame_step
        return tuple(input_shape[:-1]) + (frames, self.num_features, 1)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "num_samples": self.num_samples,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "num_mel_bins": self.num_mel_bins,
            "lower_edge_hertz": self.lower_edge_hertz,
            "upper_edge_hertz": self.upper_edge_hertz,
            "epsilon": self.epsilon,
            "num_mfcc": self.num_mfcc,
            "input_scale": self.input_scale,
        }

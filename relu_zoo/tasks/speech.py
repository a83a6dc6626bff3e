"""Speech classification tasks: integer waveforms -> log-mel spectrograms `(frames, mels, 1)`.

| task | TFDS | splits (train / validation / test) | rate | fixed length | frames × mels |
|---|---|---|---|---|---|
| `spoken_digit` | `spoken_digit` 1.0.9 | 2,025 / 225 / 250 | 8 kHz | 8,000 samples (1.0 s) | 98 × 40 |
| `speech_commands` | `speech_commands` 0.0.3 | 85,511 / 10,102 / 4,890 (TFDS splits) | 16 kHz | 16,000 samples (1.0 s) | 98 × 40 |

Features (`LogMelSpectrogram`, the preprocessor): the 16-bit PCM waveform is scaled to `[-1, 1)`,
zero-padded at the end or cut after the fixed length, framed with 25 ms Hann windows every 10 ms (no end
padding: `1 + (length - window) // hop = 98` frames), FFT of 256 (8 kHz) or 512 (16 kHz) points, power
spectrum, 40 mel filters from 20 Hz to the Nyquist frequency, `log(mel + 1e-6)`. With `features="mfcc"` the
first `num_mfcc` (13) DCT coefficients of the log-mels replace them: `(98, 13, 1)`. With
`features="waveform"` the model reads the scaled, fixed-length waveform itself (`Waveform`):
`(num_samples, 1)`, e.g. `(8000, 1)` for spoken_digit, for raw-audio models such as `wavecnn`.

Why these choices: 25 ms / 10 ms frames and 40 log-mel filters are the standard keyword-spotting front end
(Sainath & Parada, Interspeech 2015; Warden 2018 uses 1 s clips). Free Spoken Digit recordings are trimmed of
silence and 99.8% of them are at most 8,000 samples long (median 3,188; the longest, 18,262), so 1 s loses
the tail of only 4 of 2,500 recordings; Speech Commands clips are at most 1 s.

`spoken_digit` has only a TFDS `train` split. Its test set is the dataset's own convention
(Free Spoken Digit Dataset README): recordings 0-4 of every speaker and digit, the number after the last
underscore of `audio/filename` = `{digit}_{speaker}_{take}.wav`. The other recordings (5-49) are split into
train and validation (every 10th), so validation holds the same speakers as train.
"""

import tensorflow as tf

from relu_zoo.tasks.base import AUTOTUNE, TASKS, Task, TaskSpec, carve, register_task
from relu_zoo.tasks.tfds_data import read_split
from relu_zoo.tasks.preprocessing import LogMelSpectrogram, Waveform, fit_length

FEATURES = ("log_mel", "mfcc", "waveform")
# Waveforms per log-mel call in the pipeline: one STFT for many examples.
_AUDIO_BATCH = 256


class SpeechTask(Task):
    """A TFDS audio classification dataset with `audio` (integer PCM) and `label` features.

    Args:
        name, tfds_name, class_names, tfds_splits, validation_every, description: See `Task`.
        sample_rate: Sampling rate of the TFDS audio in Hz.
        num_samples: Fixed waveform length (padded / cropped).
        raw_dtype: dtype of the TFDS audio feature (`"int16"`, `"int64"`).
        frame_ms: STFT window in milliseconds.
        hop_ms: STFT hop in milliseconds.
        num_mel_bins: Mel filters.
        features: `"log_mel"`, `"mfcc"` or `"waveform"` (the raw samples, scaled to `[-1, 1)`).
        num_mfcc: MFCCs kept when `features="mfcc"`.
    """

    modality = "speech"

    def __init__(self, name, tfds_name, class_names, *, sample_rate, num_samples, raw_dtype="int16", frame_ms=25,
                 hop_ms=10, num_mel_bins=40, features="log_mel", num_mfcc=13, **kwargs):
        super().__init__(name, tfds_name, class_names, **kwargs)
        if features not in FEATURES:
            raise ValueError(f"`features` must be one of {FEATURES}. Received: features={features!r}")
        self.sample_rate = sample_rate
        self.num_samples = num_samples
        self.raw_dtype = tf.dtypes.as_dtype(raw_dtype).name
        self.frame_ms = frame_ms
        self.hop_ms = hop_ms
        self.num_mel_bins = num_mel_bins
        self.features = features
        self.num_mfcc = num_mfcc
        self.frame_length = sample_rate * frame_ms // 1000
        self.frame_step = sample_rate * hop_ms // 1000
        if not (0 < self.frame_step and 0 < self.frame_length <= num_samples):
            raise ValueError(f"Need 0 < hop and 0 < frame <= num_samples. Received: sample_rate={sample_rate}, "
                             f"frame_ms={frame_ms}, hop_ms={hop_ms}, num_samples={num_samples}")

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate, "num_samples": self.num_samples,
                "raw_dtype": self.raw_dtype, "frame_ms": self.frame_ms, "hop_ms": self.hop_ms,
                "num_mel_bins": self.num_mel_bins, "features": self.features, "num_mfcc": self.num_mfcc}

    @property
    def spec(self):
        if self.features == "waveform":
            return TaskSpec(name=self.name, modality="speech", input_shape=(self.num_samples, 1),
                            input_dtype="float32", num_classes=len(self.class_names), class_names=self.class_names)
        frames = 1 + (self.num_samples - self.frame_length) // self.frame_step
        bins = self.num_mfcc if self.features == "mfcc" else self.num_mel_bins
        return TaskSpec(name=self.name, modality="speech", input_shape=(frames, bins, 1), input_dtype="float32",
                        num_classes=len(self.class_names), class_names=self.class_names)

    @property
    def raw_input_spec(self):
        return tf.TensorSpec((None,), self.raw_dtype, name="waveform")

    def select(self, example):
        return example["audio"], tf.cast(example["label"], tf.int32)

    def build_preprocessor(self, raw_train):
        if self.features == "waveform":
            return Waveform(num_samples=self.num_samples, dtype="float32", name=f"{self.name}_waveform")
        return LogMelSpectrogram(
            sample_rate=self.sample_rate,
            num_samples=self.num_samples,
            frame_length=self.frame_length,
            frame_step=self.frame_step,
            num_mel_bins=self.num_mel_bins,
            num_mfcc=self.num_mfcc if self.features == "mfcc" else None,
            dtype="float32",
            name=f"{self.name}_{self.features}",
        )

    def prepare(self, ds, preprocessor):
        # Equal lengths first, so waveforms batch into one tensor and share one STFT call.
        return (ds.map(lambda x, y: (fit_length(x, self.num_samples), y), num_parallel_calls=AUTOTUNE)
                .batch(_AUDIO_BATCH)
                .map(lambda x, y: (preprocessor(x), y), num_parallel_calls=AUTOTUNE)
                .unbatch())


def recording_take(filename):
    """`{digit}_{speaker}_{take}.wav` -> `take` (int32): the number after the last underscore."""
    stem = tf.strings.regex_replace(filename, r"\.wav$", "")
    return tf.strings.to_number(tf.strings.split(stem, "_")[-1], out_type=tf.int32)


class SpokenDigitTask(SpeechTask):
    """Free Spoken Digit Dataset with its own test convention: recordings `0 .. test_takes - 1` are test.

    Args:
        test_takes: Recordings numbered below this (per speaker and digit) form the test set; 5 in the
            dataset's README.
        **kwargs: See `SpeechTask`.
    """

    def __init__(self, name, tfds_name, class_names, *, test_takes=5, **kwargs):
        kwargs.setdefault("tfds_splits", {"train": "train", "validation": None, "test": None})
        super().__init__(name, tfds_name, class_names, **kwargs)
        if isinstance(test_takes, bool) or not isinstance(test_takes, int) or test_takes < 1:
            raise ValueError(f"`test_takes` must be a positive integer. Received: test_takes={test_takes!r}")
        self.test_takes = test_takes

    def get_config(self):
        return {**super().get_config(), "test_takes": self.test_takes}

    def _split(self, builder):
        examples = read_split(builder, self.tfds_splits["train"])
        test_takes = self.test_takes

        def is_test(example):
            return recording_take(example["audio/filename"]) < test_takes

        test = examples.filter(is_test).map(self.select, num_parallel_calls=AUTOTUNE)
        rest = examples.filter(lambda ex: tf.logical_not(is_test(ex))).map(self.select, num_parallel_calls=AUTOTUNE)
        train, validation = carve(rest, self.validation_every)
        return {"train": train, "validation": validation, "test": test}


register_task(SpokenDigitTask(
    "spoken_digit", "spoken_digit", tuple(str(d) for d in range(10)), sample_rate=8000, num_samples=8000,
    raw_dtype="int64", description="Free Spoken Digit Dataset, digits 0-9, 5 speakers"))
# The raw-audio variant for `wavecnn`: the same recordings and splits, the scaled waveform as input.
register_task(TASKS.get("spoken_digit").replace(name="spoken_digit_waveform", features="waveform",
                                               description="spoken_digit as raw 8 kHz waveforms (1 s)"))
register_task(SpeechTask(
    "speech_commands", "speech_commands",
    ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_"),
    sample_rate=16000, num_samples=16000, raw_dtype="int16",
    tfds_splits={"train": "train", "validation": "validation", "test": "test"},
    description="Speech Commands v0.02, 10 keywords + silence + unknown"))

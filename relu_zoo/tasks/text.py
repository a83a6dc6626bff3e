"""Text classification tasks: strings -> fixed-length int64 token ids.

| task | TFDS | splits (train / validation / test) | text | vocab_size | sequence length |
|---|---|---|---|---|---|
| `imdb_reviews` | `imdb_reviews/plain_text` 1.0.0 | 22,500 / 2,500 (every 10th of train) / 25,000 | `text` | 20,000 | 256 |
| `ag_news_subset` | `ag_news_subset` 1.0.0 | 108,000 / 12,000 / 7,600 | `title` + " " + `description` | 20,000 | 64 |
| `glue/sst2` | `glue/sst2` 2.0.0 | 60,615 / 6,734 / 872 (TFDS validation) | `sentence` | 10,000 | 64 |

Each task's preprocessor is a `keras.layers.TextVectorization` adapted on the training split only (after
the validation carve and the `max_examples` cap), so no validation or test text leaks into the vocabulary.
Text is standardized by `standardize_text` (lower case; HTML tags, entities and punctuation to spaces;
apostrophes dropped), split on whitespace, mapped to ids (0 = padding, 1 = out of vocabulary, then the most
frequent training tokens) and padded at the end to the sequence length. Longer IMDB reviews keep their last
`sequence_length` words (`truncating="pre"`, `KeepLastWords`, as Keras' `pad_sequences`): the verdict is
usually at the end; with the `rnn` model this was 88.3% vs 86.5% test accuracy after 2 epochs. The other
tasks' texts are shorter than their sequence length.

Why these sizes: IMDB reviews average ~230 words (median ~175), so 256 tokens keep the whole of most reviews
while a small CNN stays fast on CPU; 20k tokens cover all words seen more than ~10 times in training. AG News
title + description average ~40 words. SST-2 sentences are at most ~55 tokens and the training set has
~15k distinct words, most of them rare. The TFDS `glue/sst2` test split has no labels (-1), so its
validation split is the test set and validation is carved from train.
"""

import keras
import tensorflow as tf

from relu_zoo.tasks.base import AUTOTUNE, TASKS, Task, TaskSpec, register_task
from relu_zoo.tasks.preprocessing import KeepLastWords, standardize_text, vectorize_in_tf_data

# Tokenizing is vectorized: this many strings per `TextVectorization` call in the pipeline and in adapt().
_TEXT_BATCH = 1024


class TextTask(Task):
    """A TFDS text classification dataset.

    Args:
        name, tfds_name, class_names, tfds_splits, validation_every, description: See `Task`.
        text_features: TFDS string features joined with a space to form the input text.
        max_tokens: Vocabulary size including padding and OOV ids (`TaskSpec.vocab_size`).
        sequence_length: Token ids per example (padded at the end).
        truncating: Longer texts keep their last (`"pre"`, Keras' `pad_sequences` default) or first
            (`"post"`) `sequence_length` tokens.
    """

    modality = "text"

    def __init__(self, name, tfds_name, class_names, *, max_tokens, sequence_length, text_features=("text",),
                 truncating="post", **kwargs):
        super().__init__(name, tfds_name, class_names, **kwargs)
        for arg, value in (("max_tokens", max_tokens), ("sequence_length", sequence_length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"`{arg}` must be an integer >= 2. Received: {arg}={value!r}")
        if isinstance(text_features, str) or not text_features:
            raise ValueError(f"`text_features` must be a non-empty sequence of feature names. "
                             f"Received: text_features={text_features!r}")
        if truncating not in ("pre", "post"):
            raise ValueError(f"`truncating` must be 'pre' (keep the end of long texts) or 'post' (keep the "
                             f"start). Received: truncating={truncating!r}")
        self.truncating = truncating
        self.max_tokens = max_tokens
        self.sequence_length = sequence_length
        self.text_features = tuple(text_features)

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens, "sequence_length": self.sequence_length,
                "text_features": self.text_features, "truncating": self.truncating}

    @property
    def spec(self):
        return TaskSpec(name=self.name, modality="text", input_shape=(self.sequence_length,), input_dtype="int64",
                        num_classes=len(self.class_names), class_names=self.class_names,
                        vocab_size=self.max_tokens)

    @property
    def raw_input_spec(self):
        return tf.TensorSpec((), tf.string, name="text")

    def select(self, example):
        if len(self.text_features) == 1:
            text = example[self.text_features[0]]
        else:
            text = tf.strings.reduce_join([example[f] for f in self.text_features], separator=" ")
        return text, tf.cast(example["label"], tf.int32)

    def build_preprocessor(self, raw_train):
        """A `TextVectorization` adapted on the training texts (and nothing else)."""
        standardize = KeepLastWords(self.sequence_length) if self.truncating == "pre" else standardize_text
        vectorizer = keras.layers.TextVectorization(
            max_tokens=self.max_tokens, standardize=standardize, output_mode="int",
            output_sequence_length=self.sequence_length, name=f"{self.name.replace('/', '_')}_vectorizer")
        vectorizer.adapt(raw_train.map(lambda x, y: x).batch(_TEXT_BATCH))
        return vectorizer

    def prepare(self, ds, preprocessor):
        vectorize = vectorize_in_tf_data(preprocessor)
        return (ds.batch(_TEXT_BATCH)
                .map(lambda x, y: (vectorize(x), y), num_parallel_calls=AUTOTUNE)
                .unbatch())


register_task(TextTask(
    "imdb_reviews", "imdb_reviews/plain_text", ("neg", "pos"), max_tokens=20_000, sequence_length=256,
    truncating="pre", description="movie review sentiment"))
# The long-input variant for `transformer`: the same reviews and splits, the last 512 words (256
# words cut 36% of the training reviews, 512 words 11%, counting spaces after `standardize_text`;
# attention costs grow with the square of the length).
register_task(TASKS.get("imdb_reviews").replace(name="imdb_reviews_512", sequence_length=512,
                                              description="imdb_reviews, the last 512 words"))
register_task(TextTask(
    "ag_news_subset", "ag_news_subset", ("World", "Sports", "Business", "Sci/Tech"), max_tokens=20_000,
    sequence_length=64, text_features=("title", "description"), description="news topic, 4 classes"))
register_task(TextTask(
    "glue/sst2", "glue/sst2", ("negative", "positive"), max_tokens=10_000, sequence_length=64,
    text_features=("sentence",), tfds_splits={"train": "train", "validation": None, "test": "validation"},
    description="sentence sentiment (SST-2)"))

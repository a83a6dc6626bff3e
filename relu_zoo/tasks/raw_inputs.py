"""Raw inputs (uint8 images, strings, integer waveforms) through a task's preprocessor on any Keras backend.

A checkpoint's `preprocessor.keras` maps raw inputs to model inputs. On TensorFlow it runs inside one Keras model
with the checkpoint's model (`relu_zoo.pretrained.end_to_end`); on JAX and PyTorch it does where it is
`keras.ops` (`ImageNormalization`), and elsewhere (strings, `tf.signal` spectrograms) it runs in TensorFlow in
front of the model, as in the training pipelines: `preprocess`, `RawInputModel`.
"""

import keras
import numpy as np
import tensorflow as tf

from relu_zoo.tasks.preprocessing import ImageNormalization


def runs_in_model(preprocessor):
    """Whether a checkpoint's preprocessor (raw inputs -> model inputs) runs inside a Keras model of this backend:
    always on TensorFlow; on JAX and PyTorch where it is `keras.ops` only (`ImageNormalization`), not strings
    (`TextVectorization`) or `tf.signal` (`LogMelSpectrogram`, `Waveform`)."""
    if keras.backend.backend() == "tensorflow":
        return True
    layers = [layer for layer in preprocessor.layers if not isinstance(layer, keras.layers.InputLayer)]
    return all(isinstance(layer, ImageNormalization) for layer in layers)


def preprocess(preprocessor, x):
    """Raw inputs -> model inputs (NumPy) with a checkpoint's preprocessor, on any Keras backend: on JAX and
    PyTorch its layers run eagerly on TensorFlow tensors (`relu_zoo.tasks.preprocessing`), as in the pipelines."""
    if runs_in_model(preprocessor):
        return np.asarray(keras.ops.convert_to_numpy(preprocessor.predict_on_batch(x)))
    x = tf.convert_to_tensor(x)
    for layer in preprocessor.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            x = layer(x)
    return np.asarray(x)


class RawInputModel:
    """A checkpoint on raw inputs where its preprocessing cannot run inside a Keras model of the backend.

    On JAX and PyTorch a string or a `tf.signal` spectrogram has no place in the model, so the task's
    preprocessing runs in TensorFlow first (`preprocess`, as in the training pipelines) and the Keras model
    (with softmax added; `relu_zoo.pretrained.load` wraps the checkpoint's test-time augmentation in first) on
    its output. `predict`, `predict_on_batch`
    and calling it work as on the end-to-end Keras model that TensorFlow gets; it does not save: save
    `model` and keep the checkpoint's `preprocessor.keras` beside it.

    Attributes:
        preprocessor: The checkpoint's preprocessor (raw inputs -> model inputs).
        model: The Keras model from model inputs to class probabilities.
    """

    def __init__(self, preprocessor, model):
        inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name="inputs")
        probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(model(inputs))
        self.preprocessor = preprocessor
        self.model = keras.Model(inputs, probabilities, name=f"{model.name}_raw")
        self.name = self.model.name

    def __repr__(self):
        return f"<RawInputModel {self.name!r}>"

    def predict_on_batch(self, x):
        """Class probabilities (NumPy) of a batch of raw inputs."""
        return keras.ops.convert_to_numpy(self.model.predict_on_batch(preprocess(self.preprocessor, x)))

    def predict(self, x, batch_size=32, verbose=0):
        """`predict_on_batch` over `x` in batches of `batch_size`."""
        batches = [self.predict_on_batch(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(batches) if batches else np.zeros((0,) + tuple(self.model.output_shape[1:]), "float32")

    def __call__(self, x):
        return self.predict_on_batch(x)

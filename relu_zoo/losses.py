"""Losses of the runner that Keras lacks: sparse cross-entropy with label smoothing. Registered on `import relu_zoo`,
so a model saved with its training configuration loads with `compile=True` in any process that imported relu_zoo.
"""

import keras


@keras.saving.register_keras_serializable(package="relu_zoo")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of logits against integer labels with label smoothing, which Keras' sparse loss lacks.

    Equals `keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=...)` on one-hot labels.
    """

    def __init__(self, label_smoothing=0.0, name="sparse_smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        one_hot = keras.ops.one_hot(labels, keras.ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, from_logits=True,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

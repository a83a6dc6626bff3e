"""What a run optimizes: the optimizer with its learning-rate schedule, and the loss.

Schedules: constant, cosine, linear (to 0), one_cycle (Smith & Topin 2017) and airbench (Jordan 2024: from
0.2x up to the peak over the warm-up, then linearly down to 0.07x); any of them after a linear warm-up from
0 (`warmup`), except airbench, whose warm-up is its own.
"""

import keras


@keras.saving.register_keras_serializable(package="relu_zoo")
class Triangle(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise linear: `start` x peak at step 0, the peak at `warmup_steps`, `end` x peak at `total_steps`.

    airbench94's schedule is `Triangle(peak, total, int(0.23 * total), start=0.2, end=0.07)`.
    """

    def __init__(self, peak, total_steps, warmup_steps, start=0.2, end=0.07):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.start = float(start)
        self.end = float(end)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rise = self.start + (1.0 - self.start) * step / max(self.warmup_steps, 1)
        fall_frac = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        fall = 1.0 + (self.end - 1.0) * keras.ops.minimum(fall_frac, 1.0)
        return self.peak * keras.ops.where(step < self.warmup_steps, rise, fall)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "start": self.start, "end": self.end}


@keras.saving.register_keras_serializable(package="relu_zoo")
class Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """A linear rise from 0 over `warmup_steps` steps, then `after` (a schedule, started at 0, or a number)."""

    def __init__(self, after, warmup_steps):
        self.after = after
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = keras.ops.minimum(1.0, (step + 1.0) / max(self.warmup_steps, 1))
        if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
            return ramp * self.after(keras.ops.maximum(step - self.warmup_steps, 0.0))
        return ramp * self.after

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        after = config["after"]
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        return cls(after, config["warmup_steps"])


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


def make_optimizer(config, steps_per_epoch, clipnorm=None):
    total_steps = max(1, config.epochs * steps_per_epoch)
    warmup = int(config.warmup * total_steps)
    lr = config.learning_rate
    if config.schedule == "airbench":
        return _optimizer(config, Triangle(lr, total_steps, warmup), clipnorm)
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total_steps - warmup)
    elif config.schedule == "linear":
        lr = keras.optimizers.schedules.PolynomialDecay(config.learning_rate, total_steps - warmup,
                                                        end_learning_rate=0.0, power=1.0)
    elif config.schedule == "one_cycle":
        # Smith & Topin 2017: warm up over the first 30%, then cosine down (Keras' warmup form).
        cycle_warmup = max(1, int(0.3 * total_steps))
        lr = keras.optimizers.schedules.CosineDecay(
            config.learning_rate / 25.0, decay_steps=total_steps - cycle_warmup,
            warmup_target=config.learning_rate, warmup_steps=cycle_warmup)
    if warmup:
        # Adam's first steps move every weight by about the learning rate whatever its gradient: a warm-up
        # keeps them from pushing whole layers of ReLU units negative at once (see tests/run/test_train_guard.py).
        lr = Warmup(lr, warmup)
    return _optimizer(config, lr, clipnorm)


def _optimizer(config, lr, clipnorm):
    kwargs = {"learning_rate": lr}
    if clipnorm:
        kwargs["clipnorm"] = clipnorm
    if config.optimizer == "adam":
        return keras.optimizers.Adam(**kwargs)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=config.weight_decay or 1e-4, **kwargs)
    if config.optimizer == "nadam":
        return keras.optimizers.Nadam(**kwargs)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(**kwargs)
    return keras.optimizers.SGD(momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay or None,
                                **kwargs)


def make_loss(config):
    if config.label_smoothing:
        return SparseSmoothedCrossentropy(config.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

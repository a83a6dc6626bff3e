"""Learning-rate schedules of the runner that Keras lacks: airbench's triangle and a linear warm-up before any
schedule. They are registered on `import relu_zoo`, so a model saved with its training configuration (a zoo
checkpoint's `model.keras`) loads with `compile=True` in any process that imported relu_zoo.
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

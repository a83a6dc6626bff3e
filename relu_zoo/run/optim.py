"""What a run optimizes: the optimizer with its learning-rate schedule, and the loss.

Schedules: constant, cosine, linear (to 0), one_cycle (Smith & Topin 2017) and airbench (Jordan 2024: from
0.2x up to the peak over the warm-up, then linearly down to 0.07x); any of them after a linear warm-up from
0 (`warmup`), except airbench, whose warm-up is its own.
"""

import keras

from relu_zoo.losses import SparseSmoothedCrossentropy
from relu_zoo.schedules import Triangle, Warmup


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

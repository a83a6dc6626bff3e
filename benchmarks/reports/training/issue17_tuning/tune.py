import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras, tensorflow as tf
from relu_zoo import tasks, models
from relu_zoo.run.train import make_optimizer
from relu_zoo.run import spec as config_lib
from relu_zoo.run.callbacks import EpochTimer
task, model_name = sys.argv[1], sys.argv[2]
configs = json.loads(sys.argv[3])
cache = {}
for cfg in configs:
    bs = cfg.pop("batch_size", 128); epochs = cfg.pop("epochs", 3); lr = cfg.pop("lr", 3e-3); sched = cfg.pop("schedule", "cosine")
    if bs not in cache:
        cache[bs] = tasks.get(task).load(batch_size=bs, seed=0)
    d = cache[bs]
    config = config_lib.resolve(overrides={"epochs": epochs, "learning_rate": lr, "schedule": sched, "batch_size": bs}, check=False)
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    m = models.create_model(model_name, task=d.spec, activation="relu", **cfg)
    steps = -(-d.num_examples["train"] // bs)
    m.compile(make_optimizer(config, steps), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    log = []
    class T(keras.callbacks.Callback):
        def on_epoch_end(self, e, logs=None):
            log.append((round(logs["epoch_time"], 1), round(logs["val_accuracy"], 4), round(self.model.evaluate(d.test, verbose=0)[1], 4)))
            print(cfg, bs, lr, sched, "epoch", e + 1, log[-1], flush=True)
    m.fit(d.train_epochs(0, epochs, seed=0), validation_data=d.validation, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[EpochTimer(), T()])
    print("params", m.count_params(), "train_s", round(sum(l[0] for l in log), 1), flush=True)

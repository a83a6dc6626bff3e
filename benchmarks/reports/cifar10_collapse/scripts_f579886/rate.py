"""Collapse rate in the first steps of CIFAR-10 cnn/relu training, Adam 2e-3, batch 128 (frozen tree f579886).

For each (arm, seed): train STEPS steps, then measure on 512 validation images the fraction of the Dense(128)
head's units that are never positive (pre-activation <= 0 for every probe image), and the training accuracy
over the last 20 steps. Appends one JSON line per run to rate.jsonl.
"""
import json, sys, time, zlib
import numpy as np, keras, tensorflow as tf
from relu_zoo import models, tasks, experiment
STEPS = 60
arms = sys.argv[1].split(","); seeds = [int(s) for s in sys.argv[2].split(",")]
tf.config.experimental.enable_op_determinism()
data = tasks.get("cifar10").load(batch_size=128, seed=0)
probe = next(iter(data.validation.unbatch().batch(512)))[0]
EpochSeeds = experiment._keras_callbacks()[2]

class Warmup(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, lr, steps): self.lr, self.steps = lr, steps
    def __call__(self, step): return self.lr * tf.minimum(1.0, (tf.cast(step, tf.float32) + 1.0) / self.steps)
    def get_config(self): return {"lr": self.lr, "steps": self.steps}

class Acc(keras.callbacks.Callback):
    def __init__(self): super().__init__(); self.accs = []
    def on_train_batch_end(self, b, logs=None): self.accs.append(float(logs["accuracy"]))

done = set()
try:
    for l in open("/tmp/exp/rate.jsonl"): r = json.loads(l); done.add((r["arm"], r["seed"]))
except FileNotFoundError: pass
for seed in seeds:
    for arm in arms:
        if (arm, seed) in done: continue
        t0 = time.time()
        keras.utils.set_random_seed(seed)
        model = models.create_model("cnn", task=data.spec, activation="relu")
        lr = Warmup(2e-3, 100) if "warm" in arm else 2e-3
        model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        train = data.train_epochs(0, 1, seed=seed) if arm.startswith("epochs") else data.train
        cbs = [EpochSeeds(seed)] if "es" in arm.split("_") else []
        acc = Acc()
        model.fit(train.take(STEPS), epochs=1, callbacks=cbs + [acc], verbose=0)
        dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)][0]
        pre = keras.Model(model.inputs, dense.output)(probe, training=False).numpy()
        rec = {"arm": arm, "seed": seed, "never_positive": float(np.mean((pre <= 0).all(axis=0))),
               "running_acc_at_end": acc.accs[-1], "seconds": time.time() - t0}
        print(json.dumps(rec), flush=True)
        with open("/tmp/exp/rate.jsonl", "a") as f: f.write(json.dumps(rec) + "\n")

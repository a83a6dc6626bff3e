"""Re-run train.py's path for one seed (frozen tree), logging loss and the dense head's dead units during epoch 1."""
import json, sys, tempfile
seed = int(sys.argv[1]); tag = sys.argv[2] if len(sys.argv) > 2 else "trainpy"
import numpy as np, keras, tensorflow as tf
from relu_zoo import experiment, config as config_lib
log = []
class Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        from relu_zoo import tasks
        m = self.model
        dense = [l for l in m.layers if isinstance(l, keras.layers.Dense)][0]
        idx = m.layers.index(dense)
        self.head = keras.Model(m.inputs, m.layers[idx + 1].output)  # Dense(128) -> activation
        self.pre = keras.Model(m.inputs, dense.output)
        self.x = next(iter(PROBE))
    def on_train_batch_end(self, b, logs=None):
        if b % 10 == 0 or b < 10:
            pre = self.pre(self.x, training=False).numpy()
            rec = {"batch": b, "loss": float(logs["loss"]), "acc": float(logs["accuracy"]),
                   "never_positive_frac": float(np.mean((pre <= 0).all(axis=0))),
                   "pre_mean": float(pre.mean()), "pre_std": float(pre.std())}
            log.append(rec); print(json.dumps(rec), flush=True)
orig_fit = keras.Model.fit
def fit(self, *a, **k):
    k["callbacks"] = list(k.get("callbacks") or []) + [Probe()]
    return orig_fit(self, *a, **k)
keras.Model.fit = fit
from relu_zoo import tasks
PROBE = tasks.get("cifar10").load(batch_size=512, seed=0).validation.map(lambda x, y: x)
outdir = tempfile.mkdtemp(prefix="probe")
cfg = config_lib.resolve(overrides={"tasks": ["cifar10"], "models": ["cnn"], "activations": ["relu"], "seeds": [seed],
    "epochs": 1, "max_train_examples": "all", "max_eval_examples": "all", "diagnostics": False, "out": outdir, "verbose": 0})
experiment.sweep(cfg)
r = experiment.load_results(outdir)[0]
json.dump({"seed": seed, "history": r["history"], "log": log}, open(f"/tmp/exp/probe_{tag}_{seed}.json", "w"))
print(r["history"])

"""One arm x seed of the CIFAR-10 collapse experiment; appends a JSON line to results.jsonl."""
import json, sys, time, tempfile, os
arm, seed = sys.argv[1], int(sys.argv[2])
import numpy as np, keras, tensorflow as tf
from relu_zoo import models, tasks, experiment, config as config_lib
t0 = time.time()
out = {}
if arm.startswith("trainpy"):
    outdir = tempfile.mkdtemp(prefix="trainpy")
    cfg = config_lib.resolve(overrides={"tasks": ["cifar10"], "models": ["cnn"], "activations": ["relu"], "seeds": [seed],
        "epochs": 1, "model_kwargs": {"head_norm": True} if arm == "trainpy_bn" else {}, "max_train_examples": "all", "max_eval_examples": "all", "diagnostics": False, "out": outdir, "verbose": 0})
    experiment.sweep(cfg)
    r = experiment.load_results(outdir)[0]
    out = {k: v for k, v in r["history"][-1].items() if k != "epoch"}
if arm.startswith("plain"):
    data = tasks.get("cifar10").load(batch_size=128, seed=0)
    keras.utils.set_random_seed(seed)
    model = models.create_model("cnn", task=data.spec, activation="relu")
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    cbs = []
    if arm == "plain_es":
        cbs.append(experiment._keras_callbacks()[2](seed))
    train = data.train
    if arm == "plain_epochs":
        train = data.train_epochs(0, 1, seed=seed)
    h = model.fit(train, validation_data=data.validation, epochs=1, callbacks=cbs, verbose=0)
    out = {k: float(v[-1]) for k, v in h.history.items()}
print(json.dumps({"arm": arm, "seed": seed, **out, "seconds": time.time() - t0}), flush=True)
with open("/tmp/exp/results.jsonl", "a") as f:
    f.write(json.dumps({"arm": arm, "seed": seed, **out, "seconds": time.time() - t0}) + "\n")

"""The Keras callbacks a run trains with, and `PeakMemory`.

`relu_zoo.run.train` lists them in this order: StopOnSignal, EpochTimer, DivergenceMonitor, (diagnostics,
SaveJSON), CSVLogger, TensorBoard, EpochBackup — the backup last, so that when a backup of epoch e exists, its CSV
row and diagnostics exist too. None of them changes what training computes: a run trains exactly as a plain
`model.fit` of the same model, data and optimizer does (tests/run/test_train_guard.py).
"""

import json
import math
import shutil
import threading
import time
from pathlib import Path

import keras
import numpy as np

from relu_zoo.run import interrupt
from relu_zoo.run.store import (BACKUP_METADATA, BACKUP_STATE, BACKUP_WEIGHTS, atomic_write_json, resume_epoch,
                                switch_current)


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_time` (seconds) to the epoch logs, so CSVLogger and TensorBoard record it."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time"] = time.perf_counter() - self._start


class DivergenceMonitor(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers the epoch (like TerminateOnNaN)."""

    def __init__(self):
        super().__init__()
        self.diverged_epoch = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_epoch = self._epoch
            self.model.stop_training = True


class StopOnSignal(keras.callbacks.Callback):
    """Raises a pending SIGINT/SIGTERM (`relu_zoo.run.interrupt`) at the next training or evaluation batch end.
    No epoch-end check: it could run before EpochBackup and lose the epoch just finished."""

    def on_train_batch_end(self, batch, logs=None):
        interrupt.check()

    def on_test_batch_end(self, batch, logs=None):
        interrupt.check()


class SaveJSON(keras.callbacks.Callback):
    """Writes `getter()` atomically to `path` after every epoch (diagnostics survive a kill)."""

    def __init__(self, path, getter):
        super().__init__()
        self.path, self.getter = path, getter

    def on_epoch_end(self, epoch, logs=None):
        atomic_write_json(self.path, self.getter())


class Lookahead(keras.callbacks.Callback):
    """airbench's lookahead (Jordan 2024, after Zhang et al. 2019): every `every` steps, each weight and
    batch-norm statistic becomes `decay * average + (1 - decay) * itself`, and the average the new value.

    `decay` rises with training, `base * (step / total_steps) ** power` (airbench: 0.95**5, cubic): early
    steps keep their own weights, the last ones are averaged over many. After the last step the weights are
    the average. Floating-point variables only (not counters or random-generator states). `variables`
    holds the averages, which `EpochBackup` saves, so a resumed run continues them exactly.

    Unlike Keras' own `use_ema` (a fixed momentum on trainable weights, updated every step), this follows
    airbench's rule, so that the Keras recipe and the PyTorch reference train alike.
    """

    def __init__(self, total_steps, every=5, base=0.95**5, power=3):
        super().__init__()
        self.total_steps, self.every, self.base, self.power = int(total_steps), int(every), base, power
        self.variables = []

    def on_train_begin(self, logs=None):
        self._tracked = [v for v in self.model.variables if "float" in str(v.dtype)]
        # From a NumPy copy: a Keras variable made from another's value would share its storage.
        self.variables = [keras.Variable(keras.ops.convert_to_numpy(v), trainable=False, name=f"lookahead_{i}")
                          for i, v in enumerate(self._tracked)]

    def _update(self, decay):
        for average, variable in zip(self.variables, self._tracked):
            average.assign(average + (1.0 - decay) * (variable - average))
            # A copy: on JAX a variable assigned another's array holds that same buffer, which the next train
            # step, donating the model's arrays, deletes under the average too.
            variable.assign(keras.ops.copy(average))

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations)
        if step % self.every == 0:
            self._update(self.base * (step / self.total_steps) ** self.power)
        if step == self.total_steps:
            self._update(1.0)


class EpochBackup(keras.callbacks.Callback):
    """An all-or-nothing backup after every epoch, restored when training starts (public Keras API only).

    Keras' `BackupAndRestore` writes the weights in place and then the epoch metadata, so a kill between the
    two leaves the weights of epoch e with the metadata of epoch e-1, and the resumed run silently trains
    epoch e twice. Here each backup (weights with the optimizer state via `save_weights`, the values of all
    non-trainable variables, and the number of finished epochs) goes to a fresh folder `epoch<N>/`, and a
    symlink `current` is switched to it with one atomic rename (`relu_zoo.run.store.switch_current`). The
    caller passes the epoch to resume from as `fit`'s `initial_epoch` (from `relu_zoo.run.store.resume_epoch`);
    `on_train_begin` loads the same backup and checks that it is the same epoch.

    The non-trainable values include every `keras.random.SeedGenerator`'s state (dropout masks, RReLU
    slopes), which `save_weights` leaves out: restoring them continues each random stream exactly where the
    interrupted run left it, so a resumed run ends as one that never stopped, without touching the streams
    of a run that does not stop (an earlier design re-seeded every generator at each epoch start; see
    `relu_zoo.run.train`).

    Args:
        backup_root: Where the backups are written.
        restore_root: Where they are read from (default `backup_root`). A multi-worker non-chief restores
            from the chief's backups and writes its own into a temporary folder: saving runs the same ops on
            every worker.
        initial_epoch: The epoch `fit` starts at; must be the restored backup's epoch (0: nothing to restore).
        extra: Callbacks whose `variables` (created in their `on_train_begin`, which runs before this one's)
            are backed up and restored with the model's, e.g. `Lookahead`'s averages.
    """

    def __init__(self, backup_root, restore_root=None, initial_epoch=0, extra=()):
        super().__init__()
        self.backup_root = Path(backup_root)
        self.restore_root = Path(restore_root or backup_root)
        self.initial_epoch = initial_epoch
        self.extra = list(extra)

    def _state_variables(self):
        return list(self.model.non_trainable_variables) + [v for c in self.extra for v in c.variables]

    def on_train_begin(self, logs=None):
        current = self.restore_root / "current"
        restored = resume_epoch(self.restore_root)
        if restored != self.initial_epoch:
            raise RuntimeError(f"The backup in {current} is of epoch {restored}, but fit starts at epoch "
                               f"{self.initial_epoch}; pass initial_epoch=resume_epoch(backup folder).")
        if not restored:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            # The optimizer's variables must exist before its saved state can be loaded into them.
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(current / BACKUP_WEIGHTS))
        with np.load(current / BACKUP_STATE) as saved:
            values = [saved[f"v{i}"] for i in range(len(saved.files))]
        variables = self._state_variables()
        shapes = [tuple(v.shape) for v in variables]
        if [tuple(v.shape) for v in values] != shapes:
            raise RuntimeError(f"The backup in {current} holds {len(values)} non-trainable values that do not fit "
                               f"this model's {len(variables)} variables; it belongs to another model. Remove "
                               f"{self.restore_root} to train this run from the start.")
        for variable, value in zip(variables, values):
            variable.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        finished = epoch + 1
        stage = self.backup_root / f"epoch{finished}"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        self.model.save_weights(str(stage / BACKUP_WEIGHTS), overwrite=True)
        state = {f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(self._state_variables())}
        np.savez(stage / BACKUP_STATE, **state)
        (stage / BACKUP_METADATA).write_text(json.dumps({"epoch": finished}))
        switch_current(self.backup_root, stage)


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled from /proc; Linux)."""

    def __init__(self, interval=0.1):
        self.interval = interval
        self.peak_mb = None

    @staticmethod
    def current_mb():
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._update()

    def _update(self):
        now = self.current_mb()
        if now is not None:
            self.peak_mb = max(self.peak_mb or 0.0, now)

    def __enter__(self):
        self._stop = threading.Event()
        self._update()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._update()


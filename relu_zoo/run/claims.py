"""Deprecated: the runner's per-run locks are `relu_zoo.run.locks` ("claims" are the studies' scientific claims).
Importing this module, and each name read from it, warns with the new name."""

from relu_zoo import _deprecation

_deprecation.module_moved(__name__, "relu_zoo.run.locks")

__getattr__ = _deprecation.moved(__name__, {
    "CLAIMS_DIR": "relu_zoo.run.locks.LOCKS_DIR",
    "HEARTBEAT_S": "relu_zoo.run.locks.HEARTBEAT_S",
    "STALE_AFTER_S": "relu_zoo.run.locks.STALE_AFTER_S",
    "Claim": "relu_zoo.run.locks.Lock",
    "try_claim": "relu_zoo.run.locks.try_lock",
    "holders": "relu_zoo.run.locks.holders",
    "is_stale": "relu_zoo.run.locks.is_stale",
    "machine_id": "relu_zoo.run.locks.machine_id",
})

"""Stopping a sweep on SIGINT/SIGTERM without losing what it finished.

`stop_on_signals()` (the command line wraps every sweep in it) turns either signal into `Interrupted`. Raising from
a signal handler is only safe where Python code can be left at any bytecode: TensorFlow turns an exception raised
while it traces a function into a `SystemError` inside a `StagingError`, and one raised at some moments during
training was lost without a trace, so the sweep ran on to the end. Inside `deferred()` (a run's training and
evaluation) the handler therefore only marks the stop, and `check()` raises it at the next batch end
(`StopOnSignal`) or when the run's code returns to the sweep. A second signal while one is pending raises at once.
"""

import contextlib
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Handlers run in the main thread only; the sweep's state is the process's state.
_state = {"pending": None, "deferring": 0}


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (which clusters send before killing): stop, keeping finished runs and the resume
    point, and exit with 128 + the signal's number (130, 143)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handle(signum, frame):
    again = _state["pending"] is not None
    _state["pending"] = _state["pending"] or signum
    if again or not _state["deferring"]:
        raise Interrupted(_state["pending"])


def check():
    """Raises `Interrupted` when a signal arrived since `stop_on_signals()` began."""
    if _state["pending"] is not None:
        raise Interrupted(_state["pending"])


@contextlib.contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise `Interrupted` inside the block (deferred to `check()` inside `deferred()`)."""
    _state["pending"] = None  # before the handlers, so that none of their marks is wiped
    previous = {signum: signal.signal(signum, _handle) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state["pending"] = None


@contextlib.contextmanager
def deferred():
    """Inside, a signal only marks the stop until `check()`; the block's normal exit checks. Outside
    `stop_on_signals()` it changes nothing (a Ray worker keeps its own handling)."""
    check()
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
    check()

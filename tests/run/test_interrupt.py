"""SIGINT/SIGTERM handling (relu_zoo.run.interrupt), in this process: where the stop is raised, and that a signal
arriving while TensorFlow traces a function stops the run cleanly instead of breaking the trace. The whole
command (exit status, kept resume point, resumed report) is tests/run/test_faults.py's."""

import os
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from relu_zoo.run import interrupt
from relu_zoo.run.callbacks import StopOnSignal


def send(signum=signal.SIGINT):
    os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_outside_a_run_a_signal_raises_at_once(signum):
    with pytest.raises(interrupt.Interrupted) as caught:
        with interrupt.stop_on_signals():
            send(signum)
            raise AssertionError("the signal did not stop the block")
    assert caught.value.signum == signum and str(caught.value) == signum.name


def test_handlers_are_restored_and_nothing_stays_pending():
    before = {s: signal.getsignal(s) for s in interrupt.SIGNALS}
    with pytest.raises(interrupt.Interrupted):
        with interrupt.stop_on_signals():
            send()
    assert {s: signal.getsignal(s) for s in interrupt.SIGNALS} == before
    interrupt.check()  # a later sweep does not see the old signal
    with interrupt.stop_on_signals():
        interrupt.check()


def test_inside_a_run_the_stop_waits_for_a_check_and_the_run_s_end():
    reached = []
    with pytest.raises(interrupt.Interrupted) as caught:
        with interrupt.stop_on_signals(), interrupt.deferred():
            send(signal.SIGTERM)
            reached.append("after the signal")
            with pytest.raises(interrupt.Interrupted):
                interrupt.check()
            reached.append("the run's end")
    assert reached == ["after the signal", "the run's end"] and caught.value.signum == signal.SIGTERM


def test_a_second_signal_raises_at_once_and_a_pending_one_stops_the_next_run_before_it_starts():
    with interrupt.stop_on_signals():
        with pytest.raises(interrupt.Interrupted):
            with interrupt.deferred():
                send()
                send()
                raise AssertionError("the second signal did not raise")
        with pytest.raises(interrupt.Interrupted):
            with interrupt.deferred():
                raise AssertionError("a run started although a stop was pending")


def test_without_stop_on_signals_deferred_changes_nothing():
    # Python's own handler, whatever an earlier test's library (Ray, say) left installed.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            with interrupt.deferred():
                send()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not isinstance(caught.value, interrupt.Interrupted)


def test_a_signal_while_tensorflow_traces_is_raised_after_the_trace():
    @tf.function
    def double(x):
        send()  # runs once, while tracing
        return 2 * x

    with pytest.raises(interrupt.Interrupted):
        with interrupt.stop_on_signals(), interrupt.deferred():
            assert double(tf.constant(3.0)).numpy() == 6.0


def test_a_run_stops_at_the_batch_end_after_the_signal():
    class SendAtBatch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append(batch)
            if batch == 2:
                send()

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    sender = SendAtBatch()
    with pytest.raises(interrupt.Interrupted):
        with interrupt.stop_on_signals(), interrupt.deferred():
            model.fit(np.zeros((64, 4)), np.zeros((64, 1)), batch_size=4, epochs=2, verbose=0,
                      callbacks=[sender, StopOnSignal()])
    assert sender.batches == [0, 1, 2]

"""benchmarks/layers.py: the stored layer-speed report's ratios, verdicts and page, and a tiny real run."""

import json

import pytest

from benchmarks import layers


def _times():
    # Seconds per repetition: relu_zoo's gelu 0.9x Keras' layer and 1.2x tf.nn.gelu; relu 1.05x Keras'.
    return {"tf.nn.relu": [1.0, 1.0, 1.0], "gelu": [0.9, 0.9, 0.9], "keras:gelu": [1.0, 1.0, 1.0],
            "plain:gelu": [0.75, 0.75, 0.75], "relu": [1.05, 1.05, 1.05], "keras:relu": [1.0, 1.0, 1.0],
            "plain:relu": [1.0, 1.0, 1.0], "rrelu (training)": [1.5, 1.5, 2.5]}


def test_rows_hold_each_target():
    rows = {row["candidate"]: row for row in layers.rows(_times())}
    assert rows["gelu"]["keras"]["median"] == pytest.approx(0.9)
    assert rows["gelu"]["plain"]["median"] == pytest.approx(1.2)
    assert rows["gelu"]["met"] is False  # 1.2x the plain op: over 1.1
    assert rows["relu"]["met"] is False  # 1.05x Keras' layer: over 1.0
    # RReLU's median meets 2.0x tf.nn.relu but its slowest repetition does not: not stable, not met.
    assert rows["rrelu (training)"]["relu"] == {"median": 1.5, "min": 1.5, "max": 2.5}
    assert rows["rrelu (training)"]["met"] is False
    assert set(rows) == {"gelu", "relu", "rrelu (training)"}


def test_report_page_names_the_cpu_the_clock_and_the_rules_that_cost():
    stored = layers.report({"graph": _times()}, (2, 3), 3, "python benchmarks/layers.py --repeats 3", "cpu")
    json.dumps(stored)  # storable
    page = layers.markdown(stored)
    assert stored["cpu"]["model"] in page and "CPU time of the process" in page
    assert "| gelu |" in page and "`tf.nn.gelu`" in page
    assert "## What the rules cost" in page and layers.PLAIN_OPS["gelu"][2] in page


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_small_run_times_every_candidate(jit_compile):
    times = layers.run_times((2, 4, 4, 3), 2, ["relu", "rrelu"], jit_compile=jit_compile, conv=True)
    assert {"tf.nn.relu", "relu", "keras:relu", "plain:relu", "rrelu (training)", "rrelu (inference)",
            "conv+relu", "keras:conv+relu"} <= set(times)
    assert all(len(v) == 2 and min(v) > 0 for v in times.values())

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


def test_every_miss_is_listed_with_its_cause():
    times = {**_times(), "conv+relu": [1.1, 1.1, 1.1], "keras:conv+relu": [1.0, 1.0, 1.0],
             "elu": [1.02, 0.95, 1.02], "keras:elu": [1.0, 1.0, 1.0], "relu6": [1.004] * 3, "keras:relu6": [1.0] * 3,
             "selu": [1.2] * 3, "keras:selu": [1.0] * 3}
    misses = dict(layers.missed(layers.rows(times), "tf.nn.relu", {"keras": 1.0, "plain": 1.1,
                                                                  "relu": layers.TARGETS}))
    assert misses["gelu"].startswith("1.20× the plain op (target 1.1): the rules it keeps (1.20× `tf.nn.gelu`")
    assert misses["relu"] == "1.05× Keras' layer (target 1.0): the rules it keeps (1.05× `tf.nn.relu`, above)."
    assert "the rules of its activation (" + layers.PLAIN_OPS["relu"][2] in misses["conv+relu"]
    # selu: 1.2x Keras' layer in every repetition, no plain op timed: nothing explains it.
    assert misses["selu"] == "1.20× Keras' layer (target 1.0): no rule explains it; measured as is."
    assert misses["elu"].endswith("within the spread of the repetitions (their range reaches the target).")
    assert "2.50" not in misses["rrelu (training)"] and "1.50× tf.nn.relu" in misses["rrelu (training)"]
    assert "relu6" not in misses  # 1.004x shows as 1.00x: met


def test_a_backends_own_random_draw_is_named_as_rrelus_cost():
    times = {"torch.relu": [1.0, 1.0], "rrelu (training)": [3.0, 3.0], "plain:rrelu (training)": [2.5, 2.5]}
    rows = layers.rows(times, "torch.relu", layers.OWN_OPS["torch"], layers.OTHER_TARGETS)
    (key, text), = layers.missed(rows, "torch.relu", {"keras": 1.0, "plain": 1.1, "relu": layers.OTHER_TARGETS})
    assert key == "rrelu (training)" and "the backend's own `F.rrelu` takes 2.50× torch.relu: its random draw" in text


def test_report_pages_derive_again_from_stored_seconds(tmp_path):
    stored = layers.report({"graph": _times()}, (2, 3), 3, "python benchmarks/layers.py", "wall")
    stored["modes"]["graph"]["rows"] = []  # as if written by older code: --report derives them again
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(stored))
    assert layers.main(["--report", str(path)]) == 0
    again = json.loads(path.read_text())
    assert {row["candidate"] for row in again["modes"]["graph"]["rows"]} == {"gelu", "relu", "rrelu (training)"}
    assert "## Misses and their causes" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_small_run_times_every_candidate(jit_compile):
    times = layers.run_times((2, 4, 4, 3), 2, ["relu", "rrelu"], jit_compile=jit_compile, conv=True)
    assert {"tf.nn.relu", "relu", "keras:relu", "plain:relu", "rrelu (training)", "rrelu (inference)",
            "conv+relu", "keras:conv+relu"} <= set(times)
    assert all(len(v) == 2 and min(v) > 0 for v in times.values())


def _torch_times():
    # PyTorch's section: relu_zoo's relu 1.08x torch.relu and 1.02x Keras' ReLU; its PReLU 0.9x F.prelu.
    return {"torch.relu": [1.0, 1.0], "relu": [1.08, 1.08], "keras:relu": [1.06, 1.06], "plain:relu": [1.0, 1.0],
            "prelu": [1.8, 1.8], "keras:prelu": [3.0, 3.0], "plain:prelu": [2.0, 2.0]}


def test_other_backends_rows_use_their_own_relu_and_functions():
    rows = {row["candidate"]: row for row in layers.rows(_torch_times(), "torch.relu", layers.OWN_OPS["torch"], {})}
    assert rows["relu"]["relu"]["median"] == pytest.approx(1.08)
    assert rows["relu"]["plain"]["op"] == "torch.relu" and rows["relu"]["plain"]["median"] == pytest.approx(1.08)
    assert rows["relu"]["met"] is False  # 1.02x Keras' layer
    assert rows["prelu"]["plain"]["op"] == "F.prelu" and rows["prelu"]["met"] is True
    assert set(rows) == {"relu", "prelu"}


def test_report_has_a_section_per_backend_and_names_what_each_rule_costs():
    jax_times = {"jax.nn.relu": [1.0], "silu": [1.05], "keras:silu": [1.0], "plain:silu": [1.0]}
    others = {"torch": {"versions": {"torch": "2.13.0", "keras": "3.15.1"}, "threads": {"cpus": 2, "torch": 2},
                        "modes": {"eager": _torch_times()}},
              "jax": {"versions": {"jax": "0.10.2", "keras": "3.15.1"}, "threads": {"cpus": 2},
                      "modes": {"jit": jax_times}}}
    stored = layers.report({"graph": _times()}, (2, 3), 2, "python benchmarks/layers.py", "wall", others)
    json.dumps(stored)
    assert stored["backends"]["torch"]["modes"]["eager"]["rows"][0]["candidate"] == "relu"
    page = layers.markdown(stored)
    for heading in ("## TensorFlow graph mode", "## JAX (`jax.jit`", "## PyTorch (eager autograd)"):
        assert heading in page
    assert "× torch.relu |" in page and "PyTorch 2.13.0 (Keras 3.15.1, 2 threads)" in page
    assert f"relu (PyTorch): 1.08× `torch.relu`, which does not keep: {layers.OWN_OPS['torch']['relu'][2]}" in page
    assert "silu (JAX): 1.05× `jax.nn.silu`" in page


def test_recorded_command_names_no_interpreter_of_this_machine():
    command = layers.recorded(["--backends", "jax,torch", "--python", "jax=/opt/venvs/jax/bin/python", "--python",
                               "torch=/home/me/t/bin/python", "--repeats", "3"])
    assert command == ("python benchmarks/layers.py --backends jax,torch --python jax=$JAX_PYTHON "
                       "--python torch=$TORCH_PYTHON --repeats 3")


@pytest.mark.slow
def test_a_tiny_run_of_every_backend_at_hand(tmp_path):
    pythons = layers.backend_bench.interpreters({})
    if not {"jax", "torch"} & set(pythons):
        pytest.skip("no interpreter with JAX or PyTorch (RELU_ZOO_PYTHONS)")
    backends = [b for b in ("jax", "torch") if b in pythons]
    out = tmp_path / "cpu.json"
    layers.main(["--backends", ",".join(backends), "--shape", "2,4,4,4", "--repeats", "1", "--layers",
                 "relu,prelu,rrelu,gelu", "--json", str(out)])
    stored = json.loads(out.read_text())
    for backend in backends:
        times = stored["backends"][backend]["modes"][layers.MODES[backend][0]]["seconds"]
        assert {layers.BASE[backend], "relu", "keras:relu", "plain:relu", "prelu", "rrelu (training)", "gelu",
                "plain:gelu"} <= set(times)
    assert (tmp_path / "README.md").read_text().count("| relu |") == len(backends)

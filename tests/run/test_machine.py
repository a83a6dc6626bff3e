"""relu_zoo.run.machine and relu_zoo.console.train_config: what the benchmarks record beside a time, and the
configuration they time."""

import tensorflow as tf

from relu_zoo import console
from relu_zoo.run import machine, spec


def test_the_machine_names_cpu_tensorflow_and_kernels():
    described = machine.describe()
    cpu = described["cpu"]
    assert set(cpu) == {"model", "flags", "cores"} and cpu["cores"] >= 1
    assert set(cpu["flags"]) <= {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"}
    assert described["tensorflow"] == tf.__version__ and isinstance(described["onednn"], bool)
    assert described["text"].startswith(machine.cpu_text(cpu)) and f"{cpu['cores']} cores" in described["text"]


def test_cpu_text_reads_a_stored_record():
    stored = {"model": "AMD EPYC", "flags": ["avx2", "fma"], "cores": 2}
    assert machine.cpu_text(stored) == "AMD EPYC (avx2, fma, 2 cores)"


def test_train_config_is_what_the_command_line_runs():
    config = console.train_config(["--preset", "mnist_99", "--epochs", "1", "--seeds", "1"])
    preset = spec.resolve(preset="mnist_99")
    assert config.epochs == 1 and config.seeds == [0] and config.learning_rate == preset.learning_rate
    assert config.model_kwargs == preset.model_kwargs and config.label_smoothing == 0.1

"""The machine a record states beside a time: the CPU (model, the flags that decide speed and precision, cores),
TensorFlow's version and whether it runs its oneDNN kernels. Benchmarks and run records describe it one way."""

from relu_zoo import _compat, _cpu


def cpu():
    """{"model", "flags" (AVX2, FMA, AVX-512, native bfloat16: the speed-deciding ones), "cores"}."""
    return _cpu.describe()


def cpu_text(described=None):
    """`cpu()` in words, e.g. "AMD EPYC 9R14 (avx2, avx512_bf16, avx512f, fma, 2 cores)"."""
    return _cpu.text(described or cpu())


def onednn_enabled():
    """Whether this process' TensorFlow runs its oneDNN kernels (imports TensorFlow)."""
    return _compat.onednn_enabled()


def describe():
    """{"cpu": cpu(), "tensorflow": version, "onednn": bool, "text": one line for a report's header}."""
    import tensorflow as tf

    described = cpu()
    onednn = onednn_enabled()
    return {"cpu": described, "tensorflow": tf.__version__, "onednn": onednn,
            "text": f"{cpu_text(described)}, TensorFlow {tf.__version__}{'' if onednn else ' (Eigen kernels)'}"}

"""This machine's CPU as records name it (Linux /proc/cpuinfo): model name, feature flags, cores. TensorFlow-free,
so the benchmarks of every backend and the records of every run describe the machine one way."""

import os

CPUINFO = "/proc/cpuinfo"
# The flags that decide precision and speed here: AVX2/FMA kernels, AVX-512, native bfloat16 (AVX-512 BF16, AMX).
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")


def _first(key, path):
    try:
        with open(path) as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(key)), None)
    except OSError:
        return None


def flags(path=CPUINFO):
    """The feature flags of the first CPU in `path`, or an empty set where it cannot be read."""
    return set((_first("flags", path) or "").split())


def model(path=CPUINFO):
    """The CPU's model name, or None."""
    return _first("model name", path)


def text(described):
    """`describe()`'s dict in words: "AMD EPYC (avx2, fma, 2 cores)", as records show it beside a time."""
    return f"{described['model']} ({', '.join(described['flags']) or 'no AVX2'}, {described['cores']} cores)"


def describe(path=CPUINFO):
    """{"model", "flags" (the speed-deciding ones), "cores"}: what a record states beside a time."""
    return {"model": model(path) or "unknown", "flags": sorted(flags(path) & set(SPEED_FLAGS)),
            "cores": os.cpu_count()}

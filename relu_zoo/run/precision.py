"""The dtype policy a run trains with: `precision: auto` resolved for this machine's GPUs or CPU features."""

import tensorflow as tf

from relu_zoo import _cpu


# CPU features with native bfloat16 arithmetic (Linux /proc/cpuinfo names): AMX tiles or AVX-512 BF16.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(path=_cpu.CPUINFO):
    """The feature flags of the first CPU in `path` (Linux), or an empty set where it cannot be read."""
    return _cpu.flags(path)


def auto_precision(gpus=None, flags=None):
    """The dtype policy `precision: auto` means on this machine.

    On GPUs: `mixed_bfloat16` where every GPU has compute capability >= 8.0 (Ampere on), else `mixed_float16`.
    On a CPU: `mixed_bfloat16` only where it computes bfloat16 natively (AMX-BF16 or AVX-512 BF16: a conv net's
    step ran 2.2x faster than float32 on such a CPU); elsewhere bfloat16 is emulated (4.4x slower than float32
    on an AVX2-only AMD EPYC here), so `float32`.
    """
    if gpus is None:
        gpus = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                for gpu in tf.config.list_physical_devices("GPU")]
    if gpus:
        return "mixed_bfloat16" if all(cc and tuple(cc) >= (8, 0) for cc in gpus) else "mixed_float16"
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if flags & set(BF16_CPU_FLAGS) else "float32"


def dtype_policy(config):
    """The Keras dtype policy a run of `config` trains with (`auto` resolved for this machine)."""
    return auto_precision() if config.precision == "auto" else config.precision

"""Training precision: which Keras dtype policy a run trains in, checked against the hardware.

``mixed_bfloat16`` (or ``mixed_float16`` with loss scaling) computes activations and
convolutions in 16 bits while the latent weights, the optimizer and the loss stay float32;
``auto`` picks ``mixed_bfloat16`` where the hardware computes in bfloat16, float32 elsewhere.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo._host import cpu_flags

# Keras dtype policies a run may train in (the latent weights are float32 in all of them), and
# "auto": mixed_bfloat16 where the hardware computes in bfloat16, float32 elsewhere
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")


def check_precision(config: dict, hardware=None) -> str:
    """The Keras dtype policy the config's ``precision`` asks for on this machine ("auto"
    resolved), refused with the valid values when it is not one of them.

    ``hardware`` is ``(gpu_capabilities, cpu_flags)``; by default it is read off this machine
    (``detect_hardware()``).
    """
    precision = one_of(
        "precision",
        config.get("precision", "float32"),
        PRECISIONS,
        hint="Use --set precision=mixed_bfloat16 on CPUs with AVX512_BF16 or AMX and on recent "
        "GPUs, mixed_float16 on older GPUs, or auto to choose by the hardware.",
    )
    if precision == "auto":
        gpus, flags = hardware or detect_hardware()
        precision = "mixed_bfloat16" if has_bfloat16(gpus, flags) else "float32"
    if precision == "mixed_float16" and config["optimizer"]["name"] == "bop":
        raise ValueError(
            "precision=mixed_float16 needs loss scaling, which larq's Bop (a CaseOptimizer) "
            "does not support. Use --set precision=mixed_bfloat16 (no loss scaling needed) or "
            "precision=float32 with Bop."
        )
    return precision


def has_bfloat16(gpu_capabilities, cpu_flags: set[str]) -> bool:
    """Whether this hardware computes in bfloat16 rather than emulating it: NVIDIA GPUs of
    compute capability 8.0 (Ampere) and later (an unknown capability counts as able), or,
    without a GPU, a CPU with AVX512_BF16 or AMX."""
    if gpu_capabilities:
        return all(c is None or tuple(c) >= (8, 0) for c in gpu_capabilities)
    return bool(set(cpu_flags) & {"avx512_bf16", "amx_bf16"})


def slow_precision_warning(precision: str, gpu_capabilities, cpu_flags: set[str]) -> str | None:
    """Why ``precision`` will likely train slower than float32 on this hardware, or None.

    16-bit training is fast where the hardware computes in 16 bits; elsewhere TensorFlow
    emulates it. Measured on a 2-core AVX-512 CPU without float16 support: 2 epochs of
    ``quickstart_quick`` took 67 s in mixed_float16 against 8 s in float32.
    """
    if precision == "mixed_float16" and not gpu_capabilities:
        return (
            "precision=mixed_float16 without a GPU: TensorFlow emulates float16 on CPUs, which "
            "trains many times slower than float32. Use --set precision=auto (bfloat16 where "
            "the CPU has it, else float32)."
        )
    if precision == "mixed_bfloat16" and not has_bfloat16(gpu_capabilities, cpu_flags):
        where = "CPU without AVX512_BF16 or AMX"
        if gpu_capabilities:
            where = "GPU older than compute capability 8.0"
        return (
            f"precision=mixed_bfloat16 on a {where}: TensorFlow emulates bfloat16 here, which "
            f"is usually slower than float32. Use --set precision=auto or float32."
        )
    return None


def detect_hardware() -> tuple[list, set[str]]:
    """(compute capability of each GPU, None where unknown; the CPU's feature flags, empty
    where unknown)."""
    gpus = [
        tf.config.experimental.get_device_details(gpu).get("compute_capability")
        for gpu in tf.config.list_physical_devices("GPU")
    ]
    return gpus, cpu_flags()


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Build layers under the Keras dtype policy ``precision``; the global policy is restored
    afterwards (layers keep the policy they were built with).

    Example:
        >>> with dtype_policy("mixed_bfloat16"):
        ...     model = build_model(config, input_shape=(28, 28, 1), num_classes=10)
    """
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)

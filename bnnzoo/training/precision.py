"""Training precision: which Keras dtype policy a run trains in, checked against the hardware.

``mixed_bfloat16`` (or ``mixed_float16`` with loss scaling) computes activations and
convolutions in 16 bits while the latent weights, the optimizer and the loss stay float32.

``auto`` decides by measurement where the hardware computes in bfloat16: ``measure_rates``
times a few train steps of the run's own model and batch in float32 and in mixed_bfloat16, and
``fastest`` picks the faster (bfloat16 is not faster for every network: on one CPU it trained
one network at 2.4× and another at 0.6× the float32 rate). Without bfloat16 hardware ``auto``
is float32, unmeasured.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from bnnzoo._checks import one_of
from bnnzoo._host import cpu_flags
from bnnzoo.training.optimizers import make_optimizer
from bnnzoo.training.steps import make_train_step

# Keras dtype policies a run may train in (the latent weights are float32 in all of them), and
# "auto": the faster of float32 and mixed_bfloat16 where the hardware computes in bfloat16,
# float32 elsewhere
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
# what "auto" measures, float32 first (it wins a tie)
MEASURED = ("float32", "mixed_bfloat16")


def check_precision(config: dict, hardware=None) -> str:
    """The Keras dtype policy the config's ``precision`` asks for on this machine, refused with
    the valid values when it is not one of them. "auto" is resolved by the hardware alone:
    mixed_bfloat16 where it computes in bfloat16 (``train`` then measures whether it is also
    faster, ``measure_rates``), float32 elsewhere.

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


def fastest(rates: dict[str, float]) -> str:
    """The precision of the highest rate in ``rates`` (images/s by precision); float32 on a tie.

    Example:
        >>> fastest({"float32": 160.0, "mixed_bfloat16": 210.0})
        'mixed_bfloat16'
    """
    order = [p for p in MEASURED if p in rates] + [p for p in rates if p not in MEASURED]
    return max(order, key=lambda precision: rates[precision])  # max keeps the first of equals


def measure_rates(
    build: Callable[[], tf.keras.Model],
    config: dict,
    batch_shape: Sequence[int],
    num_classes: int,
    *,
    precisions: Sequence[str] = MEASURED,
    steps: int = 4,
    rounds: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Images/s of the train step of ``build()``'s model in each of ``precisions``.

    Each model is built under its dtype policy with the config's optimizer, its step compiled
    and run twice, then timed over ``steps`` steps on random data of ``batch_shape``; the
    precisions take turns for ``rounds`` rounds and keep their best, so that drift in the
    machine's load hits all of them. Keras's layer names are left as they were, so the run's
    model is named as if nothing had been measured.

    Example:
        >>> measure_rates(lambda: build_model(config, input_shape=(28, 28, 1), num_classes=10),
        ...               config, (128, 28, 28, 1), 10)
        {'float32': 195.0, 'mixed_bfloat16': 283.4}
    """
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=tuple(batch_shape)).astype("float32"))
    y = tf.constant(rng.integers(0, num_classes, size=batch_shape[0]))
    best = dict.fromkeys(precisions, 0.0)
    with _keras_names_kept():
        run = {}
        for precision in precisions:
            with dtype_policy(precision):
                model = build()
            step = make_train_step(model, make_optimizer(config, 1000), global_batch=len(y))
            for _ in range(2):  # compile and warm up
                float(step(x, y)[0])
            run[precision] = step
        for _ in range(rounds):
            for precision, step in run.items():
                start = clock()
                for _ in range(steps):
                    float(step(x, y)[0])
                best[precision] = max(best[precision], steps * len(y) / max(clock() - start, 1e-9))
    return best


@contextlib.contextmanager
def _keras_names_kept():
    """Keras's counters of automatic layer names restored on exit: models built inside do not
    shift the names (``conv2d_7``...) of the models built after them."""
    from tf_keras.src import backend  # the counters are not public API

    graph = backend.get_graph()
    counters = backend.PER_GRAPH_OBJECT_NAME_UIDS.get(graph)
    saved = dict(counters) if counters is not None else None
    observed = set(backend.OBSERVED_NAMES)
    try:
        yield
    finally:
        if saved is None:
            backend.PER_GRAPH_OBJECT_NAME_UIDS.pop(graph, None)
        else:
            backend.PER_GRAPH_OBJECT_NAME_UIDS[graph] = collections.defaultdict(int, saved)
        backend.OBSERVED_NAMES.clear()
        backend.OBSERVED_NAMES.update(observed)

"""``tf.distribute`` strategies by name (one device, several GPUs, or several machines), which
worker of a cluster this process is, and the BatchNorm synchronisation that makes several
replicas compute what one device computes.

Several machines use ``tf.distribute.MultiWorkerMirroredStrategy``, configured by ``TF_CONFIG``.
It has to be created before TensorFlow runs its first operation (``train`` makes it first).
TensorFlow's coordination service (on by default for this strategy) sends heartbeats between
the workers; a worker that dies makes the others' collectives fail instead of waiting forever.
``BNNZOO_COLLECTIVE_TIMEOUT`` (seconds) adds a timeout to every collective as well
(``tf.distribute.experimental.CommunicationOptions(timeout_seconds=...)``), which TensorFlow
describes as a debugging aid: it costs a thread per collective.
"""

from __future__ import annotations

import json
import os
import socket

import tensorflow as tf

from bnnzoo._checks import one_of

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
TIMEOUT_VARIABLE = "BNNZOO_COLLECTIVE_TIMEOUT"


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """``auto``: MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored when there are
    several GPUs, else the default strategy. ``mirrored`` uses every visible GPU (or, with none,
    every logical CPU device); ``multiworker`` reads TF_CONFIG."""
    one_of("strategy", name, STRATEGIES, hint="Use --strategy auto to choose by the hardware.")
    if name == "auto":
        workers = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}).get("worker")
        if workers and len(workers) > 1:
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy 'multiworker' needs TF_CONFIG describing the cluster, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=collective_timeout()
            )
        )
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def collective_timeout() -> float | None:
    """Seconds after which a collective of a multi-worker run fails, from
    ``BNNZOO_COLLECTIVE_TIMEOUT``; None (no timeout of its own) when unset."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(
            f"{TIMEOUT_VARIABLE} must be a number of seconds > 0. Received: {text!r}. Set it "
            f"to e.g. 60, or unset it."
        )
    return seconds


def worker_position(strategy: tf.distribute.Strategy) -> tuple[int, int]:
    """(index of this worker, number of workers): (0, 1) on one machine. Worker 0 (or the task
    of a ``chief`` job) is the chief, the one that writes the run directory."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return 0, 1
    jobs = resolver.cluster_spec().as_dict()
    workers = len(jobs.get("chief", [])) + len(jobs.get("worker", []))
    if resolver.task_type == "chief":
        return 0, workers
    return int(resolver.task_id) + len(jobs.get("chief", [])), workers


def synchronize_batch_norm(model: tf.keras.Model) -> int:
    """Make every BatchNorm of ``model`` use the statistics of the global batch.

    Under a multi-replica strategy each replica sees a slice of the batch; with synchronized
    statistics a mirrored run computes what one device computes with the whole batch. Returns
    the number of layers changed.
    """
    changed = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            changed += synchronize_batch_norm(layer)
        elif isinstance(layer, tf.keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            layer.fused = False
            changed += 1
    return changed


def loopback_tf_configs(workers: int) -> list[str]:
    """``TF_CONFIG`` values (JSON) for ``workers`` processes of one cluster on this machine, each
    on a free loopback port: the i-th is worker i's (index 0 is the chief). For trying
    multi-worker training on one machine, as the tests and ``benchmarks/multiworker.py`` do.

    Example:
        >>> env = {**os.environ, "TF_CONFIG": loopback_tf_configs(2)[1]}  # the second worker
    """
    sockets = [socket.socket() for _ in range(workers)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        cluster = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()
    return [
        json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}})
        for index in range(workers)
    ]

"""``tf.distribute`` strategies by name (one device, several GPUs, or several machines), and
the BatchNorm synchronisation that makes several replicas compute what one device computes."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from bnnzoo._checks import one_of

STRATEGIES = ("auto", "default", "mirrored", "multiworker")


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
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


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

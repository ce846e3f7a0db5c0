import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from bnnzoo.training import recipes, train
from bnnzoo.training.distribute import (
    collective_timeout,
    loopback_tf_configs,
    make_strategy,
    synchronize_batch_norm,
    worker_position,
)
from bnnzoo.training.loop import build_model


def test_mirrored_on_two_cpu_devices_computes_what_one_device_computes(tmp_path):
    script = Path(__file__).with_name("_mirrored_check.py")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["default"]["replicas"] == 1 and report["mirrored"]["replicas"] == 2
    # one step on the same global batch: the same loss and the same weights, up to float rounding
    assert report["mirrored"]["loss"] == pytest.approx(report["default"]["loss"], abs=1e-6)
    assert report["max_weight_diff"] < 1e-5
    # a whole epoch through `train`: the summation order differs between 1 and 2 replicas, and a
    # binary net turns some of those rounding differences into flipped signs, so the runs agree
    # closely rather than bit for bit
    one, two = report["default"], report["mirrored"]
    assert two["run_train_loss"] == pytest.approx(one["run_train_loss"], rel=2e-3)


def test_synchronize_batch_norm_reaches_every_batch_norm_once():
    config = recipes.resolve("resnet_e18_imagenet_quick")
    model = build_model(config, input_shape=(16, 16, 1), num_classes=10)
    norms = [
        layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    assert norms and not any(layer.synchronized for layer in norms)
    assert synchronize_batch_norm(model) == len(norms)
    assert all(layer.synchronized and not layer.fused for layer in norms)
    assert synchronize_batch_norm(model) == 0  # already synchronized


def test_unknown_strategy():
    with pytest.raises(ValueError, match="Expected strategy to be one of"):
        make_strategy("tpu")


def test_multiworker_without_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        make_strategy("multiworker")


def test_batch_that_does_not_split_across_replicas(tmp_path, monkeypatch):
    class TwoReplicas:
        num_replicas_in_sync = 2

    monkeypatch.setattr("bnnzoo.training.loop.make_strategy", lambda name: TwoReplicas())
    config = recipes.resolve("resnet_e18_imagenet_quick", batch_size=33)
    with pytest.raises(ValueError, match="batch_size=33 does not split across 2 replicas"):
        train(config, tmp_path, verbose=0)
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1


def test_one_machine_is_worker_0_of_1():
    assert worker_position(tf.distribute.get_strategy()) == (0, 1)


def test_collective_timeout_from_the_environment(monkeypatch):
    monkeypatch.delenv("BNNZOO_COLLECTIVE_TIMEOUT", raising=False)
    assert collective_timeout() is None
    monkeypatch.setenv("BNNZOO_COLLECTIVE_TIMEOUT", "2.5")
    assert collective_timeout() == 2.5
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv("BNNZOO_COLLECTIVE_TIMEOUT", bad)
        with pytest.raises(ValueError, match=f"Received: '{bad}'"):
            collective_timeout()


def test_loopback_tf_configs_name_one_cluster_of_free_ports():
    configs = [json.loads(c) for c in loopback_tf_configs(3)]
    cluster = configs[0]["cluster"]["worker"]
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"]["worker"] == cluster for c in configs)
    assert len(set(cluster)) == 3 and all(w.startswith("127.0.0.1:") for w in cluster)

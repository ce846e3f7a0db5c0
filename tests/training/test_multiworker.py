"""MultiWorkerMirroredStrategy across real processes: two ``bnnzoo train`` workers on loopback
ports, one of them killed mid-epoch and both resumed, against a one-process run with the same
two replicas (``--strategy mirrored`` on two logical CPU devices)."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo.training import data as data_lib
from bnnzoo.training.distribute import loopback_tf_configs
from bnnzoo.training.rundir import RunDir
from tests.training._checkpoints import wait_for_mid_epoch_checkpoint
from tests.training._weights import read_weights

# the cluster run of the module fixture is made once, on one worker
pytestmark = pytest.mark.xdist_group("multiworker")

QUICK = "resnet_e18_imagenet_quick"
STEPS_PER_EPOCH = 256 // 32
# a tiny run: the quick recipe's ResNetE (two stages of one block, 32 and 64 filters: every kind
# of layer ResNetE18 has, BatchNorm synchronised across the workers; each of the five processes
# traces its steps, so the layers are kept few: four stages took this module 104 CPU s, two 79),
# 2 epochs of 8 steps at 16x16, a checkpoint every 3 steps (steps 3 and 6 are inside epoch 1)
COMMON = ["--recipe", QUICK, "--quiet", "--epochs", "2", "--batch-size", "32",
          "--set", "input_size=16", "--set", "max_train_examples=256",
          "--set", "max_test_examples=64", "--set", "checkpoint_every_steps=3"]  # fmt: skip
RUN_FILES = {"config.json", "metrics.csv", "curves.png", "model.keras", "model.weights.h5",
             "model_card.md", "results.json", "checkpoints", "tensorboard"}  # fmt: skip
TIMEOUT = 240  # seconds any one process may take before the test fails
# one process with two replicas: the reference the two workers must reproduce
REFERENCE = """
import sys
import bnnzoo
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from bnnzoo.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env(**extra) -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _start_workers(args, tmp_path, tag):
    """Two `bnnzoo train` workers of one cluster, each with its own TF_CONFIG and TMPDIR."""
    processes = []
    for index, tf_config in enumerate(loopback_tf_configs(2)):
        scratch = tmp_path / f"{tag}-tmp{index}"
        scratch.mkdir()
        env = _env(TF_CONFIG=tf_config, TMPDIR=str(scratch))
        cmd = [sys.executable, "-m", "bnnzoo.cli", "train", *args]
        processes.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))  # fmt: skip
    return processes


def _finish(processes):
    """(return code, stdout, stderr) of each process; none is left running."""
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=TIMEOUT)
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def _kill_the_other_worker_mid_epoch(chief, other, out):
    """SIGKILL the non-chief worker as soon as the chief has written a mid-epoch checkpoint;
    returns that checkpoint's number (None if none came), the chief's (code, stdout, stderr)
    and the seconds the chief took to stop."""
    try:
        number = wait_for_mid_epoch_checkpoint(chief, out, STEPS_PER_EPOCH, timeout=TIMEOUT)
        other.send_signal(signal.SIGKILL)
        started = time.time()
        chief_result, _ = _finish([chief, other])
        return number, chief_result, time.time() - started
    finally:
        for process in (chief, other):
            if process.poll() is None:
                process.kill()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One two-worker run with its second worker killed mid-epoch, then both resumed; and the
    one-process reference with two replicas, started alongside.

    No uninterrupted two-worker run is made: the resumed run must equal the reference bit for
    bit, which proves both that two workers compute what one process computes and that the
    resume loses nothing.
    """
    tmp_path = tmp_path_factory.mktemp("multiworker")
    out = tmp_path / "cluster"
    reference = subprocess.Popen(
        [sys.executable, "-c", REFERENCE, "train", *COMMON, "--strategy", "mirrored",
         "--out", str(tmp_path / "reference")],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        chief, other = _start_workers([*COMMON, "--strategy", "multiworker", "--out", str(out)],
                                      tmp_path, "cluster")  # fmt: skip
        killed = _kill_the_other_worker_mid_epoch(chief, other, out)
        killed_files = {p.name for p in out.iterdir()}
        temporary = [p.name for p in (out / "checkpoints").iterdir() if "temp" in p.name]
        resumed = _finish(_start_workers(["--resume", str(out)], tmp_path, "resumed"))
    finally:
        (reference_result,) = _finish([reference])
    return {"dir": tmp_path, "killed": killed, "killed_files": killed_files,
            "temporary": temporary, "resumed": resumed, "reference": reference_result}  # fmt: skip


def test_the_data_is_split_across_workers_without_overlap_or_loss():
    """Each worker's pipeline holds a contiguous slice of every global batch; together they
    hold every example of the epoch once, in one device's order, a resume's skip included."""
    n, batch = 100, 8
    ids = np.arange(n)
    elements = tf.data.Dataset.from_tensor_slices((np.zeros((n, 4, 4, 1), np.uint8), ids))
    pre = data_lib.Preprocessing(4, 1, (0.0,), (1.0,))
    steps = n // batch
    for skip in (0, 3):
        slices = [
            [y.numpy() for _, y in data_lib.pipeline(
                elements, pre, batch_size=batch, training=True, skip_batches=skip,
                num_batches=steps, shard=(2, worker), replicas=1)]
            for worker in range(2)
        ]  # fmt: skip
        assert len(slices[0]) == len(slices[1]) == steps - skip  # the same number of steps
        for step, (first, second) in enumerate(zip(*slices)):
            assert len(first) == len(second) == batch // 2
            start = (skip + step) * batch
            np.testing.assert_array_equal(np.concatenate([first, second]),
                                          ids[start : start + batch])  # fmt: skip
        seen = np.concatenate([np.concatenate(s) for s in slices])
        assert sorted(seen) == list(range(skip * batch, steps * batch))  # each once, none lost


def test_a_killed_worker_stops_the_other_with_the_cause_named(runs):
    number, (code, _, err), waited = runs["killed"]
    assert number is not None, "no mid-epoch checkpoint was written before the run ended"
    print(f"the chief stopped {waited:.1f} s after its peer was killed: {err.strip()[-400:]}")
    assert code == 2 and "lost contact with the other workers" in err
    assert "Graph execution error:)" not in err  # the cause is named
    assert "model.keras" not in runs["killed_files"]
    assert not runs["temporary"]  # no half-written checkpoint left behind


def test_the_resumed_workers_finish_and_only_the_chief_writes(runs):
    for code, _, err in runs["resumed"]:
        assert code == 0, err[-3000:]
    assert re.search(r"Resumed .* at epoch \d+, step \d+", runs["resumed"][0][1])
    run = runs["dir"] / "cluster"
    assert {p.name for p in run.iterdir()} == RUN_FILES
    checkpoints = {p.name for p in (run / "checkpoints").iterdir()}
    assert "checkpoint" in checkpoints
    assert all(re.fullmatch(r"checkpoint|ckpt-\d+\.(index|data-.*)", n) for n in checkpoints)
    assert len(RunDir(run).read_metrics()) == 2
    # the other worker's checkpoints and model went to its temporary directory, since removed
    assert not list((runs["dir"] / "resumed-tmp1").iterdir())


def test_killed_and_resumed_workers_compute_what_one_process_with_two_replicas_computes(runs):
    code, _, err = runs["reference"]
    assert code == 0, err[-3000:]
    assert all(code == 0 for code, _, _ in runs["resumed"])
    cluster = read_weights(runs["dir"] / "cluster" / "model.weights.h5")
    reference = read_weights(runs["dir"] / "reference" / "model.weights.h5")
    assert cluster.keys() == reference.keys()
    diff = max(float(np.abs(cluster[k] - reference[k]).max()) for k in cluster)
    print(f"max |two workers, killed and resumed - one process| = {diff:.3g}")
    assert diff == 0.0
    one, two = RunDir(runs["dir"] / "reference"), RunDir(runs["dir"] / "cluster")
    assert two.read_metrics()[-1]["test_accuracy"] == one.read_metrics()[-1]["test_accuracy"]


def test_a_batch_that_does_not_split_across_the_workers_is_refused(tmp_path):
    out = tmp_path / "run"
    args = [*COMMON, "--batch-size", "33", "--strategy", "multiworker", "--out", str(out)]
    for code, _, err in _finish(_start_workers(args, tmp_path, "odd")):
        assert code == 2
        assert "batch_size=33 does not split across 2 replicas (2 workers)" in err
    assert not out.exists()

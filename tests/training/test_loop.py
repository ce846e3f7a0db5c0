import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from bnnzoo.training import TrainingError, evaluate_run, recipes, train
from bnnzoo.training.rundir import RunDir
from tests.training._checkpoints import wait_for_mid_epoch_checkpoint
from tests.training._weights import read_weights

QUICK = "resnet_e18_imagenet_quick"


@pytest.mark.xdist_group("quick_run")  # the run is tests/training/conftest.py's, trained once
def test_a_run_writes_everything(quick_run, tmp_path):
    run, result = quick_run  # resolve(QUICK, ["optimizer.lr=0.01"], epochs=2), float32
    for name in ("config.json", "metrics.csv", "curves.png", "model.keras", "model.weights.h5",
                 "model_card.md", "results.json"):  # fmt: skip
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").iterdir())
    rows = RunDir(run).read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["lr"] == pytest.approx(0.01 * 0.1)  # multistep: x0.1 after epoch 1
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    for row in rows:  # the training rate leaves the evaluation out, the epoch rate does not
        assert row["eval_seconds"] > 0
        train_seconds = row["seconds"] - row["eval_seconds"]
        assert row["train_images_per_second"] * train_seconds == pytest.approx(
            row["images_per_second"] * row["seconds"], rel=1e-4
        )
    assert result.test_accuracy == rows[-1]["test_accuracy"]
    saved = json.loads((run / "config.json").read_text())
    assert saved["optimizer"]["lr"] == 0.01 and saved["preprocessing"]["size"] == 32
    card = (run / "model_card.md").read_text()
    assert f"test accuracy: {result.test_accuracy:.4f}" in card and "binary" in card
    loss, accuracy = evaluate_run(run)  # the saved model and preprocessing reproduce the result
    assert accuracy == pytest.approx(result.test_accuracy)
    assert loss == pytest.approx(result.test_loss, rel=1e-5)
    # resuming a finished run trains nothing and evaluates the saved state once more (on a copy:
    # the other tests of the run read it)
    shutil.copytree(run, tmp_path / "run")
    again = train({}, tmp_path / "run", resume=True, verbose=0)
    assert again.test_accuracy == result.test_accuracy
    assert len(RunDir(tmp_path / "run").read_metrics()) == 2


def test_existing_run_directory_is_not_overwritten(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TrainingError, match="already holds a run"):
        train(recipes.resolve(QUICK), tmp_path, verbose=0)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = recipes.resolve(QUICK, ["optimizer.lr=1e30", "optimizer.name=sgd"], epochs=3)
    with pytest.raises(TrainingError, match="The loss became .* last good checkpoint"):
        train(config, tmp_path, verbose=0)
    assert not (tmp_path / "model.keras").exists()


def test_xla_needs_determinism_off(tmp_path):
    with pytest.raises(ValueError, match="deterministic=false"):
        train(recipes.resolve(QUICK, ["xla=true"]), tmp_path, verbose=0)


def test_batch_larger_than_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="larger than the 512 training examples"):
        train(recipes.resolve(QUICK, batch_size=1024), tmp_path, verbose=0)


def _cli(*args, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return [sys.executable, "-m", "bnnzoo.cli", *args], env


def test_sigkill_mid_epoch_then_resume_ends_at_the_same_weights(tmp_path):
    """A real run is killed with SIGKILL right after a mid-epoch checkpoint, then resumed."""
    # 2 epochs of 8 steps at 16×16: three processes, so each one's steps are kept few
    common = ["--recipe", QUICK, "--epochs", "2", "--quiet", "--set", "checkpoint_every_steps=3",
              "--set", "input_size=16", "--set", "max_train_examples=256"]  # fmt: skip
    steps_per_epoch = 256 // 32
    cmd, env = _cli("train", *common, "--out", str(tmp_path / "reference"))
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    cmd, env = _cli("train", *common, "--out", str(killed))
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    number = wait_for_mid_epoch_checkpoint(process, killed, steps_per_epoch, timeout=300)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert number is not None, "no mid-epoch checkpoint was written before the run ended"
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "model.keras").exists()

    cmd, env = _cli("train", "--resume", str(killed))
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    match = re.search(r"Resumed .* at epoch (\d+), step (\d+)", resumed.stdout)
    assert match and int(match.group(2)) > 0  # it continued inside an epoch

    reference = read_weights(tmp_path / "reference" / "model.weights.h5")
    final = read_weights(killed / "model.weights.h5")
    assert reference.keys() == final.keys()
    for name in reference:
        np.testing.assert_array_equal(final[name], reference[name], err_msg=name)
    assert (
        RunDir(killed).read_metrics()[-1]["test_accuracy"]
        == RunDir(tmp_path / "reference").read_metrics()[-1]["test_accuracy"]
    )


def test_resume_without_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="Nothing to resume"):
        train({}, tmp_path, resume=True, verbose=0)

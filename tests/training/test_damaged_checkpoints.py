"""A resume from a damaged run, and a run that cannot write: what each case does.

One quick run on digits (4 steps per epoch, a checkpoint every 2 steps, the last two kept:
ckpt-6 in the middle of epoch 2 and ckpt-8 at its end) is copied and damaged for each case.
Training is deterministic, so a run resumed from ckpt-6 ends at the reference's weights.
"""

import errno
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo.training import TrainingError, recipes, train
from bnnzoo.training.rundir import RunDir
from tests.cli._run import run as run_cli
from tests.training._weights import read_weights

pytestmark = pytest.mark.xdist_group("damaged_checkpoints")  # the reference run is trained once

OVERRIDES = ["max_train_examples=128", "max_test_examples=32", "checkpoint_every_steps=2"]


def _config():
    return recipes.resolve("resnet_e18_imagenet_quick", OVERRIDES, epochs=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    train(_config(), out, verbose=0)
    return out


@pytest.fixture
def copy(reference, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    return out


def _assert_same_weights(run, reference):
    expected = read_weights(reference / "model.weights.h5")
    final = read_weights(run / "model.weights.h5")
    assert final.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(final[name], expected[name], err_msg=name)


def _unlist_newest(folder):
    index = folder / "checkpoint"
    text = re.sub(r'.*"ckpt-8"\n', "", index.read_text())
    index.write_text(text.replace("all_model_checkpoint_timestamps", "model_checkpoint_path: "
                                  '"ckpt-6"\nall_model_checkpoint_timestamps', 1))  # fmt: skip


DAMAGES = {
    "truncated data file": (
        lambda d: (d / "ckpt-8.data-00000-of-00001").write_bytes(
            (d / "ckpt-8.data-00000-of-00001").read_bytes()[:1000]
        ),
        "it cannot be read back",
    ),
    "index file deleted": (lambda d: (d / "ckpt-8.index").unlink(), "ckpt-8.index is missing"),
    "entry missing from TensorFlow's index": (_unlist_newest, "does not list it"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(
    damage, copy, reference, capsys
):
    make_damage, reason = DAMAGES[damage]
    make_damage(copy / "checkpoints")
    train({}, copy, resume=True, verbose=1)
    out, err = capsys.readouterr()
    line = next(line for line in err.splitlines() if "is damaged" in line)
    assert line.startswith(f"Checkpoint ckpt-8 in {copy / 'checkpoints'} is damaged (")
    assert reason in line and line.endswith("resuming from ckpt-6.")
    assert f"Resumed {copy} at epoch 2, step 2." in out
    assert list((copy / "checkpoints" / "damaged").glob("ckpt-8*"))
    assert [row["epoch"] for row in RunDir(copy).read_metrics()] == [1, 2]  # epoch 2 once
    _assert_same_weights(copy, reference)
    assert tf.train.latest_checkpoint(str(copy / "checkpoints")).endswith("ckpt-8")  # rewritten


def test_no_complete_checkpoint_is_refused_and_nothing_is_touched(copy, capsys):
    folder = copy / "checkpoints"
    (folder / "ckpt-8.index").unlink()
    data = folder / "ckpt-6.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    before = sorted(p.name for p in folder.iterdir())
    code, out, err = run_cli(capsys, "train", "--resume", str(copy))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "No complete checkpoint to resume from" in err
    assert "ckpt-8: its index file ckpt-8.index is missing" in err
    assert "ckpt-6: it cannot be read back" in err and "new directory" in err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_finished_epochs_without_checkpoints_are_refused(copy):
    shutil.rmtree(copy / "checkpoints")
    with pytest.raises(TrainingError, match="has finished epochs .* but no checkpoint"):
        train({}, copy, resume=True, verbose=0)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"model": "binary_resnet_e", ', "cannot be read as JSON (Expecting"),
        ("[1, 2]", "holds a JSON list, not the object of a run's config"),
        (
            None,
            "does not hold a usable config: Expected batch_size to be an int >= 1. Received: "
            "batch_size=0",
        ),
    ],
)
def test_a_corrupt_config_is_named(copy, capsys, text, message):
    config = copy / "config.json"
    if text is None:
        text = config.read_text().replace('"batch_size": 32', '"batch_size": 0')
    config.write_text(text)
    code, out, err = run_cli(capsys, "train", "--resume", str(copy))
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert f"'{config}'" in err and message in err


def test_a_full_disk_while_writing_a_checkpoint_keeps_the_previous_one(
    tmp_path, reference, monkeypatch
):
    real = tf.train.Checkpoint._write
    calls = []

    def full_disk(self, file_prefix, *args, **kwargs):
        calls.append(file_prefix)
        if len(calls) == 3:  # ckpt-6: half its data written, then the disk is full
            with open(f"{file_prefix}.data-00000-of-00001", "wb") as f:
                f.write(b"\0" * 100)
            raise tf.errors.ResourceExhaustedError(
                None, None, f"{file_prefix}_temp/part-00000-of-00001; No space left on device"
            )
        return real(self, file_prefix, *args, **kwargs)

    monkeypatch.setattr(tf.train.Checkpoint, "_write", full_disk)
    out = tmp_path / "run"
    with pytest.raises(TrainingError) as raised:
        train(_config(), out, verbose=0)
    message = str(raised.value)
    assert message.startswith(f"Could not write checkpoint ckpt-6 in '{out / 'checkpoints'}': ")
    assert "The disk is full" in message and f"--resume {out}` (from ckpt-4)" in message
    assert not list((out / "checkpoints").glob("ckpt-6*"))  # the partial file is gone
    monkeypatch.undo()
    train({}, out, resume=True, verbose=0)  # the previous checkpoint is whole
    _assert_same_weights(out, reference)


def test_a_full_disk_while_writing_the_model_leaves_no_half_file(tmp_path, reference, monkeypatch):
    def full_disk(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\3\4")
        raise OSError(errno.ENOSPC, "No space left on device", filepath)

    monkeypatch.setattr(tf.keras.Model, "save", full_disk)
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match="Could not write the trained model to .*No space left"):
        train(_config(), out, verbose=0)
    assert [p.name for p in out.iterdir() if p.name.startswith((".model", "model."))] == []
    monkeypatch.undo()
    train({}, out, resume=True, verbose=0)  # ckpt-8 is whole: the model is written this time
    _assert_same_weights(out, reference)


def test_a_missing_checkpoint_index_is_rebuilt_from_the_files(copy, reference, capsys):
    (copy / "checkpoints" / "checkpoint").unlink()
    train({}, copy, resume=True, verbose=1)
    out, err = capsys.readouterr()
    assert "checkpoints/checkpoint is missing or unreadable" in err
    assert f"Resumed {copy} at epoch 3, step 0." in out  # ckpt-8: the finished run's last
    assert tf.train.latest_checkpoint(str(copy / "checkpoints")).endswith("ckpt-8")
    _assert_same_weights(copy, reference)


def test_a_run_killed_before_its_first_checkpoint_says_it_starts_again(copy, reference, capsys):
    for name in ("checkpoints", "metrics.csv", "model.keras", "model.weights.h5"):
        path = copy / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    train({}, copy, resume=True, verbose=0)
    assert (
        "has no checkpoint yet (it stopped before the first one): the run starts from epoch 1"
        in (capsys.readouterr().err)
    )
    assert [row["epoch"] for row in RunDir(copy).read_metrics()] == [1, 2]
    _assert_same_weights(copy, reference)

"""Dataset names a command cannot use: refused in one line (exit status 2) with close names and
where the full list is, before anything is written or any work starts, and without the network."""

import socket

import pytest

from bnnzoo.training import data
from tests.cli._run import run

TRAIN = ["train", "--recipe", "quickstart", "--quick", "--out", "{out}"]
DWR = ["dwr", "--backbone", "resnet20", "--s", "3", "--out", "{out}"]


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the dataset check tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("command", [TRAIN, DWR], ids=["train", "dwr"])
@pytest.mark.parametrize(
    "dataset, close",
    [("tfds:no_such_set", None), ("tfds:fashion_mnst", "tfds:fashion_mnist"),
     ("fashion_mnst", "fashion_mnist")],
)  # fmt: skip
def test_unknown_dataset_is_one_line_and_writes_nothing(
    capsys, tmp_path, offline, command, dataset, close
):
    out = tmp_path / "out"
    argv = [arg.format(out=out) for arg in command]
    code, stdout, err = run(capsys, *argv, "--dataset", dataset)
    assert code == 2, err
    assert err.startswith(f"bnnzoo {command[0]}: error: Unknown dataset {dataset!r}")
    assert len(err.strip().splitlines()) == 1 and stdout == ""
    if close is None:
        assert "Did you mean" not in err
    else:
        assert f"Did you mean {close}" in err
    if dataset.startswith("tfds:"):
        assert "tfds.list_builders()" in err and "datasets/catalog" in err
    assert list(tmp_path.iterdir()) == []  # no run folder, no dwr.json


def test_evaluate_refuses_an_unknown_dataset_before_loading_the_model(capsys, tmp_path, offline):
    code, _, err = run(capsys, "evaluate", str(tmp_path), "--dataset", "tfds:cifar1O")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "Unknown dataset 'tfds:cifar1O'" in err and "Did you mean tfds:cifar10" in err


def test_known_names_pass_without_the_network(offline):
    for spec in ("digits", "fashion_mnist", "tfds:mnist", "tfds:cifar10/plain_text:3.0.2"):
        assert data.check_dataset(spec) == spec


def test_a_prepared_dataset_without_a_builder_is_accepted(tmp_path, offline):
    """tensorflow-datasets reads a dataset prepared in the data directory even where it has no
    builder for it: such a name is not refused."""
    with pytest.raises(ValueError, match="none is prepared in " + str(tmp_path)):
        data.check_dataset("tfds:my_own_set", tmp_path)
    (tmp_path / "my_own_set").mkdir()
    assert data.check_dataset("tfds:my_own_set", tmp_path) == "tfds:my_own_set"


def test_what_tfds_cannot_open_is_one_line(tmp_path, offline):
    """A registered name with a config tfds lacks: tfds' error, without its catalogue."""
    with pytest.raises(ValueError, match="tensorflow-datasets cannot open 'mnist/nope'") as err:
        data.load_dataset("tfds:mnist/nope", data_dir=tmp_path)
    assert "\n" not in str(err.value)

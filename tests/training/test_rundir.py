import json

import pytest

from bnnzoo.training.rundir import RunDir


def test_config_round_trip_is_atomic(tmp_path):
    run = RunDir(tmp_path / "new" / "run")
    assert not run.has_config()
    run.write_config({"epochs": 3, "shape": (28, 28)})
    assert run.has_config() and run.read_config() == {"epochs": 3, "shape": [28, 28]}
    run.write_config({"epochs": 4})
    assert json.loads(run.config_path.read_text()) == {"epochs": 4}
    assert [p.name for p in run.path.iterdir()] == ["config.json"]  # no temporary file left


def test_metrics_append_and_read(tmp_path):
    run = RunDir(tmp_path)
    run.append_metrics({"epoch": 1, "train_loss": 2.3456789, "test_accuracy": 0.5})
    run.append_metrics({"epoch": 2, "train_loss": 1.5, "test_accuracy": 0.625})
    assert run.read_metrics() == [
        {"epoch": 1.0, "train_loss": 2.34568, "test_accuracy": 0.5},
        {"epoch": 2.0, "train_loss": 1.5, "test_accuracy": 0.625},
    ]
    assert run.metrics_path.read_text().splitlines()[0] == "epoch,train_loss,test_accuracy"


def test_missing_files_say_what_the_directory_lacks(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no config.json: it is not a run directory"):
        run.read_config()
    with pytest.raises(FileNotFoundError, match="no metrics.csv"):
        run.read_metrics()


def test_curves_are_drawn_from_the_metrics(tmp_path):
    run = RunDir(tmp_path)
    for epoch in (1, 2):
        run.append_metrics({"epoch": epoch, "train_loss": 1.0 / epoch, "train_accuracy": 0.5,
                            "test_loss": 1.2 / epoch, "test_accuracy": 0.4})  # fmt: skip
    path = run.plot_curves()
    assert path == run.curves_path and path.read_bytes()[:4] == b"\x89PNG"

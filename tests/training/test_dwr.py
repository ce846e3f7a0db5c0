"""The DWR pipeline: every stage on digits at a tiny size, a killed run resumed at its stage."""

import json
from pathlib import Path

import pytest

from bnnzoo.training import TrainingError, jobs
from bnnzoo.training import dwr as pipeline

TINY = ["input_size=16", "max_train_examples=128", "max_test_examples=64", "batch_size=32"]


def _plan(**kwargs):
    kwargs = {"dataset": "digits", "pretrain_epochs": 1, "epochs": 1, "recipe": "dwr_cifar_quick",
              "overrides": TINY, "calibration_images": 32, **kwargs}  # fmt: skip
    return pipeline.make_plan("resnet20", 3, **kwargs)


class KilledError(Exception):
    pass


def test_pipeline_runs_every_stage_and_resumes_where_it_was_killed(tmp_path, monkeypatch):
    out = tmp_path / "dwr"
    real_train = jobs.train  # every run of the pipeline starts or resumes through jobs
    calls = []

    def train(config, run_dir, **kwargs):
        calls.append((Path(run_dir).name, kwargs.get("resume", False)))
        if Path(run_dir).name == "train" and len(calls) == 2:
            raise KilledError  # the process dies when the final training starts
        return real_train(config, run_dir, **kwargs)

    monkeypatch.setattr(jobs, "train", train)
    with pytest.raises(KilledError):
        pipeline.run_pipeline(_plan(), out, verbose=0)
    state = json.loads((out / "dwr.json").read_text())
    assert list(state["done"]) == ["reshape", "pretrain", "prune"]
    assert (out / "pruned.weights.h5").is_file()

    summary = pipeline.run_pipeline(None, out, resume=True, verbose=0)
    assert [name for name, _ in calls] == ["pretrain", "train", "train", "original"]
    assert summary["result"]["ops"] <= summary["budget"] == summary["original"]["ops"]
    assert summary["result"]["activations"] < summary["original"]["activations"]
    assert 0 <= summary["result"]["test_accuracy"] <= 1
    assert 0 <= summary["original"]["test_accuracy"] <= 1
    assert json.loads((out / "results.json").read_text()) == summary
    card = (out / "model_card.md").read_text()
    assert "OPs budget" in card and "stage3 192→" in card

    # a run killed after its last checkpoint resumes through `train(resume=True)`
    (out / "original" / "results.json").unlink()
    state = json.loads((out / "dwr.json").read_text())
    del state["done"]["original"]
    (out / "dwr.json").write_text(json.dumps(state))
    pipeline.run_pipeline(None, out, resume=True, verbose=0)
    assert calls[-1] == ("original", True)

    with pytest.raises(TrainingError, match="already holds a DWR pipeline"):
        pipeline.run_pipeline(_plan(), out, verbose=0)


def test_naive_reshaping_trains_without_pruning(tmp_path):
    summary = pipeline.run_pipeline(
        _plan(method="naive", train_original=False), tmp_path / "naive", verbose=0
    )
    assert summary["prune"] is None and summary["original"]["test_accuracy"] is None
    assert summary["result"]["spec"]["stages"] == [[28, 28], [55, 55], [111, 111]]
    assert not (tmp_path / "naive" / "pretrain").exists()


def test_bad_plans_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="Valid s for this backbone: 1, 1.5, 3"):
        pipeline.make_plan("resnet20", 2)
    with pytest.raises(ValueError, match="backbone"):
        pipeline.make_plan("resnet50", 2)
    with pytest.raises(ValueError, match="calibration_images"):
        _plan(calibration_images=4)
    with pytest.raises(ValueError, match="budget"):
        _plan(budget=-1)
    with pytest.raises(FileNotFoundError, match="Nothing to resume"):
        pipeline.run_pipeline(None, tmp_path, resume=True)

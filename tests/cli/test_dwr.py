"""``bnnzoo dwr``: a naive run prints the comparison (bad input: ``test_bad_inputs``)."""

import json

from tests.cli._run import run

TINY = ["--set", "input_size=16", "--set", "max_train_examples=128", "--set",
        "max_test_examples=64", "--set", "batch_size=32"]  # fmt: skip


def test_naive_run_prints_and_saves_original_and_result(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run(
        capsys, "dwr", "--backbone", "resnet20", "--s", "1.5", "--method", "naive",
        "--dataset", "digits", "--recipe", "dwr_cifar_quick", "--epochs", "1", "--no-original",
        "--quiet", "--out", str(out), *TINY,
    )  # fmt: skip
    assert code == 0
    assert "original" in stdout and "result" in stdout and "activations" in stdout
    saved = json.loads((out / "results.json").read_text())
    assert saved["plan"]["s"] == 1.5 and saved["result"]["spec"]["stages"][0] == [20] * 4

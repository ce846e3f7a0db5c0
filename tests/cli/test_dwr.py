"""``bnnzoo dwr``: bad input exits 2 with one line; a naive run prints the comparison."""

import json

import pytest

from tests.cli._run import run

TINY = ["--set", "input_size=16", "--set", "max_train_examples=128", "--set",
        "max_test_examples=64", "--set", "batch_size=32"]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backbone", "resnet20", "--s", "3"], "needs --backbone B, --s S and --out DIR"),
        (["--backbone", "resnet20", "--s", "2", "--out", "x"], "Valid s for this backbone"),
        (["--resume", "nowhere"], "Nothing to resume"),
        (["--resume", "x", "--backbone", "resnet20"], "do not combine"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, _, err = run(capsys, "dwr", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


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

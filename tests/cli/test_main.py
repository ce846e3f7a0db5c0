import os
import subprocess
import sys

import pytest

from tests.cli._run import run


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "binary_densenet_28"], "Nearest registered names: binary_densenet28"),
        (["summary", "binary_densenet28", "--input-shape", "32,32"], "three positive integers"),
        (["summary", "binary_densenet28", "--input-shape", "a,b,c"], "three positive integers"),
        (["summary", "binary_densenet28", "--input-shape", "4,4,3"], "at least 8×8"),
        (["summary", "binary_densenet28", "--num-classes", "0"], "positive integer"),
        (["list", "nothing*"], "No registered model matches"),
        (["quickstart", "--out", "/", "--dataset", "digits"], "is not empty"),
        (["quickstart", "--out", "/tmp/qs-never", "--threads", "0"], "threads to be an int >= 1"),
        (["predict", "binary_resnet_e18", "cat.png", "--top", "0"], "--top expects a positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_console_script_is_installed(how):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = os.path.join(os.path.dirname(sys.executable), "bnnzoo")
    command = [script] if how == "console script" else [sys.executable, "-m", "bnnzoo.cli"]
    result = subprocess.run(
        [*command, "summary", "no_such_model"], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bnnzoo summary: error: Unknown model 'no_such_model'. "
        + result.stderr.split("Unknown model 'no_such_model'. ", 1)[1].strip()
    )
    assert "Traceback" not in result.stderr


def test_reproduce_runs_the_paper_module_and_sets_the_exit_status(capsys, monkeypatch):
    from bnnzoo import reproduce

    monkeypatch.setattr(reproduce, "run", lambda paper: (f"table of {paper}", False))
    code, out, _ = run(capsys, "reproduce", "bitnet")
    assert (code, out.strip()) == (1, "table of bitnet")
    monkeypatch.setattr(reproduce, "run", lambda paper: ("ok", True))
    assert run(capsys, "reproduce", "bitnet")[0] == 0
    with pytest.raises(SystemExit):  # argparse refuses a paper without a module
        run(capsys, "reproduce", "nonesuch")


def test_train_quick_is_the_recipes_quick_variant(capsys, tmp_path):
    from bnnzoo.training import RunDir, recipes

    argv = ["train", "--recipe", "quickstart", "--quick", "--epochs", "1", "--quiet"]
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "run"))
    assert code == 0, err
    saved = RunDir(tmp_path / "run").read_config()
    assert saved["recipe"] == "quickstart_quick"
    expected = recipes.resolve("quickstart", quick=True, epochs=1)
    assert saved["model_kwargs"] == expected["model_kwargs"]
    assert saved["max_train_examples"] == expected["max_train_examples"]
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "run"), "--quick")
    assert code == 2 and "do not combine it with" in err

import os
import subprocess
import sys

from tests.cli._run import run


def test_console_script_is_installed():
    """The installed ``bnnzoo`` script, on a bad input: one line, no traceback. (``python -m
    bnnzoo.cli`` runs the same ``main``: tests/test_console.py runs both ways.)"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = os.path.join(os.path.dirname(sys.executable), "bnnzoo")
    result = subprocess.run(
        [script, "summary", "no_such_model"], capture_output=True, text=True, env=env,
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
    code, _, err = run(capsys, "reproduce", "nonesuch")  # argparse: a paper without a module
    assert code == 2 and "invalid choice: 'nonesuch'" in err


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

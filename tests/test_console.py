"""What a person sees: the ``bnnzoo`` command prints its results and no log noise unless
``--verbose``; a progress bar redraws only in a terminal."""

import io
import logging
import os
import pty
import re
import subprocess
import sys
import warnings

import pytest

from bnnzoo import _environment
from bnnzoo.cli import build_parser, main
from bnnzoo.cli._common import drop_native_log_lines, quiet_python_logs
from bnnzoo.training.loop import redraws

CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), "bnnzoo")
# what TensorFlow, its converters, Keras and AutoGraph print when nobody quiets them
NOISE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TensorFlow's C++ log lines
    r"|^[IWEF]\d{4} \d\d:\d\d:\d\d"  # absl's C++ log lines (the MLIR converter's)
    r"|^WARNING: All log messages before absl|^INFO: Created TensorFlow Lite"
    r"|local_rendezvous|cpu_feature_guard|cuda|cuFFT|cuDNN|cuBLAS|TensorRT|oneDNN"
    r"|Compiled the loaded model|WARNING:absl|WARNING:tensorflow|AutoGraph|could not transform",
    re.MULTILINE,
)
TF_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ", re.MULTILINE)
pytestmark = pytest.mark.xdist_group("console")  # the module fixtures are built once


def bnnzoo(*argv, how="console script"):
    """Run the command as a person does, with TensorFlow's log level left to the command."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    command = [CONSOLE_SCRIPT] if how == "console script" else [sys.executable, "-m", "bnnzoo.cli"]
    result = subprocess.run([*command, *map(str, argv)], capture_output=True, text=True, env=env,
                            timeout=600)  # fmt: skip
    return result, result.stdout + result.stderr


def assert_quiet(output: str) -> None:
    noise = [line for line in output.splitlines() if NOISE.search(line)]
    assert not noise, "\n".join(noise)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from bnnzoo import zoo

    model = zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(8, 16), input_shape=(16, 16, 3),
                              num_classes=4)  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_summary_prints_the_table_and_no_noise(how):
    result, output = bnnzoo("summary", "binary_resnet_e18", "--input-shape", "32,32,3", how=how)
    assert result.returncode == 0, output
    assert "binary_resnet_e18" in result.stdout and "binary parameters" in result.stdout
    assert result.stderr == ""
    assert_quiet(output)


def test_verbose_brings_tensorflows_logs_back():
    result, output = bnnzoo("--verbose", "summary", "binary_resnet_e18", "--input-shape", "32,32,3")
    assert result.returncode == 0, output
    assert TF_LOG_LINE.search(result.stderr), result.stderr


@pytest.mark.parametrize("fmt", ["tflite", "openvino"])
def test_export_prints_its_report_and_no_noise(saved_model, tmp_path, fmt):
    out = tmp_path / ("tiny.tflite" if fmt == "tflite" else "ov")
    result, output = bnnzoo("export", saved_model, "--format", fmt, "--out", out, "--n", 2,
                            how="python -m")  # fmt: skip
    assert result.returncode == 0, output
    assert "binary" in result.stdout and str(out) in result.stdout
    assert_quiet(output)


def test_bench_prints_its_table_and_no_noise(saved_model):
    # the float TFLite engine runs TensorFlow's converter and interpreter: the chattiest path
    result, output = bnnzoo("bench", saved_model, "--runs", 2, "--warmup", 1,
                            "--engines", "keras,tflite")  # fmt: skip
    assert result.returncode == 0, output
    assert "float TFLite (XNNPACK)" in result.stdout and "median ms" in result.stdout
    assert_quiet(output)


def test_train_to_a_pipe_prints_one_line_per_epoch_and_no_noise(tmp_path):
    result, output = bnnzoo(
        "train", "--recipe", "quickstart", "--quick", "--epochs", 2, "--dataset", "digits",
        "--set", "max_train_examples=128", "--set", "input_size=16", "--out", tmp_path / "run",
    )  # fmt: skip
    assert result.returncode == 0, output
    assert_quiet(output)
    assert "\r" not in output and "\b" not in output
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["Epoch 1/2", "Epoch 2/2"]
    assert all("loss" in line and "test accuracy" in line for line in lines[:-1])
    assert lines[-1].startswith("test accuracy ") and "after 2 epochs" in lines[-1]


def test_a_library_user_keeps_tensorflows_log_settings():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import os, bnnzoo; print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=300)  # fmt: skip
    assert result.stdout.strip() == "None", result.stderr


@pytest.mark.parametrize(
    "argv, orig_argv, expected",
    [
        (["/venv/bin/bnnzoo", "list"], ["/venv/bin/python", "/venv/bin/bnnzoo", "list"], True),
        (["C:\\venv\\Scripts\\bnnzoo.exe", "list"], [], True),
        (["-m", "list"], ["python", "-m", "bnnzoo.cli", "list"], True),
        (["-m", "list"], ["python", "-u", "-mbnnzoo.cli", "list"], True),
        (["-m"], ["python", "-m", "pytest"], False),
        (["-c", "-m", "bnnzoo.cli"], ["python", "-c", "import bnnzoo", "-m", "bnnzoo.cli"], False),
        (["my_script.py"], ["python", "my_script.py"], False),
        ([], [], False),
    ],
)
def test_is_command(argv, orig_argv, expected):
    assert _environment.is_command(argv, orig_argv) is expected


def test_quiet_native_logs_only_for_the_command_and_only_when_unset(monkeypatch):
    command = (["/venv/bin/bnnzoo", "list"], [])
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert not _environment.quiet_native_logs(["script.py"], ["python", "script.py"])
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert not _environment.quiet_native_logs(["/venv/bin/bnnzoo", "--verbose", "list"], [])
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert _environment.quiet_native_logs(*command)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's choice stands
    assert not _environment.quiet_native_logs(*command)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


@pytest.mark.parametrize(
    "argv, verbose",
    [(["recipes"], False), (["--verbose", "recipes"], True), (["recipes", "--verbose"], True)],
)
def test_verbose_goes_before_or_after_the_command(argv, verbose):
    assert build_parser().parse_args(argv).verbose is verbose


def test_quiet_python_logs_hides_third_party_warnings_and_restores_everything(capsys):
    tf_logger = logging.getLogger("tensorflow")
    level, filters = tf_logger.level, list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_python_logs():
            assert tf_logger.level == logging.ERROR
            assert logging.getLogger("absl").level == logging.ERROR
            for module in ("larq.quantizers", "bnnzoo.training.loop"):
                warnings.warn_explicit("a warning", UserWarning, "x.py", 1, module=module)
    assert [w.filename for w in caught] == ["x.py"] and len(caught) == 1
    assert (tf_logger.level, warnings.filters) == (level, filters)
    assert main(["recipes"]) == 0 and tf_logger.level == level
    capsys.readouterr()


def test_a_progress_bar_redraws_only_in_a_terminal():
    assert not redraws(io.StringIO())
    with open(os.devnull, "w") as devnull:
        assert not redraws(devnull)
    leader, follower = pty.openpty()
    with open(follower, "w") as terminal:
        assert redraws(terminal)
    os.close(leader)


def test_native_log_lines_are_dropped_and_everything_else_kept(capfd):
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"W0000 00:00:1796036686.258561   13085 tf_tfl_flatbuffer_helpers.cc:390] Ignored "
        b"output_format.\n",
        b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
        b"2026-11-30 10:31:45.105108: W tensorflow/core/framework/local_rendezvous.cc:404] Local "
        b"rendezvous is aborting with status: OUT_OF_RANGE: End of sequence\n",
        b"a message that matters\n",
        b"F0000 00:00:1796036686.258561   13085 some.cc:1] Check failed: a fatal error\n",
    ]
    with drop_native_log_lines():
        for line in lines:
            os.write(2, line)
    assert capfd.readouterr().err.splitlines() == [
        "a message that matters",
        "F0000 00:00:1796036686.258561   13085 some.cc:1] Check failed: a fatal error",
    ]
    with drop_native_log_lines(enabled=False):  # --verbose
        os.write(2, lines[2])
    assert capfd.readouterr().err == lines[2].decode()

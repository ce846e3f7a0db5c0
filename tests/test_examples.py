"""The scripts in examples/, run as a user runs them (a subprocess), at small sizes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bnnzoo.converters.bench.engines import ENGINES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# the export and engine examples run on the model of tests/conftest.py's session fixture
# `quickstart_run`, which tests/test_quickstart.py checks: one group, one worker, one run
pytestmark = pytest.mark.xdist_group("quickstart")


def run_example(script: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    return result


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Two classes of small noisy images, one subfolder each: reddish and bluish."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name, colour in (("red", (200, 40, 40)), ("blue", (40, 40, 200))):
        (root / name).mkdir()
        for i in range(16):
            pixels = np.clip(rng.normal(colour, 40, size=(24, 24, 3)), 0, 255)
            Image.fromarray(pixels.astype("uint8")).save(root / name / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def trained_model(quickstart_run):
    """A small binary ResNetE trained for two epochs on digits (16×16×1), saved by the run: the
    quickstart's (its ``quickstart`` recipe at tests/conftest.py's QUICKSTART_SMALL sizes)."""
    out, result, _ = quickstart_run
    assert result["dataset"] == "digits" and result["input_shape"] == [16, 16, 1]
    return out / "run" / "model.keras"


def test_finetune_image_folder_trains_and_saves(image_folder, tmp_path):
    out = tmp_path / "finetuned.keras"
    # DWR's released ResNet-20 at s=3 (one binary block per stage: 29 Keras layers, 0.41 M
    # parameters at 2 classes) instead of the default ResNetE18 (66 layers, 11 M): the same
    # script, fewer layers to build and to trace for each of the two fits (most of its time)
    result = run_example(
        "finetune_image_folder.py", image_folder, "--out", out, "--weights", "none",
        "--model", "dwr_resnet20_s3", "--image-size", 32, "--epochs", 2, "--finetune-epochs", 1,
        "--batch-size", 8,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    first, last = map(float, re.search(r"training loss (\S+) -> (\S+) over 3 epochs",
                                       result.stdout).groups())  # fmt: skip
    assert last < first
    accuracy = float(re.search(r"validation accuracy (\S+),", result.stdout).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert "classes: blue, red" in result.stdout
    assert out.is_file()


def test_export_for_phone_writes_a_verified_tflite(trained_model, image_folder, tmp_path):
    out = tmp_path / "digits.tflite"
    result = run_example("export_for_phone.py", trained_model, "--out", out,
                         "--images", image_folder, "--max-images", 8)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert out.is_file() and out.stat().st_size > 0
    assert "LceBconv2d: " in result.stdout and "(100.0%)" in result.stdout
    assert re.search(r"verify \(LCE interpreter vs Keras, \d+ inputs\).*: passed", result.stdout)
    assert "your 8 images: LCE and Keras agree on" in result.stdout
    assert result.stdout.strip().endswith(f"{out}: verified")


def test_pick_engine_names_one_of_the_engines(trained_model):
    result = run_example("pick_engine.py", trained_model, "--runs", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r"fastest engine on this machine: (\S+) \((\S+) ms median\)", result.stdout)
    assert found, result.stdout[-2000:]
    assert found.group(1) in ENGINES and float(found.group(2)) > 0

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bnnzoo import zoo
from tests.cli._run import run
from tests.conftest import randomize


@pytest.mark.parametrize("fmt, out_name", [("tflite", "m.tflite"), ("openvino", "ir")])
def test_export_a_saved_model(capsys, tmp_path, rng, fmt, out_name):
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(16, 16, 3), num_classes=4
    )
    randomize(model, rng)  # trained-looking weights, so the numeric check runs
    model.save(tmp_path / "m.keras")
    code, out, err = run(capsys, "export", str(tmp_path / "m.keras"), "--format", fmt,
                         "--out", str(tmp_path / out_name))  # fmt: skip
    assert code == 0, err
    assert "passed" in out
    if fmt == "tflite":
        assert "(100.0%)" in out and (tmp_path / "m.tflite").stat().st_size > 0
    else:
        assert "BinaryConvolution" in out and list((tmp_path / "ir").glob("*.xml"))


@pytest.fixture
def tiny_saved(tmp_path):
    """A two-stage ResNetE at 32×32, untrained, saved as .keras."""
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(32, 64), input_shape=(32, 32, 3), num_classes=10
    )
    path = tmp_path / "tiny.keras"
    model.save(path)
    return path


def test_export_openvino_with_an_int8_stem_calibrated_on_real_images(capsys, tmp_path, rng):
    from sklearn.datasets import load_digits

    model = zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(16, 16, 3), num_classes=4
    )
    randomize(model, rng)
    model.save(tmp_path / "m.keras")
    digits = np.kron(load_digits().images[:100] / 8.0 - 1, np.ones((1, 2, 2)))  # 16×16
    np.save(tmp_path / "calib.npy", np.repeat(digits[..., None], 3, -1).astype(np.float32))
    code, out, err = run(capsys, "export", str(tmp_path / "m.keras"), "--format", "openvino",
                         "--out", str(tmp_path / "ir"), "--int8-stem",
                         str(tmp_path / "calib.npy"))  # fmt: skip
    assert code == 0, err
    assert "BinaryConvolution, int8 stem" in out and "from 100 calibration images" in out
    assert "OpenVINO CPU (f32, int8 stem) vs Keras, 64 inputs" in out and "FAILED" not in out
    assert 'levels="256"' in next((tmp_path / "ir").glob("*.xml")).read_text()


def test_export_int8_range_runs_a_real_int8_conversion(capsys, tmp_path, tiny_saved):
    out_path = tmp_path / "int8.tflite"
    code, out, err = run(capsys, "export", str(tiny_saved), "--format", "tflite",
                         "--out", str(out_path), "--int8-range=-3,3")  # fmt: skip
    assert code == 0, err
    assert "int8 with binary ops" in out and "QUANTIZE" in out and "LceBconv2d 2" in out
    assert out_path.read_bytes()[4:8] == b"TFL3"


def test_export_that_disagrees_prints_the_report_and_exits_1(capsys, tmp_path, rng, monkeypatch):
    from bnnzoo.converters.lce import runtime as lce_runtime

    model = zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(16, 16, 3), num_classes=4
    )
    randomize(model, rng)
    model.save(tmp_path / "m.keras")
    real = lce_runtime.lce_engine
    monkeypatch.setattr(lce_runtime, "lce_engine", lambda fb, **kw: lambda x: real(fb)(x) + 100)
    code, out, err = run(capsys, "export", str(tmp_path / "m.keras"), "--format", "tflite",
                         "--out", str(tmp_path / "m.tflite"))  # fmt: skip
    assert code == 1
    assert "FAILED" in out and "LceBconv2d" in out and "(100.0%)" in out  # the whole report
    assert "verification failed" in err and "disagrees with the Keras model" in err
    assert (tmp_path / "m.tflite").exists()  # left for inspection


def test_bench_prints_a_table(capsys, tiny_saved):
    code, out, err = run(capsys, "bench", str(tiny_saved), "--engines", "keras,lce", "--runs", "2")
    assert code == 0, err
    assert "Keras (TF graph)" in out and "LCE interpreter" in out and "% of limit" in out
    assert "OpenVINO" not in out.split("MACs per image")[0]  # only the two asked for
    assert "limit: measured peaks" in out and "use on this machine for this model" in out


def test_bench_json_is_one_object_on_stdout(capsys, tiny_saved):
    code, out, err = run(capsys, "bench", str(tiny_saved), "--engines", "keras,openvino",
                         "--runs", "2", "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert set(data["engines"]) == {"keras", "openvino"} and data["runs"] == 2
    assert data["ratio_to_lce"] == {} and data["ratio_to_float_tflite"] == {}
    assert data["randomized_weights"] is True and "bench: timing" in err


def test_bench_batch_blocks_and_both_openvino_precisions(capsys, tiny_saved):
    code, out, err = run(capsys, "bench", str(tiny_saved), "--engines", "tflite,openvino-f32,"
                         "openvino-bf16", "--runs", "2", "--block", "1", "--warmup", "0",
                         "--batch", "2", "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert list(data["engines"]) == ["tflite", "openvino-f32", "openvino-bf16"]
    assert (data["batch"], data["block"], data["warmup"]) == (2, 1, 0)
    assert data["engines"]["openvino-f32"]["precision"] == "f32"
    assert all(e["images_per_s"] > 0 and e["alone_median_ms"] > 0 for e in data["engines"].values())
    assert data["recommended_engine"] in data["engines"]
    assert data["limit"]["binary_gmacs_per_s"] > 0 and "f32" in data["limit"]["float_gmacs_per_s"]


def test_export_passes_precision_to_openvino_only_when_given(capsys, tmp_path, monkeypatch):
    from bnnzoo.converters import openvino as ovx

    calls = []
    monkeypatch.setattr(ovx, "export_openvino", lambda *a, **kw: calls.append(kw) or "exported")
    argv = ["export", "binary_resnet_e18", "--format", "openvino", "--out", str(tmp_path)]
    assert run(capsys, *argv)[:2] == (0, "exported\n")
    assert run(capsys, *argv, "--precision", "bf16")[:2] == (0, "exported\n")
    assert "precision" not in calls[0] and calls[1]["precision"] == "bf16"


def test_bench_json_console_script_stdout_is_pure_json(tiny_saved):
    """Native libraries' output (converters, runtimes) must not reach stdout either."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}  # let TensorFlow log as much as it can
    script = os.path.join(os.path.dirname(sys.executable), "bnnzoo")
    result = subprocess.run(
        [script, "bench", str(tiny_saved), "--engines", "lce", "--runs", "1", "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["model"] == "binary_resnet_e"

"""export_tflite: load or build, convert, inspect and check, in one report."""

import pytest

import bnnzoo.converters.lce.runtime as lce_runtime
from bnnzoo.converters.lce import export_tflite
from bnnzoo.converters.verify import VerificationError
from tests.converters.lce._tiny import TINY, converted


def test_export_from_a_saved_model_file(tmp_path):
    model, _ = converted("resnet_e", "plain")
    saved = tmp_path / "tiny.keras"
    model.save(saved)
    out = tmp_path / "tiny.tflite"
    report = export_tflite(saved, out, n=2)
    assert out.read_bytes()[4:8] == b"TFL3"
    assert report.macs.share_percent == pytest.approx(100.0)
    assert report.histogram["LceBconv2d"] == 2 and report.verify.passed
    assert report.size.file_bytes == out.stat().st_size
    text = str(report)
    assert "LceBconv2d 2" in text and "(100.0%)" in text and "passed" in text


def test_export_fails_loudly_but_keeps_the_file_when_verify_disagrees(tmp_path, monkeypatch):
    model, _ = converted("resnet_e", "plain")
    real = lce_runtime.lce_engine
    monkeypatch.setattr(lce_runtime, "lce_engine", lambda fb, **kw: lambda x: real(fb)(x) + 100)
    out = tmp_path / "tiny.tflite"
    with pytest.raises(VerificationError, match="disagrees with the Keras model") as info:
        export_tflite(model, out, n=2)
    assert out.exists()
    report = info.value.export_report
    assert report.macs.share_percent == pytest.approx(100.0) and report.path == out
    assert not report.verify.passed and report.verify.max_abs_diff == pytest.approx(100, rel=1e-3)
    assert "FAILED" in str(info.value)


def test_an_untrained_model_is_checked_through_its_conversion():
    report = export_tflite(TINY["resnet_e"](), None)
    assert report.verify is None and report.macs.share_percent == pytest.approx(100.0)
    assert report.conversion.passed and report.conversion.exact
    assert report.conversion.rounding_exact == report.conversion.n == 8
    assert report.margins.smallest > 1e-6 and report.margins.sign_inputs == 2
    text = str(report)
    assert "check of your weights skipped: the model is untrained" in text
    assert "conversion check, tie-free weights: 2 sign inputs" in text

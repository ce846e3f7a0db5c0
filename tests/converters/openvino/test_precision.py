"""The float precision of the compiled model: ``auto`` per CPU flags, bf16 checked against Keras
by its stated criteria (``verify.tolerance("bf16")``), and the export report naming it."""

from __future__ import annotations

import numpy as np
import pytest

import bnnzoo.converters.openvino.export as ov_export
from bnnzoo.converters import VerificationError
from bnnzoo.converters import openvino as ovx
from bnnzoo.converters.verify import tolerance
from tests.converters.openvino._models import CONFIGS, randomized

needs_bf16 = pytest.mark.skipif(
    ovx.resolve_precision("auto") != "bf16",
    reason="the CPU has neither AVX512_BF16 nor AMX: the plugin has no native bf16 there",
)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"avx512f", "avx512_bf16"}, "bf16"),
        ({"amx_bf16", "amx_tile"}, "bf16"),
        ({"avx512f", "avx512_vpopcntdq"}, "f32"),
        ({"avx2"}, "f32"),
        (set(), "f32"),
    ],
)
def test_auto_resolves_per_cpu_flags(flags, expected):
    assert ovx.resolve_precision("auto", flags) == expected
    assert ovx.resolve_precision("f32", flags) == "f32"
    assert ovx.resolve_precision("bf16", flags) == "bf16"


def test_unknown_precision_is_refused():
    expected = r"precision to be one of \('f32', 'bf16', 'auto'\)\. Received: precision='fp16'"
    with pytest.raises(ValueError, match=expected):
        ovx.resolve_precision("fp16")
    with pytest.raises(ValueError, match="precision.*'int8'"):
        ovx.export_openvino(randomized(CONFIGS["resnet_e"]), None, precision="int8")


@needs_bf16
def test_bf16_passes_its_criteria_and_a_larger_error_fails(monkeypatch):
    model = randomized(CONFIGS["resnet_e"])
    compiled = ovx.compile(ovx.to_openvino(model), precision="bf16")
    report = ovx.verify_openvino(model, compiled, n=8)
    assert report.passed, report.failure_message()
    assert report.engine == "OpenVINO CPU (bf16)"
    assert report.rounding_rtol == tolerance("bf16").rounding_rtol
    assert report.max_abs_diff > 0  # it did compute in bf16: float32 agrees to ~1e-7

    # an error of 1.5x the bf16 criteria on every sample fails
    real = ov_export.predict
    criteria = tolerance("bf16")

    def off(compiled, x):
        out = real(compiled, x)
        scale = np.abs(out).max(axis=1, keepdims=True)
        return out + 1.5 * (criteria.atol + criteria.rtol * scale) * (np.arange(10) == 0)

    monkeypatch.setattr(ov_export, "predict", off)
    failed = ovx.verify_openvino(model, compiled, n=8, raise_on_failure=False)
    assert not failed.passed and "differs by max |diff|" in failed.failure_message()
    with pytest.raises(VerificationError, match=r"OpenVINO CPU \(bf16\) disagrees"):
        ovx.export_openvino(model, None, n=4, precision="bf16")


@needs_bf16
def test_export_in_bf16_checks_the_weights_in_bf16_and_the_conversion_in_f32(tmp_path):
    model = randomized(CONFIGS["densenet_dilated"])
    report = ovx.export_openvino(model, tmp_path, n=4, precision="auto")
    assert report.precision == "bf16" and report.verify.passed and report.conversion.passed
    assert report.conversion.exact and report.conversion.rounding_exact == 4
    text = str(report)
    assert "compiled and verified in bf16" in text
    assert "your weights: verify (OpenVINO CPU (bf16) vs Keras" in text
    assert "conversion check, tie-free weights" in text and "OpenVINO CPU (f32) vs Keras" in text
    f32 = ovx.export_openvino(model, None, n=2, precision="f32")
    assert f32.verify.engine == "OpenVINO CPU (f32)" and "verified in f32" in str(f32)


@needs_bf16
def test_an_untrained_model_in_bf16_is_judged_by_its_conversion_check(monkeypatch):
    model = CONFIGS["resnet_e"]()  # BatchNorms at their initial statistics
    real = ov_export.predict

    def off_in_bf16(compiled, x):  # bf16 far off, as deep untrained models are
        out = real(compiled, x)
        if ov_export.compiled_precision(compiled) == "bf16":
            out = out + np.abs(out).max() * (np.arange(out.shape[1]) == 0)
        return out

    monkeypatch.setattr(ov_export, "predict", off_in_bf16)
    report = ovx.export_openvino(model, None, n=4, precision="bf16")  # does not raise
    assert not report.verify.passed and report.conversion.passed
    assert not report.weights_check_judged and report.judged_checks == (report.conversion,)
    assert "your weights is reported, not judged: the model looks untrained" in str(report)
    # a trained (here: randomized) model is judged in bf16 too
    with pytest.raises(VerificationError, match=r"OpenVINO CPU \(bf16\) disagrees"):
        ovx.export_openvino(randomized(CONFIGS["resnet_e"]), None, n=4, precision="bf16")

"""to_openvino, save, verify_openvino and export_openvino: the IR on disk, checked against Keras,
with its report."""

from __future__ import annotations

import numpy as np
import pytest

import bnnzoo.converters.openvino.export as ov_export
from bnnzoo.converters import VerificationError
from bnnzoo.converters import openvino as ovx
from tests.converters.openvino._models import ATOL, CONFIGS, RTOL, randomized


def test_ir_round_trip(tmp_path):
    model = randomized(CONFIGS["resnet_e"])
    ov_model = ovx.to_openvino(model, tmp_path)
    xml = tmp_path / f"{model.name}.xml"
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    x = np.random.default_rng(5).normal(size=(2, 16, 16, 3)).astype(np.float32)
    from_memory = ovx.predict(ovx.compile(ov_model), x)
    from_file = ovx.compile(xml)
    np.testing.assert_array_equal(ovx.predict(from_file, x), from_memory)
    assert set(ovx.binary_ops_in_runtime(from_file)) == set(ovx.binary_conv_layers(model))


def test_export_openvino_writes_checks_and_reports(tmp_path):
    model = randomized(CONFIGS["densenet_dilated"])
    report = ovx.export_openvino(model, tmp_path / "bdn.xml", n=2, atol=ATOL, rtol=RTOL)
    assert (tmp_path / "bdn.xml").is_file() and (tmp_path / "bdn.bin").is_file()
    assert report.all_binary and report.verify.passed
    assert report.histogram["BinaryConvolution"] == 4
    assert "4 of 4 binary layers execute as BinaryConvolution" in str(report)
    with pytest.raises(ValueError, match="only apply when building a zoo model"):
        ovx.export_openvino(model, None, num_classes=3)


def test_export_openvino_raises_when_keras_disagrees(tmp_path, monkeypatch):
    model = randomized(CONFIGS["resnet_e"])
    real = ov_export.predict
    monkeypatch.setattr(ov_export, "predict", lambda compiled, x: real(compiled, x) + 100)
    with pytest.raises(VerificationError, match=r"OpenVINO CPU \(f32\) disagrees") as info:
        ovx.export_openvino(model, tmp_path, n=2)
    assert (tmp_path / f"{model.name}.xml").is_file()  # left for inspection
    assert info.value.export_report.all_binary and not info.value.report.passed


def test_bad_arguments(tmp_path):
    model = randomized(CONFIGS["resnet_e"])
    with pytest.raises(ValueError, match="batch_size to be an int >= 1.*static batch size"):
        ovx.to_openvino(model, batch_size=0)
    with pytest.raises(ValueError, match="Keras model"):
        ovx.to_openvino("binary_densenet28")
    with pytest.raises(ValueError, match="end in '.xml'"):
        ovx.save(ovx.to_openvino(model), tmp_path / "model.onnx")

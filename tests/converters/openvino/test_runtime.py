"""Compiling, predicting and looking inside the compiled model: runtime nodes, profiles, and
the arguments each refuses."""

from __future__ import annotations

import numpy as np
import pytest

from bnnzoo.converters import openvino as ovx
from tests.converters.openvino._models import CONFIGS, randomized


def test_profile_names_binary_convolutions():
    model = randomized(CONFIGS["resnet_e"])
    compiled = ovx.compile(ovx.to_openvino(model), profiling=True)
    x = np.zeros((1, 16, 16, 3), np.float32)
    times = ovx.profile(compiled, x, runs=2)
    assert {t.name for t in times if t.node_type == "BinaryConvolution"} == set(
        ovx.binary_conv_layers(model)
    )
    summary = ovx.summarize_profile(times)
    assert summary["BinaryConvolution"] > 0
    assert list(summary.values()) == sorted(summary.values(), reverse=True)


def test_predict_runs_a_larger_batch_in_chunks_of_the_exported_batch_size():
    model = randomized(CONFIGS["resnet_e"])
    x = np.random.default_rng(6).normal(size=(4, 16, 16, 3)).astype(np.float32)
    one = ovx.predict(ovx.compile(ovx.to_openvino(model)), x)
    two = ovx.compile(ovx.to_openvino(model, batch_size=2))
    np.testing.assert_allclose(ovx.predict(two, x), one, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="batch size 2; 3 inputs do not split"):
        ovx.predict(two, x[:3])


def test_bad_arguments():
    model = randomized(CONFIGS["resnet_e"])
    compiled = ovx.compile(ovx.to_openvino(model))
    with pytest.raises(ValueError, match="threads to be an int >= 1"):
        ovx.compile(ovx.to_openvino(model), threads=0)
    with pytest.raises(ValueError, match="profiling=True"):
        ovx.profile(compiled, np.zeros((1, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="runs to be an int >= 1"):
        ovx.profile(compiled, np.zeros((1, 16, 16, 3), np.float32), runs=0)
    with pytest.raises(FileNotFoundError):
        ovx.compile("no/such/model.xml")
    with pytest.raises(ValueError, match=r"shape \(n, 16, 16, 3\)"):
        ovx.predict(compiled, np.zeros((1, 8, 8, 3), np.float32))

"""The IGP networks (bnnzoo.zoo.igp) on the OpenVINO path: Keras's outputs, every binary conv on
packed bits. Tolerances: see ``_models``."""

import pytest

from bnnzoo import zoo
from bnnzoo.converters import openvino as ovx
from tests.converters.openvino._models import ATOL, RTOL, randomized

CONFIGS = {
    "igp_resnet": lambda: zoo.IGPResNet(
        width=8, columns=2, blocks=(1, 1), input_shape=(16, 16, 3), num_classes=10,
        classifier_activation=None,
    ),
    "igp_densenet": lambda: zoo.IGPDenseNet(
        blocks_per_stage=(1, 1), reduction=(2,), growth_rate=16, input_shape=(16, 16, 3),
        num_classes=10, classifier_activation=None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_igp_models_match_keras_and_run_binary(config):
    model = randomized(CONFIGS[config])
    compiled = ovx.compile(ovx.to_openvino(model), threads=2)
    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed, report.failure_message()
    assert report.top1_agreement == 1.0
    expected = set(ovx.binary_conv_layers(model))
    assert expected
    assert set(ovx.binary_ops_in_runtime(compiled)) == expected
    for name, kernel in ovx.binary_ops_in_runtime(compiled).items():
        assert kernel.endswith("u1"), f"{name} ran as {kernel}, not on packed bits"

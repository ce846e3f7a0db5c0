"""The IGP networks (bnnzoo.zoo.igp) through LCE: every binary MAC in LceBconv2d, outputs as
Keras computes them."""

import pytest

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from bnnzoo.converters.lce import binary_mac_report, op_histogram, to_tflite, verify_tflite
from bnnzoo.converters.verify import randomize_weights

TINY = {
    "igp_resnet": lambda: zoo.IGPResNet(
        width=8, columns=2, blocks=(1, 1), input_shape=(16, 16, 3), num_classes=10,
        classifier_activation=None,
    ),
    "igp_resnet_no_join": lambda: zoo.IGPResNet(
        width=8, columns=2, blocks=(2, 1), stage_join=False, input_shape=(16, 16, 3),
        num_classes=10, classifier_activation=None,
    ),
    "igp_densenet": lambda: zoo.IGPDenseNet(
        blocks_per_stage=(1, 1), reduction=(2,), growth_rate=16, input_shape=(16, 16, 3),
        num_classes=10, classifier_activation=None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("config", sorted(TINY))
def test_every_binary_mac_runs_in_lce_bconv2d(config):
    model = randomize_weights(TINY[config](), seed=1)
    flatbuffer = to_tflite(model)
    binary_layers = [l for l in count_model(model).layers if l.binary_macs]
    assert op_histogram(flatbuffer)["LceBconv2d"] == len(binary_layers) > 0
    report = binary_mac_report(model, flatbuffer)
    assert report.share_percent == pytest.approx(100.0)
    assert report.fully_fused and report.unfused == ()
    verify_tflite(model, flatbuffer, n=4, atol=1e-4, rtol=1e-4)

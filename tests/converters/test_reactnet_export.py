"""ReActNet (Liu, Shen, Savvides, Cheng 2020) through both engines, judged by the exact conversion
check: RSign's threshold is moved like a BatchNorm offset to leave every sign input tie-free, a
correct conversion agrees with Keras to float rounding on every input, and one that drops the
thresholds (the exporter forgetting to fold RSign, or a model converted without them) fails."""

import numpy as np
import pytest

from bnnzoo import zoo
from bnnzoo.analysis import is_binary
from bnnzoo.converters import lce_engine, to_tflite
from bnnzoo.converters.exact import check_conversion, sign_inputs
from bnnzoo.converters.lce import binary_mac_report, op_histogram
from bnnzoo.layers import RPReLU, RSign

ov = pytest.importorskip("bnnzoo.converters.openvino")
from bnnzoo.converters.openvino import binary_layers  # noqa: E402

# the module fixture is a converted model: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("reactnet_export")

SMALL = (32, 32, 3)


@pytest.fixture(scope="module")
def model():
    """ReActNet-A with a block of each kind: doubling in place, doubling with stride 2, keeping."""
    return zoo.ReActNetA(stem_width=8, widths=(16, 32, 32), input_shape=SMALL, num_classes=10)


def _openvino(model):
    compiled = ov.compile(ov.to_openvino(model))
    return lambda batch: ov.predict(compiled, batch)


def _without_rsign_thresholds(convert):
    """``convert`` applied to the model with every RSign threshold set to 0."""

    def run(model):
        rsigns = [layer for layer in model.layers if isinstance(layer, RSign)]
        own = [layer.alpha.numpy() for layer in rsigns]
        for layer in rsigns:
            layer.alpha.assign(np.zeros_like(layer.alpha.numpy()))
        try:
            return convert(model)
        finally:
            for layer, alpha in zip(rsigns, own):
                layer.alpha.assign(alpha)

    return run


def _assert_exact(report, margins, model):
    assert report.passed and report.rounding_exact == report.n == 2, report
    assert margins.sign_inputs == len(sign_inputs(model)[0]) > 0
    assert not margins.unadjusted and margins.smallest > 1e-6, margins


def test_lce_runs_every_binary_mac_in_lce_bconv2d_and_agrees_exactly(model):
    flatbuffers = []

    def convert(m):
        flatbuffers.append(to_tflite(m))
        return lce_engine(flatbuffers[-1])

    report, margins = check_conversion(model, convert, n=2, engine_name="lce")
    _assert_exact(report, margins, model)
    assert margins.sign_inputs == 6  # an RSign before each 3×3, one per 1×1 stage
    assert binary_mac_report(model, flatbuffers[0]).share_percent == 100.0
    ops = op_histogram(flatbuffers[0])
    assert ops["LceBconv2d"] == sum(is_binary(layer) for layer in model.layers) == 8
    assert ops["CONV_2D"] == 1  # the stem: nothing binary is left in float


def test_openvino_folds_rsign_into_the_binarization_and_agrees_exactly(model):
    report, margins = check_conversion(model, _openvino, n=2, engine_name="openvino")
    _assert_exact(report, margins, model)
    ops = [node for node in ov.to_openvino(model).get_ordered_ops()]
    kinds = [node.get_type_name() for node in ops]
    assert kinds.count("BinaryConvolution") == 8
    assert kinds.count("PRelu") == sum(isinstance(x, RPReLU) for x in model.layers) == 6
    # every RSign folded into a threshold: none of its Subtract nodes is left in the model
    rsigns = {layer.name for layer in model.layers if isinstance(layer, RSign)}
    assert rsigns and not rsigns & {node.get_friendly_name() for node in ops}


def test_openvino_fails_the_check_without_the_thresholds(model):
    """A model converted without its RSign thresholds (one LCE conversion costs ~10 s, so the
    wrong conversions go through OpenVINO; the check compares outputs, whatever the engine)."""
    wrong, _ = check_conversion(model, _without_rsign_thresholds(_openvino), n=2)
    assert not wrong.passed and wrong.exact, wrong
    assert "conversion error" in wrong.failure_message()


def test_openvino_fails_the_check_when_the_exporter_drops_the_thresholds(model, monkeypatch):
    def forgetting_rsign(x_tensor):
        source, folded = folded_into_threshold(x_tensor)
        return source, [layer for layer in folded if not isinstance(layer, RSign)]

    folded_into_threshold = binary_layers.folded_into_threshold
    monkeypatch.setattr(binary_layers, "folded_into_threshold", forgetting_rsign)
    wrong, _ = check_conversion(model, _openvino, n=2)
    assert not wrong.passed and wrong.exact, wrong
    assert "conversion error" in wrong.failure_message()


def test_the_bireal_based_reactnet_through_openvino():
    model = zoo.ReActNetBiReal(blocks=(1, 1), width=16, input_shape=SMALL, num_classes=10)
    report, margins = check_conversion(model, _openvino, n=2, engine_name="openvino")
    _assert_exact(report, margins, model)
    kinds = [node.get_type_name() for node in ov.to_openvino(model).get_ordered_ops()]
    assert kinds.count("BinaryConvolution") == 4


def test_the_baseline_without_rsign_and_rprelu_through_openvino():
    """The paper's baseline (plain sign, Keras PReLU), which the ablations train: exact too."""
    model = zoo.ReActNetA(stem_width=8, widths=(16, 32, 32), rsign=False, rprelu=False,
                          input_shape=SMALL, num_classes=10)  # fmt: skip
    report, margins = check_conversion(model, _openvino, n=2, engine_name="openvino")
    _assert_exact(report, margins, model)
    kinds = [node.get_type_name() for node in ov.to_openvino(model).get_ordered_ops()]
    assert kinds.count("BinaryConvolution") == 8 and kinds.count("PRelu") == 6

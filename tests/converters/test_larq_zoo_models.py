"""larq-zoo's nine models (``bnnzoo.zoo.larq_zoo``) through both converters, each at the smallest
practical input, with random weights and BatchNorm statistics measured on data
(``randomize_weights``) and logits.

LCE: the share of the Keras model's binary MACs that runs in ``LceBconv2d`` is pinned to what was
measured, for one model of each kind of layer LCE meets here (``LCE_SAMPLES``): converting the
others takes 20-45 s each on two cores; all nine are in ``benchmarks/lce_fusion.md``
(``benchmarks/lce_fusion.py --family larq_zoo``). XNOR-Net's kind of layer (a sign input, a
per-filter scaled sign kernel) is converted in tests/converters/lce/test_upstream_defects.py
(folded, an ``LceBconv2d``); the whole model, whose 6×6 conv of 37.7 M weights is what LCE alone
leaves in float, took 45 s of CPU here and is in ``benchmarks/export_matrix.md``.

OpenVINO: the export is exact against Keras (``verify_openvino``'s criteria), or refused before
any op is emitted with an error naming the layer it cannot express.
"""

from __future__ import annotations

import pytest

from bnnzoo import zoo
from bnnzoo.converters import openvino as ovx
from bnnzoo.converters.lce import binary_mac_report, to_tflite
from bnnzoo.converters.openvino import graph as ov_graph
from bnnzoo.converters.verify import randomize_weights

EXACT = "exact"
# model: (input side, LCE share in %, unfused binary layers, OpenVINO: EXACT or the refusal)
CASES = {
    "quicknet": (32, 100.0, [], EXACT),
    "quicknet_small": (32, 100.0, [], EXACT),
    "quicknet_large": (32, 100.0, [], EXACT),
    "birealnet": (32, 100.0, [], EXACT),
    "binary_alexnet": (64, 100.0, [], EXACT),  # 57 px is its smallest input
    # 2-bit DoReFa activations: no binary layer, no LceBconv2d, no OpenVINO binary conv
    "dorefanet": (
        64,
        None,
        [],
        r"'quant_conv2d(_\d+)?' \(QuantConv2D\).*DoReFa \(2-bit\) is not a sign quantizer",
    ),
    # grouped convs: ChannelSplit -> Conv2D per group -> Concatenate (larq-zoo's Lambdas,
    # replaced by registered layers); the improvement block's merge is AddToLastChannels
    "meliusnet22": (32, 100.0, [], EXACT),
    "real_to_binary_net": (32, 100.0, [], EXACT),  # its identity Lambdas are Identity layers
    # 217 px is its smallest input; its 6x6 conv of 4096 filters (37.7 M weights) runs in
    # LceBconv2d because bnnzoo folds its XNOR weight scaling into the kernel first (LCE alone
    # leaves that layer in float: bnnzoo.converters.lce.upstream_kernels)
    "xnornet": (217, 100.0, [], EXACT),
}


# average-pool shortcuts and the 1x1 full-precision transitions (QuickNet), 2-bit DoReFa
# quantizers (no binary layer at all), and unpadded binary convs with large kernels (BinaryAlexNet)
LCE_SAMPLES = ("quicknet", "dorefanet", "binary_alexnet")


@pytest.fixture(
    scope="module",
    # one model per xdist worker: its two tests share the converted model
    params=[pytest.param(n, marks=pytest.mark.xdist_group(f"larq_zoo_{n}")) for n in sorted(CASES)],
)
def case(request):
    name = request.param
    side, share, unfused, openvino = CASES[name]
    model = zoo.create_model(
        name, input_shape=(side, side, 3), num_classes=10, classifier_activation=None
    )
    randomize_weights(model, seed=0)
    return name, model, share, unfused, openvino


def test_every_larq_zoo_model_is_covered():
    assert sorted(CASES) == zoo.list_models(family="larq_zoo")


def test_lce_runs_the_measured_share_of_binary_macs_in_bconv(case):
    name, model, share, unfused, _ = case
    if name not in LCE_SAMPLES:
        pytest.skip(f"{name}: benchmarks/lce_fusion.py --family larq_zoo (slow to convert)")
    report = binary_mac_report(model, to_tflite(model))
    if share is None:
        assert report.keras_binary_macs == 0 and not report.bconvs
    else:
        assert report.keras_binary_macs > 0
        assert round(report.share_percent, 1) == share
    assert [u.kind for u in report.unfused] == unfused
    assert not report.unmatched_bconvs


def test_openvino_is_exact_or_refused_naming_the_layer(case, monkeypatch):
    name, model, _, _, openvino = case
    if openvino != EXACT:
        emitted = []
        monkeypatch.setattr(ov_graph.Graph, "_emit", lambda self, node: emitted.append(node))
        with pytest.raises(ValueError, match=openvino):
            ovx.to_openvino(model)
        assert emitted == []  # refused before any op was emitted
        return
    compiled = ovx.compile(ovx.to_openvino(model), threads=2)
    report = ovx.verify_openvino(model, compiled, n=2, raise_on_failure=False)
    assert report.passed, report.failure_message()
    assert set(ovx.binary_ops_in_runtime(compiled)) == set(ovx.binary_conv_layers(model))
    assert ovx.binary_conv_layers(model)

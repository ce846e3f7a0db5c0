"""Figures of models bnnzoo did not write (larq-zoo's), at 224 px, pinned once computed and
checked against the published figures where a paper gives them."""

import larq_zoo as lqz
import pytest

from bnnzoo import analysis

SHAPE = (224, 224, 3)


def test_bi_real_net_18():
    with analysis.shapes_only():
        model = lqz.literature.BiRealNet(weights=None, input_shape=SHAPE)
    a = analysis.analyze(model)
    c, p = a.counts, a.paths
    # Liu et al. 2018 (Bi-Real Net): 1.68e9 binary operations
    assert c.binary_macs == 1_676_279_808
    assert c.float_macs == 137_793_536
    # Zhu et al. 2022, Table 1: Bi-Real ResNet18 33.2 Mbit, 0.16e9 "Flops" (BOPs/64 + FLOPs).
    # Binary 3x3 kernels 10,985,472 bits; 32-bit: stem 9,408, 1x1 shortcuts 8,192 + 32,768 +
    # 131,072, classifier 513,000 (BatchNorm left out)
    assert c.binary_params == 10_985_472
    assert c.storage_mbit == (10_985_472 + 32 * (9_408 + 172_032 + 513_000)) / 1e6
    assert round(c.storage_mbit, 1) == 33.2 and round(c.ops_bops64 / 1e9, 2) == 0.16
    assert c.ops_bops64 == 137_793_536 + 1_676_279_808 / 64
    assert c.ops_bdn == 137_793_536 + 1_676_279_808 / 32
    # conv outputs: stem 112*112*64, 4 convs 56*56*64, 5 (4 binary + shortcut) of 28*28*128,
    # 5 of 14*14*256, 5 of 7*7*512; classifier 1000
    assert (
        c.activations
        == 112**2 * 64 + 4 * 56**2 * 64 + 5 * (28**2 * 128 + 14**2 * 256 + 7**2 * 512) + 1000
    )
    # a shortcut around every binary conv; the cheapest conv is a stride-2 one (28*28*9*64*128)
    assert p.input.l == (0, 1, 2) and p.input.n == (0, 57_802_752, 2 * 57_802_752)
    assert p.input.paths == 2**16  # 16 blocks, each a shortcut or its conv
    assert len(p.layers) == 16 and p.worst("n1") == 0 and p.missing("n2") == 1


def test_binary_densenet28():
    with analysis.shapes_only():
        model = lqz.literature.BinaryDenseNet28(weights=None, input_shape=SHAPE)
    a = analysis.analyze(model)
    c, p = a.counts, a.paths
    assert (c.binary_macs, c.float_macs) == (3_587_383_296, 202_484_224)
    # Bethge et al. 2019: "2.2% of all operations are in these downsampling layers" (the three
    # full-precision 1x1 transition convs)
    transitions = [l.float_macs for l in c.layers if l.kind == "Conv2D"][1:]
    assert len(transitions) == 3
    assert 100 * sum(transitions) / (c.binary_macs + c.float_macs) == pytest.approx(2.2, abs=0.05)
    assert c.storage_mbit == pytest.approx(33.32224)
    assert (c.ops_bops64, c.ops_bdn) == (258_537_088, 314_589_952)
    assert c.activations == 2_575_656
    # every dense layer is a concatenation shortcut: 2**23 paths from the input; the cheapest
    # conv is the first of the last stage (7*7*9*256*64), the cheapest pair adds the next (320 in)
    assert p.input.paths == 2**23 and len(p.layers) == 23
    assert p.input.n == (0, 7 * 7 * 9 * 256 * 64, 7 * 7 * 9 * (256 + 320) * 64)


def test_quicknet():
    with analysis.shapes_only():
        model = lqz.sota.QuickNet(weights=None, input_shape=SHAPE)
    a = analysis.analyze(model)
    c, p = a.counts, a.paths
    assert (c.params, c.binary_params) == (13_243_720, 12_533_760)
    assert (c.binary_macs, c.float_macs) == (1_849_688_064, 29_651_712)
    assert c.storage_mbit == pytest.approx(34.635008)
    assert (c.ops_bops64, c.ops_bdn) == (58_553_088, 87_454_464)
    assert c.activations == 2_221_288
    assert p.input.l == (0, 1, 2) and p.input.n == (0, 115_605_504, 2 * 115_605_504)
    assert p.input.paths == 2**16 and len(p.layers) == 16

"""IGP-ResNets and IGP-DenseNets (Zhu, Hofstee, Lee, Al-Ars 2022): the block structure, the conv
counts and widths the names imply, and the gradient paths the paper states for its blocks."""

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import count_model, gradient_paths
from bnnzoo.zoo import igp
from bnnzoo.zoo.papers import ZHU_2022

SMALL = (32, 32, 3)


def binary_convs(model, prefix=""):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, lq.layers.QuantConv2D) and layer.name.startswith(prefix)
    ]


@pytest.mark.parametrize("columns, m", [(1, 1), (2, 3), (3, 7), (4, 15)])
def test_fractal_block_has_2_to_the_c_minus_1_convs(columns, m):
    assert igp.convs_per_block(columns) == m
    model = zoo.IGPResNet(
        width=4, columns=columns, blocks=(1,), stage_join=False, input_shape=(8, 8, 3),
        num_classes=2,
    )  # fmt: skip
    assert len(binary_convs(model)) == m


@pytest.mark.parametrize(
    "blocks, columns, join, per_stage",
    [
        ((2, 2, 2, 2), 2, True, [7, 7, 7, 7]),  # IGP-ResNet21
        ((2, 2, 3, 2), 3, False, [14, 14, 21, 14]),  # IGP-ResNet41
    ],
)
def test_stage_conv_counts(blocks, columns, join, per_stage):
    model = zoo.IGPResNet(
        width=4, columns=columns, blocks=blocks, stage_join=join, input_shape=SMALL,
        num_classes=2,
    )  # fmt: skip
    counts = [len(binary_convs(model, f"stage{s + 1}_")) for s in range(4)]
    assert counts == per_stage
    assert counts == [igp.stage_convs(columns, b, join) for b in blocks]


@pytest.mark.parametrize(
    "name, width, per_stage",
    [("igp_resnet21", 53, 7), ("igp_resnet37", 41, 15), ("igp_resnet69", 31, 31)],
)
def test_registered_resnets_width_and_convs(name, width, per_stage):
    model = zoo.create_model(name, input_shape=SMALL, num_classes=10)
    assert model.get_layer("stem_conv").filters == width
    for s in range(4):
        convs = binary_convs(model, f"stage{s + 1}_")
        assert len(convs) == per_stage
        assert {c.filters for c in convs} == {width * 2**s}
    spec = zoo.get_model_spec(name)
    assert spec.family == "igp" and spec.paper is ZHU_2022


def test_depth_labels_count_stem_deepest_path_transitions_and_classifier():
    # f_c's deepest path is 2^(c-1) convs; a stage of two blocks f_c (joined) is 2^c deep
    assert 1 + 4 * 2 * 2 ** (2 - 1) + 3 + 1 == 21
    assert 1 + 4 * 2 * 2 ** (3 - 1) + 3 + 1 == 37
    assert 1 + 4 * 2 * 2 ** (4 - 1) + 3 + 1 == 69
    assert 1 + (2 + 2 + 3 + 2) * 2 ** (3 - 1) + 3 + 1 == 41


def test_columns_1_is_the_bi_real_block():
    """f_1(z) = z + BN(conv(z)): a shortcut around one binary conv."""
    model = zoo.IGPResNet(
        width=4, columns=1, blocks=(2,), stage_join=False, input_shape=(8, 8, 3), num_classes=2
    )
    adds = [l for l in model.layers if isinstance(l, tf.keras.layers.Add)]
    assert len(adds) == len(binary_convs(model)) == 2
    assert gradient_paths(model).input.l == (0, 1, 2)


def test_igp_resnet_block_gradient_paths():
    """The paper's IGP-ResNet block: N_1st = 0 through shortcuts, L_2nd = 1, and every binary
    layer has a path without binary convs to the output."""
    model = zoo.IGPResNet(
        width=4, columns=3, blocks=(1,), stage_join=False, input_shape=(8, 8, 3), num_classes=2
    )
    paths = gradient_paths(model)
    conv_macs = count_model(model).binary_macs // 7
    assert paths.input.l == (0, 1, 2)
    assert paths.input.n == (0, conv_macs, 2 * conv_macs)
    assert all(f.l[0] == 0 and f.n[0] == 0 for f in paths.layers)


def test_igp_dense_block():
    """a = conv(x), b = conv([x, a]), c = conv(x), output [x, b + c]: three convs of growth_rate
    filters, growth_rate new channels, paths to x of 0, one and two convs."""
    inputs = tf.keras.Input((8, 8, 5))
    out = igp.igp_dense_block(inputs, 3, name="block")
    model = tf.keras.Model(inputs, out)
    assert out.shape[-1] == 5 + 3
    convs = {c.name: c for c in binary_convs(model)}
    assert sorted(convs) == ["block_conv_a", "block_conv_b", "block_conv_c"]
    assert convs["block_conv_b"].input_shape[-1] == 5 + 3
    assert convs["block_conv_a"].input_shape[-1] == convs["block_conv_c"].input_shape[-1] == 5
    paths = gradient_paths(model)
    macs = {l.name: l.binary_macs for l in count_model(model).layers}
    assert paths.input.l == (0, 1, 2)
    assert paths.input.n == (
        0,
        macs["block_conv_c"],
        macs["block_conv_a"] + macs["block_conv_b"],
    )
    by_name = {f.name: f for f in paths.layers}
    assert by_name["block_conv_c"].l[0] == by_name["block_conv_b"].l[0] == 0
    assert by_name["block_conv_a"].l[0] == 1  # a reaches the output only through b


@pytest.mark.parametrize(
    "name, blocks, growth",
    [("igp_densenet51", (6, 6, 6, 5), 53), ("igp_densenet69", (6, 8, 12, 6), 48)],
)
def test_registered_densenets(name, blocks, growth):
    model = zoo.create_model(name, input_shape=SMALL, num_classes=10)
    for s, n in enumerate(blocks):
        convs = binary_convs(model, f"stage{s + 1}_")
        assert len(convs) == 3 * n
        assert {c.filters for c in convs} == {growth}
    # each block adds growth channels: the last stage's channels before the head
    last = model.get_layer("final_bn").input_shape[-1]
    entering = model.get_layer("stage4_transition_conv").filters
    assert last == entering + blocks[-1] * growth


def test_bad_arguments():
    with pytest.raises(ValueError, match="columns"):
        zoo.IGPResNet(columns=0)
    with pytest.raises(ValueError, match="stage_join"):
        zoo.IGPResNet(stage_join="yes")
    with pytest.raises(ValueError, match="Binarization"):
        zoo.IGPResNet(binarization="sign")
    with pytest.raises(ValueError, match="3 reduction rates"):
        zoo.IGPDenseNet(blocks_per_stage=(1, 1, 1, 1), reduction=(2, 2), growth_rate=8)
    with pytest.raises(ValueError, match="growth_rate"):
        zoo.IGPDenseNet(blocks_per_stage=(1, 1), reduction=(2,), growth_rate=0)

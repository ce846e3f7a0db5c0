"""ReActNet-A and the Bi-Real-based ReActNet (Liu, Shen, Savvides, Cheng 2020): the layout, the
arguments and their refusals. (Every registered model is also built by tests/zoo/test_models.py;
the published BOPs, FLOPs and OPs by tests/reproduce/test_reactnet.py.)"""

import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import is_binary
from bnnzoo.layers import RPReLU, RSign
from bnnzoo.zoo.reactnet import REACTNET_A_WIDTHS, block_strides

TINY_A = {"stem_width": 8, "widths": (16, 32, 32)}


def test_reactnet_a_strides_where_mobilenet_v1_does():
    assert len(REACTNET_A_WIDTHS) == 13
    assert block_strides(32, REACTNET_A_WIDTHS) == (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"widths": (16, 48)}, r"widths\[1\]=48 after 16"),
        ({"widths": (8, 32)}, r"widths\[1\]=32 after 8"),
        ({"widths": ()}, "widths"),
        ({"stem_width": 0}, "stem_width"),
    ],
)
def test_reactnet_a_refuses_widths_that_neither_keep_nor_double(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.ReActNetA(**{**TINY_A, **kwargs}, input_shape=(32, 32, 3))


def _binary_convs_read_rsign(model):
    convs = [layer for layer in model.layers if is_binary(layer)]
    return convs, all(isinstance(c.input._keras_history.layer, RSign) for c in convs)


def test_reactnet_a_layout_with_the_imagenet_stem():
    model = zoo.ReActNetA(**TINY_A, input_shape=(64, 64, 3), num_classes=5)
    stem = model.get_layer("stem_conv")
    assert (stem.kernel_size, stem.strides, stem.filters) == ((3, 3), (2, 2), 8)
    assert model.get_layer("block1_conv3x3").strides == (1, 1)  # 8 -> 16 without striding
    assert model.get_layer("block2_conv3x3").strides == (2, 2)
    assert model.get_layer("block3_pw").filters == 32
    assert model.get_layer("block3_pw_rprelu").output_shape == (None, 16, 16, 32)
    convs, after_rsign = _binary_convs_read_rsign(model)
    assert len(convs) == 3 + 3 + 2 and after_rsign  # blocks 1 and 2 double: two 1x1 each
    adds = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Add)]
    assert len(adds) == len(convs)  # a shortcut around every binary conv
    assert model.output_shape == (None, 5)


def test_reactnet_bireal_puts_rsign_before_and_rprelu_after_every_binary_conv():
    model = zoo.ReActNetBiReal(blocks=(1, 1), width=8, input_shape=(32, 32, 3), num_classes=4)
    convs, after_rsign = _binary_convs_read_rsign(model)
    assert [c.name for c in convs] == [f"stage{s}_conv{i}" for s in (1, 2) for i in (1, 2)]
    assert after_rsign
    for conv in convs:
        add = model.get_layer(f"{conv.name}_add")
        assert isinstance(add.outbound_nodes[0].layer, RPReLU)
    shortcut = model.get_layer("stage2_conv1_shortcut_conv")  # Bi-Real's downsampling
    assert not is_binary(shortcut) and shortcut.kernel_size == (1, 1) and shortcut.filters == 16
    assert model.get_layer("stage2_conv1").strides == (2, 2)


def test_features_without_the_top():
    model = zoo.ReActNetA(**TINY_A, include_top=False, pooling="avg")
    assert model.input_shape == (None, None, None, 3) and model.output_shape == (None, 32)
    assert model.get_layer("stem_conv").strides == (2, 2)  # the registered 224 px stem


def test_registered_with_the_paper():
    assert zoo.list_models(family="reactnet") == ["reactnet_a", "reactnet_bireal18"]
    for name in ("reactnet_a", "reactnet_bireal18"):
        spec = zoo.get_model_spec(name)
        assert spec.paper.nickname == "ReActNet" and spec.paper.key == "liu2020"
        assert (spec.input_shape, spec.num_classes) == ((224, 224, 3), 1000)
    assert zoo.list_models(paper="ReActNet") == ["reactnet_a", "reactnet_bireal18"]

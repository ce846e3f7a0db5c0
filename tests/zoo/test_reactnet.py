"""ReActNet-A and the Bi-Real-based ReActNet (Liu, Shen, Savvides, Cheng 2020): the layout, the
arguments and their refusals. (Every registered model is also built by tests/zoo/test_models.py;
the published BOPs, FLOPs and OPs by tests/reproduce/test_reactnet.py.)"""

import numpy as np
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


@pytest.mark.parametrize("rsign", [True, False])
@pytest.mark.parametrize("rprelu", [True, False])
def test_the_ablation_switches_put_the_plain_sign_and_prelu_back(rsign, rprelu, rng):
    """The paper's baseline and ablations: without RSign every binary conv reads the add's
    output directly (its own sign, no threshold); without RPReLU a Keras PReLU (one slope per
    channel, 0.25 at first) follows every add. The binary convs and their MACs are the same."""
    full = zoo.ReActNetA(**TINY_A, input_shape=(16, 16, 3), num_classes=3)
    model = zoo.ReActNetA(**TINY_A, rsign=rsign, rprelu=rprelu, input_shape=(16, 16, 3),
                          num_classes=3)  # fmt: skip
    kinds = lambda m, kind: [layer for layer in m.layers if isinstance(layer, kind)]  # noqa: E731
    convs, after_rsign = _binary_convs_read_rsign(model)
    assert [c.name for c in convs] == [c.name for c in kinds(full, type(convs[0]))]
    assert after_rsign == rsign and (len(kinds(model, RSign)) > 0) == rsign
    assert len(kinds(model, RPReLU)) == (len(kinds(full, RPReLU)) if rprelu else 0)
    prelus = kinds(model, tf.keras.layers.PReLU)
    assert len(prelus) == (0 if rprelu else len(kinds(full, RPReLU)))
    for prelu in prelus:
        assert prelu.name.endswith("_prelu") and prelu.get_weights()[0].shape == (
            1, 1, prelu.output_shape[-1]
        )  # fmt: skip
        assert (prelu.get_weights()[0] == 0.25).all()
    if rsign and not rprelu:  # an untrained RPReLU (no shifts, slope 0.25) is that PReLU
        for layer in full.layers:
            if not isinstance(layer, RPReLU):
                model.get_layer(layer.name).set_weights(layer.get_weights())
        x = rng.normal(size=(2, 16, 16, 3)).astype("float32")
        np.testing.assert_array_equal(model(x).numpy(), full(x).numpy())


@pytest.mark.parametrize("kwargs", [{"rsign": "yes"}, {"rprelu": 0}])
def test_the_switches_take_only_true_or_false(kwargs, monkeypatch):
    built = []
    monkeypatch.setattr(tf.keras.layers.Layer, "__call__", lambda *a, **k: built.append(a))
    key = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"Expected {key} to be True or False"):
        zoo.ReActNetA(**TINY_A, **kwargs, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match=f"Expected {key} to be True or False"):
        zoo.create_model("reactnet_bireal18", **kwargs, input_shape=(32, 32, 3))
    assert built == []


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

"""BitNet and its Wide ResNet baseline: the structure of Zhang et al. 2017's Tables 1 and 3, the
two precisions, the registered presets. The published figures: tests/reproduce/test_bitnet.py."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import analysis, zoo
from bnnzoo.converters.verify import keras_outputs
from bnnzoo.reproduce.bitnet import paper_params
from bnnzoo.zoo import bitnet

CIFAR = (32, 32, 3)


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]


def _producer(tensor):
    return tensor._keras_history.layer


# --------------------------------------------------------------------------------- structure


def test_bitnet_cifar_follows_table_1():
    model = zoo.BitNetCifar(d=2, k=3, n=2, input_shape=CIFAR, num_classes=10)
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size == (3, 3) and stem.strides == (1, 1) and stem.filters == 16
    for group, (width, size) in enumerate([(32, 32), (64, 16), (128, 8)], start=2):
        for block in (1, 2):
            out = model.get_layer(f"conv{group}_block{block}_concat").output_shape
            assert out == (None, size, size, width)
            strides = model.get_layer(f"conv{group}_block{block}_level1_right_conv").strides
            assert strides == ((2, 2) if group > 2 and block == 1 else (1, 1))
        with pytest.raises(ValueError):
            model.get_layer(f"conv{group}_block3_concat")
    assert len(_convs(model)) == 1 + 3 * 2 * 2 * 3
    assert model.layers[-1].name == "head_softmax"
    assert not any(isinstance(layer, tf.keras.layers.Add) for layer in model.layers)


def test_wide_resnet_has_projections_only_where_shape_changes():
    model = zoo.WideResNetCifar(d=2, n=2, input_shape=CIFAR, num_classes=10)
    shortcuts = sorted(c.name for c in _convs(model) if "shortcut" in c.name)
    assert shortcuts == [f"conv{g}_block1_shortcut_conv" for g in (2, 3, 4)]
    for group, strides in [(2, (1, 1)), (3, (2, 2)), (4, (2, 2))]:
        projection = model.get_layer(f"conv{group}_block1_shortcut_conv")
        assert projection.kernel_size == (1, 1) and projection.strides == strides
        # The projection reads the block's pre-activation (BN → ReLU), as the main path does.
        assert _producer(projection.input).name == f"conv{group}_block1_pre_relu"
        assert model.get_layer(f"conv{group}_block1_conv1").input is projection.input
    # Identity shortcut: block 2 adds its raw input.
    add = model.get_layer("conv3_block2_add")
    assert _producer(add.input[1]).name == "conv3_block1_add"
    assert model.get_layer("final_relu").output_shape == (None, 8, 8, 128)
    assert len([c for c in _convs(model) if "shortcut" not in c.name]) == 1 + 3 * 2 * 2


def test_plain_net_drops_shortcuts_and_their_projections():
    plain = zoo.WideResNetCifar(d=1, n=1, residual=False, input_shape=CIFAR, num_classes=10)
    assert not any(isinstance(layer, tf.keras.layers.Add) for layer in plain.layers)
    assert not any("shortcut" in c.name for c in _convs(plain))


def test_bitnet26_and_34_follow_table_3():
    """At 64 px (224 px, Table 3's 56, 28, 14 and 7, is built by the reproduction)."""
    for factory, widths, depth in [
        (zoo.BitNet26, [128, 128, 192, 256, 384, 384, 512, 768], 3),
        (zoo.BitNet34, [256, 256, 384, 384, 512, 512, 768, 768], 4),
    ]:
        model = factory(input_shape=(64, 64, 3), include_top=False)
        concats = [la for la in model.layers if isinstance(la, tf.keras.layers.Concatenate)]
        assert [c.output_shape[-1] for c in concats] == widths
        assert [c.output_shape[1] for c in concats][::2] == [16, 8, 4, 2]  # 64 / 4, then / 2
        assert model.get_layer("conv2_block1_level1_right_conv").input_shape[-1] == 64
        assert f"level{depth}_left_conv" in _convs(model)[-1].name
        assert model.get_layer("stem_conv").kernel_size == (7, 7)
        assert isinstance(model.get_layer("stem_pool"), tf.keras.layers.MaxPooling2D)


# ---------------------------------------------------------------------------------- precision


@pytest.mark.parametrize(
    "factory",
    [
        lambda **kw: zoo.BitNetCifar(d=1, k=3, n=1, **kw),
        lambda **kw: zoo.WideResNetCifar(d=1, n=1, **kw),
        lambda **kw: zoo.BitNetImageNet(blocks=((32, 1), (64, 2)), k=2, **kw),
    ],
)
def test_binary_precision_binarizes_every_block_conv_and_never_after_a_relu(factory):
    kwargs = {"input_shape": (16, 16, 3), "num_classes": 10}
    binary = factory(precision="binary", **kwargs)
    full = factory(precision="float", **kwargs)
    assert paper_params(binary) == paper_params(full)
    for conv in _convs(binary):
        assert analysis.is_binary(conv) == (conv.name != "stem_conv"), conv.name
        if analysis.is_binary(conv):
            assert conv.use_bias is False and conv.pad_values == 1.0
            source = _producer(conv.input)
            assert not isinstance(source, tf.keras.layers.Activation), conv.name
    assert not any(analysis.is_binary(c) for c in _convs(full))
    assert not analysis.is_binary(binary.get_layer("head_dense"))
    counts = analysis.count_model(binary)
    assert counts.binary_macs > 5 * counts.float_macs


def test_binary_bitnet_convs_are_followed_by_batch_norm():
    model = zoo.BitNetCifar(d=1, k=2, n=1, precision="binary", input_shape=(16, 16, 3))
    for conv in _convs(model):
        consumers = [node.outbound_layer for node in conv._outbound_nodes]
        assert [type(c).__name__ for c in consumers] == ["BatchNormalization"], conv.name
    assert not isinstance(model.get_layer("stem_bn")._outbound_nodes[0].outbound_layer,
                          tf.keras.layers.Activation)  # fmt: skip


def test_binary_model_round_trips_through_plain_load_model(tmp_path, rng):
    model = zoo.BitNetCifar(d=1, k=2, n=1, precision="binary", input_shape=(16, 16, 3),
                            num_classes=3)  # fmt: skip
    x = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    model.save(tmp_path / "bitnet.keras")
    loaded = tf.keras.models.load_model(tmp_path / "bitnet.keras")
    np.testing.assert_allclose(keras_outputs(loaded, x), keras_outputs(model, x), atol=1e-6)


# ----------------------------------------------------------------------------------- registry


def test_every_paper_configuration_is_registered_in_both_precisions():
    names = set(zoo.list_models())
    for d, k, n in bitnet.CIFAR_BITNET_CONFIGS:
        assert {f"bitnet_cifar_d{d}_k{k}_n{n}", f"bitnet_cifar_d{d}_k{k}_n{n}_binary"} <= names
    for d, n in bitnet.CIFAR_WIDE_RESNET_CONFIGS:
        assert {
            f"wide_resnet_cifar_d{d}_k2_n{n}",
            f"wide_resnet_cifar_d{d}_k2_n{n}_binary",
        } <= names
    assert {"bitnet26", "bitnet34", "bitnet26_binary", "bitnet34_binary"} <= names
    assert len(zoo.list_models("bitnet*")) + len(zoo.list_models("wide_resnet*")) == 58


def test_preset_builds_its_configuration_and_refuses_to_change_it():
    model = zoo.create_model("bitnet_cifar_d4_k3_n4_binary", num_classes=100)
    assert model.name == "bitnet_cifar_d4_k3_n4_binary"
    assert model.input_shape == (None, *CIFAR)
    assert paper_params(model) == 3_694_100
    assert analysis.is_binary(model.get_layer("conv4_block4_level3_left_conv"))
    with pytest.raises(ValueError, match="fixes k=3"):
        zoo.create_model("bitnet_cifar_d4_k3_n4", k=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"d": 4, "k": 7, "n": 1}, "D=64, K=7"),
        ({"d": 0, "k": 2, "n": 1}, "Expected d to be an int >= 1. Received: d=0. The group"),
        ({"d": 4, "k": 2, "n": 0}, "Expected n"),
        ({"d": 4, "k": True, "n": 1}, "Expected k"),
        ({"d": 4, "k": 2, "n": 1, "precision": "int8"}, "precision"),
        ({"d": 4, "k": 2, "n": 1, "input_shape": (2, 2, 3)}, "at least 4×4"),
    ],
)
def test_bad_arguments_fail_before_any_layer_is_built(kwargs, message, monkeypatch):
    built = []
    monkeypatch.setattr(tf.keras.layers.Layer, "__call__", lambda *a, **k: built.append(a))
    with pytest.raises(ValueError, match=message):
        zoo.BitNetCifar(**kwargs)
    with pytest.raises(ValueError):
        zoo.BitNetImageNet(blocks=((100, 1),), k=3)
    with pytest.raises(ValueError, match="residual"):
        zoo.WideResNetCifar(d=1, n=1, residual="yes")
    assert built == []


def test_cifar_models_default_to_cifar_10():
    """The presets, called by name or as their registered function, and the builders."""
    spec = zoo.get_model_spec("bitnet_cifar_d4_k1_n2")
    for model in (
        spec.factory(),
        zoo.create_model("wide_resnet_cifar_d4_k2_n6_binary", input_shape=None),
        zoo.BitNetCifar(d=1, k=1, n=1),
        zoo.WideResNetCifar(d=1, n=1),
    ):
        assert model.input_shape == (None, 32, 32, 3), model.name
        assert model.output_shape == (None, 10), model.name
    assert zoo.get_model_spec("bitnet26_binary").input_shape == (224, 224, 3)


@pytest.mark.parametrize(
    "factory, precision, layers",
    [
        (zoo.BitNetCifar, "float", ["stem_conv", "stem_bn", "stem_relu"]),
        (zoo.BitNetCifar, "binary", ["stem_conv", "stem_bn"]),
        (zoo.WideResNetCifar, "float", ["stem_conv"]),
        (zoo.WideResNetCifar, "binary", ["stem_conv"]),
    ],
)
def test_stems_of_each_precision(factory, precision, layers):
    """Float BitNets: conv → BN → ReLU; binary ones end in BN (a binary conv reads it); the
    pre-activation Wide ResNets a bare conv. The ImageNet stem adds the max pool."""
    for shape, pool in (((16, 16, 3), []), ((64, 64, 3), ["stem_pool"])):
        kwargs = {"d": 1, "n": 1} if factory is zoo.WideResNetCifar else {"d": 1, "k": 1, "n": 1}
        model = factory(precision=precision, input_shape=shape, **kwargs)
        stem = [layer.name for layer in model.layers if layer.name.startswith("stem_")]
        assert stem == layers + pool

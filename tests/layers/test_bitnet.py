"""BitBlock and the fully connected BitBlock (Zhang, Ozay, Li, Okatani 2017, "Truncating Wide
Networks using Binary Tree Architectures", §3.2)."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import layers
from bnnzoo.analysis import is_binary
from bnnzoo.layers.bitnet import check_tree


def _block_model(width, depth, *, channels=5, size=8, **kwargs):
    x = tf.keras.Input((size, size, channels))
    return tf.keras.Model(x, layers.bit_block(x, width, depth, name="b", **kwargs))


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]


def _producer(tensor):
    return tensor._keras_history.layer


def test_tree_channels_and_wiring_follow_the_paper():
    model = _block_model(64, 3)
    assert model.output_shape == (None, 8, 8, 64)
    expected_kernels = {1: (3, 3, 5, 32), 2: (3, 3, 32, 16), 3: (3, 3, 16, 8)}
    for level, kernel in expected_kernels.items():
        right = model.get_layer(f"b_level{level}_right_conv")
        left = model.get_layer(f"b_level{level}_left_conv")
        assert tuple(right.kernel.shape) == kernel == tuple(left.kernel.shape)
        assert right is not left
        # Both children read the same tensor: the block input, then the previous left child.
        source = (
            model.input if level == 1 else model.get_layer(f"b_level{level - 1}_left_relu").output
        )
        assert right.input is source and left.input is source
    concat = model.get_layer("b_concat")
    leaves = [_producer(t).name for t in concat.input]
    assert leaves == ["b_level1_right_relu", "b_level2_right_relu", "b_level3_right_relu",
                      "b_level3_left_relu"]  # fmt: skip
    assert [t.shape[-1] for t in concat.input] == [32, 16, 8, 8]
    assert len(_convs(model)) == 6


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_width_is_kept_and_weights_follow_the_closed_form(depth):
    """Level 1 maps C to D (two halves); level i ≥ 2 maps D/2**(i-1) to two halves of D/2**i:
    k² (C·D + D² (1/4 + 1/16 + ... + 4**(1-K)))."""
    model = _block_model(32, depth, channels=12)
    assert model.output_shape[-1] == 32
    convs = _convs(model)
    assert len(convs) == (1 if depth == 1 else 2 * depth)
    weights = sum(int(np.prod(c.kernel.shape)) for c in convs)
    assert weights == 9 * (12 * 32 + 32**2 * sum(4.0**-i for i in range(1, depth)))
    assert all(not c.use_bias for c in convs)


def test_closed_form_matches_hand_count():
    # Level 1: 2 × 3·3·64·64, level 2: 2 × 3·3·64·32, level 3: 2 × 3·3·32·16
    model = _block_model(128, 3, channels=64)
    weights = sum(int(np.prod(c.kernel.shape)) for c in _convs(model))
    assert weights == 9 * (2 * 64 * 64 + 2 * 64 * 32 + 2 * 32 * 16)


def test_depth_one_is_a_single_conv():
    model = _block_model(24, 1)
    (conv,) = _convs(model)
    assert conv.name == "b_conv" and conv.filters == 24
    assert not any(isinstance(layer, tf.keras.layers.Concatenate) for layer in model.layers)
    assert model.layers[-1].name == "b_relu"


def test_stride_sits_on_both_level_one_convs_only():
    model = _block_model(32, 3, strides=2)
    assert model.output_shape == (None, 4, 4, 32)
    for conv in _convs(model):
        expected = (2, 2) if "level1" in conv.name else (1, 1)
        assert conv.strides == expected, conv.name


def test_concatenation_order_is_right_leaves_then_last_left(rng):
    model = _block_model(16, 2)
    x = rng.normal(size=(2, 8, 8, 5)).astype("float32")
    names = ["b_level1_right_relu", "b_level2_right_relu", "b_level2_left_relu"]
    probe = tf.keras.Model(model.input, [model.get_layer(n).output for n in names])
    parts = probe(x, training=False)
    out = model(x, training=False).numpy()
    np.testing.assert_allclose(out, np.concatenate([p.numpy() for p in parts], axis=-1))
    assert out.min() >= 0  # every float node ends in ReLU


@pytest.mark.parametrize(
    "width, depth, expected",
    [(100, 3, ["D=100", "K=3", "2**K=8", "D=96 or D=104"]), (4, 3, ["D=4", "K=3", "Use D=8,"])],
)
def test_width_not_divisible_by_two_to_the_depth_says_which_width_works(width, depth, expected):
    with pytest.raises(ValueError) as info:
        check_tree(width, depth)
    for text in expected:
        assert text in str(info.value)
    with pytest.raises(ValueError, match="divisible"):
        layers.bit_block(tf.keras.Input((8, 8, 3)), width, depth, name="b")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"depth": 0}, "Expected K to be an int >= 1. Received: K=0. K is the BitBlock depth"),
        ({"width": 0}, "Expected D to be an int >= 1"),
        ({"precision": "ternary"}, "precision"),
        ({"strides": 3}, "strides"),
    ],
)
def test_bad_block_arguments_are_refused(kwargs, message):
    args = {"width": 16, "depth": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        layers.bit_block(tf.keras.Input((8, 8, 3)), name="b", **args)


def test_binary_block_is_built_the_way_lce_fuses_it():
    model = _block_model(32, 3, precision="binary", pad_value=1.0, clip_value=1.25)
    convs = _convs(model)
    assert len(convs) == 6
    for conv in convs:
        assert is_binary(conv)
        assert isinstance(conv.input_quantizer, lq.quantizers.SteSign)
        assert conv.input_quantizer.clip_value == 1.25
        assert isinstance(conv.kernel_constraint, lq.constraints.WeightClip)
        assert conv.use_bias is False and conv.padding == "same" and conv.pad_values == 1.0
        # BN directly after the binary conv, and nothing else reads the conv output.
        consumers = [node.outbound_layer for node in conv._outbound_nodes]
        assert [type(c).__name__ for c in consumers] == ["BatchNormalization"]
        # A binary conv reads the block input or a BN output, never a ReLU output.
        assert conv.input is model.input or isinstance(
            _producer(conv.input), tf.keras.layers.BatchNormalization
        )
    assert not any(isinstance(layer, tf.keras.layers.Activation) for layer in model.layers)


def test_float_block_has_no_binary_layer_and_every_node_is_conv_bn_relu():
    model = _block_model(32, 2)
    for conv in _convs(model):
        assert not is_binary(conv)
        (bn,) = [node.outbound_layer for node in conv._outbound_nodes]
        (relu,) = [node.outbound_layer for node in bn._outbound_nodes]
        assert isinstance(bn, tf.keras.layers.BatchNormalization)
        assert relu.get_config()["activation"] == "relu"


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_dense_tree_weights_are_those_of_proposition_3_3(depth):
    width = 64
    x = tf.keras.Input((width,))
    model = tf.keras.Model(x, layers.dense_bit_block(x, width, depth, name="fc"))
    assert model.output_shape == (None, width)
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert len(dense) == (1 if depth == 1 else 2 * depth)
    weights = sum(int(np.prod(d.kernel.shape)) for d in dense)
    assert weights == pytest.approx(4 / 3 * (1 - 4.0**-depth) * width**2, abs=1e-9)


def test_dense_tree_wiring_and_binary_variant():
    x = tf.keras.Input((48,))
    y = layers.dense_bit_block(x, 32, 3, precision="binary", name="fc")
    model = tf.keras.Model(x, y)
    assert model.get_layer("fc_level1_right_dense").kernel.shape == (48, 16)
    assert model.get_layer("fc_level3_left_dense").kernel.shape == (8, 4)
    assert (
        model.get_layer("fc_level2_left_dense").input is model.get_layer("fc_level1_left_bn").output
    )
    assert [t.shape[-1] for t in model.get_layer("fc_concat").input] == [16, 8, 4, 4]
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert len(dense) == 6 and all(is_binary(d) for d in dense)
    for layer in dense:  # the preset binary_dense: sign input and kernel, clipped, no bias
        assert layer.use_bias is False
        assert isinstance(layer.input_quantizer, lq.quantizers.SteSign)
        assert layer.kernel_constraint.clip_value == 1.3
        assert type(layer.kernel_initializer).__name__ == "GlorotNormal"


def test_dense_tree_refuses_a_feature_map():
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        layers.dense_bit_block(tf.keras.Input((4, 4, 8)), 16, 2, name="fc")

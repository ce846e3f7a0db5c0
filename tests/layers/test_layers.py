import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import layers
from bnnzoo.analysis import is_binary


def test_binary_conv_preset_is_what_lce_fuses():
    conv = layers.binary_conv2d(32, 3, clip_value=1.25, pad_value=1.0, name="c")
    assert isinstance(conv.input_quantizer, lq.quantizers.SteSign)
    assert isinstance(conv.kernel_quantizer, lq.quantizers.SteSign)
    assert conv.input_quantizer.clip_value == 1.25
    assert conv.kernel_quantizer.clip_value == 1.25
    assert isinstance(conv.kernel_constraint, lq.constraints.WeightClip)
    assert conv.kernel_constraint.clip_value == 1.25
    assert conv.use_bias is False
    assert conv.padding == "same" and conv.pad_values == 1.0
    assert is_binary(conv)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"padding": "causal"}, "padding"),
        ({"pad_value": -1.0}, "pad_value"),
        ({"clip_value": 0}, "clip_value"),
        ({"clip_value": "1.3"}, "clip_value"),
    ],
)
def test_binary_conv_rejects_what_lce_cannot_fuse(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.binary_conv2d(8, 3, **kwargs)


@pytest.mark.parametrize(
    "channels, reduction, expected",
    [(448, 2.7, 160), (544, 2.7, 192), (448, 3.3, 128), (960, 4, 256), (928, 3.3, 288),
     (1184, 4, 288), (448, 1, 448)],
)  # fmt: skip
def test_transition_filters_match_the_published_models(channels, reduction, expected):
    assert layers.transition_filters(channels, reduction) == expected


def test_transition_rejects_reduction_below_one():
    with pytest.raises(ValueError, match="reduction rate >= 1"):
        layers.transition_filters(256, 0.5)


def test_dense_layer_appends_growth_rate_channels():
    x = tf.keras.Input((8, 8, 24))
    y = layers.dense_layer(x, 16, name="d")
    assert y.shape[-1] == 40


@pytest.mark.parametrize("downsampling, pool", [("full_precision", True), ("binary", False)])
def test_transition_shapes_and_precision(downsampling, pool):
    x = tf.keras.Input((8, 8, 64))
    y = layers.transition(x, 32, pool=pool, downsampling=downsampling, name="t")
    model = tf.keras.Model(x, y)
    assert y.shape[1:] == ((4, 4, 32) if pool else (8, 8, 32))
    convs = [lay for lay in model.layers if isinstance(lay, tf.keras.layers.Conv2D)]
    assert len(convs) == 1 and is_binary(convs[0]) == (downsampling == "binary")
    relus = [lay for lay in model.layers if isinstance(lay, tf.keras.layers.Activation)]
    assert len(relus) == (0 if downsampling == "binary" else 1)


@pytest.mark.parametrize("downsampling", ["full_precision", "binary"])
def test_shortcut_block_downsamples_through_pool_conv_bn(downsampling):
    x = tf.keras.Input((8, 8, 16))
    y = layers.shortcut_block(x, 32, strides=2, downsampling=downsampling, name="b")
    model = tf.keras.Model(x, y)
    assert y.shape[1:] == (4, 4, 32)
    shortcut_conv = model.get_layer("b_shortcut_conv")
    assert shortcut_conv.kernel.shape == (1, 1, 16, 32)
    assert is_binary(shortcut_conv) == (downsampling == "binary")
    assert isinstance(model.get_layer("b_shortcut_pool"), tf.keras.layers.AveragePooling2D)


def test_shortcut_block_keeps_identity_when_shape_is_unchanged():
    x = tf.keras.Input((8, 8, 16))
    model = tf.keras.Model(x, layers.shortcut_block(x, 16, name="b"))
    names = [lay.name for lay in model.layers]
    assert not any("shortcut" in n for n in names)
    add = model.get_layer("b_add")
    assert x.ref() in {t.ref() for t in tf.nest.flatten(add.input)}


def test_xnor_scaling_matches_a_direct_computation(rng):
    x = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    y = rng.normal(size=(1, 3, 3, 2)).astype("float32")
    layer = layers.XnorScaling(kernel_size=3, strides=2, padding="same")
    out = layer([tf.constant(y), tf.constant(x)]).numpy()
    magnitude = np.abs(x).mean(axis=-1)[0]
    padded = np.pad(magnitude, ((0, 1), (0, 1)))  # TF "same" pads 1 at the end for 6 -> 3
    k = np.array([[padded[2 * i : 2 * i + 3, 2 * j : 2 * j + 3].mean() for j in range(3)]
                  for i in range(3)])  # fmt: skip
    np.testing.assert_allclose(out, y * k[None, :, :, None], rtol=1e-5)
    clone = layers.XnorScaling.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_scaling_switch_uses_magnitude_aware_weights():
    x = tf.keras.Input((8, 8, 4))
    y = layers.binary_conv(x, 8, 3, scaling=True, name="s")
    model = tf.keras.Model(x, y)
    assert isinstance(model.get_layer("s").kernel_quantizer, lq.quantizers.MagnitudeAwareSign)
    assert isinstance(model.get_layer("s_scaling"), layers.XnorScaling)
    assert model.count_params() == 3 * 3 * 4 * 8

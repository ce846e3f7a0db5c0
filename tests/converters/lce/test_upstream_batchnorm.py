"""upstream_batchnorm: LCE 0.16 rounds away the offset of a BatchNorm it fuses after a ReLU into
a binary conv where a channel is dead (moving variance near 0, as training leaves such
channels); to_tflite keeps such BatchNorms out of the op, and only those.

If ``test_lce_loses_the_offset_of_dead_channels`` fails, LCE computes its fused bias exactly:
check the fixed version, then drop the rewrite and pin that version.
"""

import larq as lq
import numpy as np
import tensorflow as tf

from bnnzoo.converters.lce import binary_mac_report, lce_engine, op_histogram, to_tflite
from bnnzoo.converters.lce.upstream import avoid_upstream_defects
from bnnzoo.converters.lce.upstream_batchnorm import imprecise_fused_batchnorms
from bnnzoo.converters.verify import compare_outputs, keras_outputs
from tests.converters.lce._tiny import lce_alone

DEAD = 8  # of 16 output channels


def inputs(n=4):
    """Input channels 0-31 of either sign, 32-63 always positive (their sign is +1)."""
    x = np.random.default_rng(1).normal(size=(n, 6, 6, 64)).astype("float32")
    x[..., 32:] = np.abs(x[..., 32:]) + 0.1
    return x


def relu_conv_batchnorm(dead: bool) -> tf.keras.Model:
    """QuickNet's block head: a binary conv with pad value 1 and a ReLU inside, then a BatchNorm.

    With ``dead``, the first 8 channels have a kernel of -1 on the 32 always-positive input
    channels (and pad value 1 is +1 too), so their sum is <= 0 and the ReLU keeps them at 0 on
    every input; their BatchNorm has the statistics training leaves there (mean 0, variance
    1e-20), an offset of 0.003 to 0.01 and epsilon 1e-5: Keras outputs that offset.
    """
    x = tf.keras.Input((6, 6, 64))
    conv = lq.layers.QuantConv2D(
        16, 3, padding="same", pad_values=1.0, input_quantizer="ste_sign",
        kernel_quantizer="ste_sign", activation="relu", use_bias=False, name="conv",
    )  # fmt: skip
    norm = tf.keras.layers.BatchNormalization(epsilon=1e-5, name="bn")
    model = tf.keras.Model(x, norm(conv(x)))
    rng = np.random.default_rng(0)
    kernel = rng.choice([-1.0, 1.0], size=conv.kernel.shape).astype("float32")
    if dead:
        kernel[:, :, 32:, :DEAD] = -1.0
    conv.kernel.assign(kernel)
    sums = conv(inputs()).numpy().reshape(-1, 16)
    mean, variance = sums.mean(axis=0), sums.var(axis=0) + 1.0
    if dead:
        assert (sums[:, :DEAD] == 0).all()
        mean[:DEAD], variance[:DEAD] = 0.0, 1e-20
    beta = rng.uniform(0.003, 0.01, size=16).astype("float32")
    norm.set_weights([np.ones(16, "float32"), beta, mean, variance])
    return model


def worst(model, flatbuffer) -> tuple[float, float]:
    """Largest |LCE - Keras| over the inputs, against the largest |Keras| output."""
    x = inputs()
    reference = keras_outputs(model, x)
    report = compare_outputs(reference, lce_engine(flatbuffer)(x))
    return report.max_abs_diff, report.max_abs_reference


def test_lce_loses_the_offset_of_dead_channels():
    model = relu_conv_batchnorm(dead=True)
    flatbuffer = lce_alone(model)  # LCE alone
    assert op_histogram(flatbuffer).get("DEPTHWISE_CONV_2D", 0) == 0  # the BatchNorm is fused
    dead = keras_outputs(model, inputs())[..., :DEAD]
    lce_dead = lce_engine(flatbuffer)(inputs())[..., :DEAD]
    # K * m = 576 / sqrt(1e-5) = 182,147, whose float32 spacing is 0.0156: the offset is lost
    assert np.abs(lce_dead - dead).max() > 1e-3
    diff, largest = worst(model, flatbuffer)
    assert diff > 1e-4 * largest  # outside the exact check's rounding


def test_to_tflite_keeps_such_batchnorms_out_of_the_binary_conv():
    model = relu_conv_batchnorm(dead=True)
    (found,) = imprecise_fused_batchnorms(model)
    assert (found.layer, found.conv, found.channels) == ("bn", "conv", DEAD)
    assert found.worst > 1e-4
    flatbuffer = to_tflite(model)
    ops = op_histogram(flatbuffer)
    assert ops["LceBconv2d"] == 1 and ops["DEPTHWISE_CONV_2D"] == 1
    assert binary_mac_report(model, flatbuffer).share_percent == 100.0
    diff, largest = worst(model, flatbuffer)
    assert diff <= 1e-6 + 1e-4 * largest  # the exact check's criterion, on every output
    rewritten = avoid_upstream_defects(model)
    assert isinstance(rewritten.get_layer("bn"), tf.keras.layers.DepthwiseConv2D)
    assert isinstance(model.get_layer("bn"), tf.keras.layers.BatchNormalization)  # untouched


def test_live_channels_keep_lce_fused_form():
    model = relu_conv_batchnorm(dead=False)
    assert imprecise_fused_batchnorms(model) == []
    rewritten = avoid_upstream_defects(model)  # its kernel folded, its BatchNorm kept
    assert isinstance(rewritten.get_layer("bn"), tf.keras.layers.BatchNormalization)
    flatbuffer = to_tflite(model)
    assert "DEPTHWISE_CONV_2D" not in op_histogram(flatbuffer)
    diff, largest = worst(model, flatbuffer)
    assert diff <= 1e-6 + 1e-4 * largest

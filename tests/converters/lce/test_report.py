"""binary_mac_report and size_report: which share of the binary MACs LCE runs in LceBconv2d, which
layers it left in float, and the file against the 1-bit figure."""

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo.analysis import count_model
from bnnzoo.converters.lce import (
    binary_mac_report,
    op_histogram,
    size_report,
    to_tflite,
    verify_tflite,
)
from bnnzoo.converters.verify import randomize_weights
from tests.converters.lce._tiny import VARIANTS, converted


@pytest.mark.parametrize(
    "family, variant",
    [("densenet", v) for v in ("plain", "binary_downsampling", "scaling")]
    + [("resnet_e", v) for v in VARIANTS],
)
def test_every_binary_mac_of_tiny_zoo_models_runs_in_lce_bconv2d(family, variant):
    model, flatbuffer = converted(family, variant)
    binary_layers = [l for l in count_model(model).layers if l.binary_macs]
    histogram = op_histogram(flatbuffer)
    assert histogram["LceBconv2d"] == len(binary_layers)
    report = binary_mac_report(model, flatbuffer)
    assert report.keras_binary_macs == count_model(model).binary_macs > 0
    assert report.bconv_macs == report.keras_binary_macs
    assert report.share_percent == pytest.approx(100.0)
    assert report.unfused == () and report.unmatched_bconvs == ()
    assert report.fully_fused
    # The numbers behind the share come from the flatbuffer's tensors, not from Keras.
    assert sorted(b.macs for b in report.bconvs) == sorted(l.binary_macs for l in binary_layers)
    # Tiny models agree to float rounding; the default tolerance is looser (see verify.py).
    verify_tflite(model, flatbuffer, n=4, atol=1e-4, rtol=1e-4)


def test_xcore_flatbuffer_has_no_share_and_names_the_float_convs():
    model, flatbuffer = converted("resnet_e", "plain", target="xcore")
    report = binary_mac_report(model, flatbuffer)
    assert report.share_percent == 0.0 and not report.fully_fused
    assert [(u.name, u.carried_by) for u in report.unfused] == [
        ("stage1_block1_conv", "CONV_2D"),
        ("stage2_block1_conv", "CONV_2D"),
    ]


def test_layers_lce_cannot_fuse_are_named_with_the_op_that_carries_them():
    sign = {"input_quantizer": "ste_sign", "use_bias": False}
    x = tf.keras.Input((8, 8, 16))
    y = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=0.5, kernel_quantizer="ste_sign",
                              name="half_pad", **sign)(x)  # fmt: skip
    y = tf.keras.layers.BatchNormalization(name="bn1")(y)
    y = lq.layers.QuantConv2D(32, 3, kernel_quantizer="ste_sign", name="fused", **sign)(y)
    y = tf.keras.layers.BatchNormalization(name="bn2")(y)
    y = lq.layers.QuantDepthwiseConv2D(3, depthwise_quantizer="ste_sign", name="dw", **sign)(y)
    y = tf.keras.layers.Flatten()(y)
    y = lq.layers.QuantDense(10, kernel_quantizer="ste_sign", name="dense", **sign)(y)
    model = tf.keras.Model(x, y)
    randomize_weights(model, seed=1)
    flatbuffer = to_tflite(model)
    report = binary_mac_report(model, flatbuffer)
    counts = {l.name: l.binary_macs for l in count_model(model).layers}
    # the binary dense layer runs as a 1x1 LceBconv2d (bnnzoo.converters.lce.upstream_kernels)
    assert [b.macs for b in report.bconvs] == [counts["fused"], counts["dense"]]
    assert [(u.name, u.kind, u.carried_by) for u in report.unfused] == [
        ("half_pad", "QuantConv2D", "CONV_2D"),
        ("dw", "QuantDepthwiseConv2D", "DEPTHWISE_CONV_2D"),
    ]
    assert [u.binary_macs for u in report.unfused] == [counts[n] for n in ("half_pad", "dw")]
    fused = counts["fused"] + counts["dense"]
    assert report.share_percent == pytest.approx(100 * fused / sum(counts.values()))
    assert "half_pad (QuantConv2D -> CONV_2D)" in str(report)


def test_grouped_binary_conv_fuses_and_runs():
    """LCE groups a bconv when each group has a multiple of 32 input channels."""
    x = tf.keras.Input((8, 8, 64))
    y = lq.layers.QuantConv2D(64, 3, groups=2, padding="same", input_quantizer="ste_sign",
                              kernel_quantizer="ste_sign", use_bias=False)(x)  # fmt: skip
    model = randomize_weights(tf.keras.Model(x, tf.keras.layers.BatchNormalization()(y)), seed=0)
    flatbuffer = to_tflite(model)
    report = binary_mac_report(model, flatbuffer)
    assert [(b.groups, b.macs) for b in report.bconvs] == [(2, 8 * 8 * 3 * 3 * 32 * 64)]
    assert report.share_percent == pytest.approx(100.0) and report.unfused == ()
    assert verify_tflite(model, flatbuffer, n=2, atol=1e-4, rtol=1e-4).passed


def test_float_model_has_no_share():
    x = tf.keras.Input((8, 8, 3))
    model = tf.keras.Model(x, tf.keras.layers.Conv2D(4, 3)(x))
    report = binary_mac_report(model, to_tflite(model))
    assert report.share_percent is None and report.bconvs == () and report.fully_fused


def test_file_is_close_to_the_one_bit_figure():
    model, flatbuffer = converted("densenet", "plain")
    size = size_report(model, flatbuffer)
    counts = count_model(model)
    assert size.file_bytes == len(flatbuffer) and size.one_bit_bytes == counts.size_bytes
    # Stated factor: within 1.0-1.3x of the 1-bit figure (binary weights packed 32 per int32;
    # overhead: per-channel multipliers, tensor metadata), far below float32 weights.
    assert 1.0 <= size.ratio <= 1.3
    assert size.file_bytes < 0.2 * counts.params * 4
    assert "x1." in str(size)

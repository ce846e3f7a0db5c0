"""Reading a flatbuffer: ops with their options, the op histogram, bconv geometry, bad input."""

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo.analysis import count_model
from bnnzoo.converters.lce import bconv_ops, op_histogram, read_ops, to_tflite
from bnnzoo.converters.verify import randomize_weights
from tests.converters.lce._tiny import converted


def test_pad_values_end_up_in_the_bconv_options():
    for variant, expected in (("plain", 0), ("pad_value_1", 1)):
        _, flatbuffer = converted("resnet_e", variant)
        bconvs = [op for op in read_ops(flatbuffer) if op.name == "LceBconv2d"]
        assert {op.options["pad_values"] for op in bconvs} == {expected}


def test_histogram_counts_every_op_most_frequent_first():
    _, flatbuffer = converted("resnet_e", "plain")
    histogram = op_histogram(flatbuffer)
    assert sum(histogram.values()) == len(read_ops(flatbuffer))
    assert list(histogram.values()) == sorted(histogram.values(), reverse=True)


def test_bconv_geometry_comes_from_the_flatbuffer():
    """LCE groups a bconv when each group has a multiple of 32 input channels."""
    x = tf.keras.Input((8, 8, 64))
    sign = {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign", "use_bias": False}
    y = lq.layers.QuantConv2D(64, 3, groups=2, strides=2, padding="same", **sign)(x)
    model = randomize_weights(tf.keras.Model(x, tf.keras.layers.BatchNormalization()(y)), seed=0)
    [bconv] = bconv_ops(to_tflite(model))
    assert (bconv.groups, bconv.channels_in, bconv.filters) == (2, 64, 64)
    assert (bconv.kernel, bconv.strides, bconv.output_hw) == ((3, 3), (2, 2), (4, 4))
    assert bconv.macs == 4 * 4 * 3 * 3 * 32 * 64 == count_model(model).binary_macs


def test_bad_flatbuffer_is_refused(tmp_path):
    _, flatbuffer = converted("resnet_e", "plain")
    with pytest.raises(ValueError, match="TFL3"):
        op_histogram(b"not a flatbuffer")
    with pytest.raises(ValueError, match="Received a path"):
        op_histogram(str(tmp_path / "m.tflite"))
    with pytest.raises(ValueError, match="Received: list"):
        read_ops([1, 2, 3])
    assert op_histogram(flatbuffer)  # the bytes themselves are fine

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import analysis, zoo
from bnnzoo.layers import binary_conv2d


def _model():
    x = inputs = tf.keras.Input((10, 10, 3))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="fp")(x)  # 10x10x8
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = binary_conv2d(16, 3, strides=2, name="bin")(x)  # 5x5x16
    x = lq.layers.QuantConv2D(4, 1, kernel_quantizer="ste_sign", use_bias=False, name="w1")(x)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(2, name="head")(x)
    return tf.keras.Model(inputs, x)


def test_counts_by_hand():
    counts = analysis.count_model(_model())
    by_name = {layer.name: layer for layer in counts.layers}
    assert by_name["fp"].float_macs == 10 * 10 * 3 * 3 * 3 * 8
    assert by_name["bin"].binary_macs == 5 * 5 * 3 * 3 * 8 * 16
    assert by_name["bin"].float_macs == 0
    # binary weights with float inputs are not an xnor-popcount: float MACs, 32-bit storage
    assert by_name["w1"].float_macs == 5 * 5 * 16 * 4 and by_name["w1"].binary_params == 0
    assert by_name["dw"].float_macs == 5 * 5 * 3 * 3 * 4
    assert by_name["head"].float_macs == 4 * 2
    assert counts.binary_params == 3 * 3 * 8 * 16
    # storage: binary kernel 1 bit; trainable float weights 32 bits; BN moving stats left out
    float_trainable = 3 * 3 * 3 * 8 + 2 * 8 + 16 * 4 + 3 * 3 * 4 + 4 * 2 + 2
    assert counts.size_bytes == (3 * 3 * 8 * 16 + 32 * float_trainable) / 8
    assert counts.params == counts.binary_params + float_trainable + 2 * 8
    assert counts.ops(64) == counts.float_macs + counts.binary_macs / 64


def test_binary_densenet28_figures():
    counts = analysis.count_model(zoo.BinaryDenseNet28())
    # every binary conv is a 3x3 conv producing 64 channels, in 4 stages of 56, 28, 14, 7 px
    assert counts.binary_macs == sum(
        side * side * 9 * 64 * c_in
        for side, c_in in [(56, c) for c in range(64, 64 * 7, 64)]
        + [(28, c) for c in range(160, 160 + 64 * 6, 64)]
        + [(14, c) for c in range(192, 192 + 64 * 6, 64)]
        + [(7, c) for c in range(256, 256 + 64 * 5, 64)]
    )
    assert counts.binary_macs / 1e9 == pytest.approx(3.587, abs=1e-3)


def test_unknown_spatial_size_is_a_clear_error():
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(8,), input_shape=(None, None, 3), num_classes=2
    )
    with pytest.raises(ValueError, match="unknown spatial size"):
        analysis.count_model(model)


def test_rejects_non_models():
    with pytest.raises(TypeError, match="tf.keras.Model"):
        analysis.count_model("binary_densenet28")


def test_storage_ops_and_activations_by_hand():
    counts = analysis.count_model(_model())
    # storage as Zhu et al. 2022 count it: 1 bit per binary weight, 32 per other, no BatchNorm:
    # fp 3*3*3*8 = 216, w1 16*4 = 64, dw 3*3*4 = 36, head 4*2 + 2 = 10 at 32 bits; bin 1152 at 1
    assert counts.storage_mbit == (3 * 3 * 8 * 16 + 32 * (216 + 64 + 36 + 10)) / 1e6
    assert sum(l.storage_bits for l in counts.layers if l.name == "bn") == 0
    # binary MACs 5*5*9*8*16 = 28800; float 21600 (fp) + 1600 (w1) + 900 (dw) + 8 (head)
    assert (counts.binary_macs, counts.float_macs) == (28800, 24108)
    assert counts.ops_bops64 == 24108 + 28800 / 64 == 24558
    assert counts.ops_bdn == 24108 + 28800 / 32 == 25008
    # output elements per image of the convs and the dense layer: 10*10*8, 5*5*16, 5*5*4 (w1),
    # 5*5*4 (dw), 2 (head); BatchNorm, pooling add none
    assert counts.activations == 800 + 400 + 100 + 100 + 2


def test_other_convolutions_by_hand():
    x = inputs = tf.keras.Input((4, 4, 2))
    x = tf.keras.layers.SeparableConv2D(4, 3, padding="same", use_bias=False, name="sep")(x)
    x = tf.keras.layers.Conv2DTranspose(3, 2, strides=2, use_bias=False, name="up")(x)  # 8x8x3
    x = tf.keras.layers.Reshape((64, 3))(x)
    x = tf.keras.layers.Conv1D(5, 3, padding="same", use_bias=False, name="c1d")(x)  # 64x5
    by_name = {c.name: c for c in analysis.count_model(tf.keras.Model(inputs, x)).layers}
    # separable: depthwise 4*4 positions * 3*3*2, then pointwise 4*4 * 2*4
    assert by_name["sep"].float_macs == 16 * 9 * 2 + 16 * 2 * 4
    # transposed: every *input* position (4x4) meets the whole 2x2x4x3 kernel
    assert by_name["up"].float_macs == 16 * 2 * 2 * 4 * 3
    assert by_name["up"].activations == 8 * 8 * 3
    assert by_name["c1d"].float_macs == 64 * 3 * 3 * 5


def test_shapes_only_builds_zeros_with_the_same_counts_and_ends_with_its_block():
    def build():
        return zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(16, 32),
                                 input_shape=(32, 32, 3), num_classes=10)  # fmt: skip

    with analysis.shapes_only():
        counted = build()
    assert all(not np.any(w) for w in counted.get_weights())
    initialized = build()  # outside the block: the initializers' values again
    kernels = [w for w in initialized.trainable_weights if "kernel" in w.name]
    assert kernels and all(np.any(w.numpy()) for w in kernels)
    figures = ("params", "binary_macs", "float_macs", "size_bytes", "activations")
    a, b = analysis.count_model(counted), analysis.count_model(initialized)
    assert [getattr(a, f) for f in figures] == [getattr(b, f) for f in figures]
    assert a.binary_macs > 0

"""The OpenVINO exporter: outputs equal Keras, every binary conv runs as BinaryConvolution.

Tolerances. A binary convolution's output is an integer, so models made of BatchNorm → binary
conv must match Keras exactly (``assert_array_equal``). Whole networks also run float convs,
BatchNorm after convs and a dense head, which OpenVINO sums in another order than TensorFlow:
they must agree within ``max |diff| <= 1e-5 * max |keras| + 1e-5`` per sample (measured:
about 1e-7), with the same top-1 class. Weights are randomized (``conftest.randomize``) so that
no value reaches ``sign`` exactly at 0 by accident of initialisation; outputs are logits.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.converters import openvino as ovx
from bnnzoo.layers import binary_conv2d
from tests.conftest import randomize

RTOL = 1e-5
ATOL = 1e-5

CONFIGS = {
    "densenet_dilated": lambda: zoo.BinaryDenseNet(
        layers_per_stage=(2, 2), reduction=(2,), dilation_rates=(1, 2), **_small()
    ),
    "densenet_pad1": lambda: zoo.BinaryDenseNet(
        layers_per_stage=(2, 2), reduction=(2,), pad_value=1.0, **_small()
    ),
    "densenet_binary_downsampling": lambda: zoo.BinaryDenseNet(
        layers_per_stage=(2, 1, 1), reduction=(1.4, 1.4), downsampling="binary", **_small()
    ),
    "densenet_scaling": lambda: zoo.BinaryDenseNet(
        layers_per_stage=(2, 2), reduction=(2,), scaling=True, **_small()
    ),
    "densenet_imagenet_stem": lambda: zoo.BinaryDenseNet(
        layers_per_stage=(1, 1), reduction=(2,), **_small(input_shape=(64, 64, 3))
    ),
    "resnet_e": lambda: zoo.BinaryResNetE(
        blocks_per_stage=(1, 2), filters=(16, 32), **_small(input_shape=(16, 16, 3))
    ),
    "resnet_e_binary_downsampling_pad1": lambda: zoo.BinaryResNetE(
        blocks_per_stage=(1, 1, 1),
        filters=(16, 32, 48),
        downsampling="binary",
        pad_value=1.0,
        **_small(input_shape=(24, 24, 3)),
    ),
    "resnet_e_scaling": lambda: zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(16, 32), scaling=True, **_small(input_shape=(16, 16, 3))
    ),
}


def _small(input_shape=(32, 32, 3)) -> dict:
    return dict(input_shape=input_shape, num_classes=10, classifier_activation=None)


def _randomized(build, seed: int = 0) -> tf.keras.Model:
    model = build()
    randomize(model, np.random.default_rng(seed))
    return model


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_zoo_models_match_keras_and_run_binary(config):
    model = _randomized(CONFIGS[config])
    compiled = ovx.compile(ovx.to_openvino(model), threads=2)

    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed, report.failure_message()
    assert report.top1_agreement == 1.0

    expected = set(ovx.binary_conv_layers(model))
    assert expected, "the configuration has binary convolutions"
    assert set(ovx.binary_ops_in_runtime(compiled)) == expected
    for name, kernel in ovx.binary_ops_in_runtime(compiled).items():
        assert kernel.endswith("u1"), f"{name} ran as {kernel}, not on packed bits"
    signs = [op for op in ovx.runtime_ops(compiled) if op.layer_type == "FakeQuantize"]
    assert len(signs) == len(expected)
    assert all(op.output_precision == "u1" for op in signs)  # binarization writes packed bits


def _bn_binary_conv(channels: int, **conv_kwargs) -> tf.keras.Model:
    inputs = tf.keras.Input((9, 11, channels))
    x = tf.keras.layers.BatchNormalization(epsilon=1e-5, name="bn")(inputs)
    y = binary_conv2d(13, name="conv", **conv_kwargs)(x)
    return tf.keras.Model(inputs, y)


@pytest.mark.parametrize(
    "conv_kwargs",
    [
        dict(kernel_size=3, pad_value=0.0),
        dict(kernel_size=3, pad_value=1.0),
        dict(kernel_size=3, pad_value=0.0, strides=2),
        dict(kernel_size=3, pad_value=1.0, strides=2),
        dict(kernel_size=3, pad_value=0.0, dilation_rate=2),
        dict(kernel_size=3, pad_value=1.0, dilation_rate=2),
        dict(kernel_size=3, padding="valid"),
        dict(kernel_size=1, strides=2),
        dict(kernel_size=3, magnitude_aware=True),
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
@pytest.mark.parametrize("channels", [20, 37, 64])
def test_binary_conv_is_exact(conv_kwargs, channels):
    """BatchNorm → binary conv: integer outputs equal Keras bit for bit, borders included.

    20 and 37 channels take the exporter's channel padding (an even and an odd number of padded
    channels). ``MagnitudeAwareSign`` multiplies by a float scale, so that case is compared
    within float rounding.
    """
    model = _randomized(lambda: _bn_binary_conv(channels, **conv_kwargs), seed=channels)
    bn = model.get_layer("bn")
    gamma, beta, mean, variance = bn.get_weights()
    gamma[:3] = [-1.5, 0.0, 2.0]  # a flipped comparison and a constant channel
    beta[1] = 0.0  # constant channel with sign(0) = +1
    bn.set_weights([gamma, beta, mean, variance])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 9, 11, channels)).astype(np.float32)
    # values on and next to each channel's switching point, where rounding decides the sign
    crossing = (mean - beta * np.sqrt(variance + 1e-5) / np.where(gamma == 0, 1, gamma)).astype(
        np.float32
    )
    x[0, :3] = crossing
    x[1, :3] = np.nextafter(crossing, np.float32(np.inf))
    x[2, :3] = np.nextafter(crossing, np.float32(-np.inf))
    x[0, 4] = 0.0

    compiled = ovx.compile(ovx.to_openvino(model, batch_size=3))
    expected = model.predict(x, verbose=0)
    if conv_kwargs.get("magnitude_aware"):
        scale = np.abs(expected).max()
        np.testing.assert_allclose(ovx.predict(compiled, x), expected, rtol=0, atol=1e-6 * scale)
    else:
        np.testing.assert_array_equal(ovx.predict(compiled, x), expected)
    assert set(ovx.binary_ops_in_runtime(compiled)) == {"conv"}


def test_sign_of_zero_is_plus_one():
    """A binary conv fed directly by the input: exact zeros (and -0.0) binarize to +1."""
    inputs = tf.keras.Input((6, 6, 20))
    model = tf.keras.Model(inputs, binary_conv2d(8, 3, pad_value=0.0)(inputs))
    randomize(model, np.random.default_rng(2))
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 20)).astype(np.float32)
    x[0, :, :3] = 0.0
    x[1, :, :3] = -0.0
    compiled = ovx.compile(ovx.to_openvino(model, batch_size=2))
    y = ovx.predict(compiled, x)
    np.testing.assert_array_equal(y, model.predict(x, verbose=0))
    ones_instead = ovx.predict(compiled, np.where(x == 0, np.float32(1.0), x))
    np.testing.assert_array_equal(y, ones_instead)  # a zero binarizes like a positive value


def test_float_layers_match_keras():
    """The float side of the walker: depthwise, pooling, flatten, dense, merges, relu6."""
    inputs = tf.keras.Input((12, 12, 8))
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    d = tf.keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    b = tf.keras.layers.MaxPooling2D(3, strides=2, padding="same")(d)  # signed: borders matter
    x = tf.keras.layers.ReLU(max_value=6.0)(d)
    a = tf.keras.layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = tf.keras.layers.Multiply()([a, tf.keras.layers.Activation("sigmoid")(b)])
    x = tf.keras.layers.Add()([x, a, b])
    g = tf.keras.layers.GlobalMaxPooling2D()(tf.keras.layers.Activation("softmax")(x))
    f = tf.keras.layers.Dense(7, activation="tanh")(tf.keras.layers.Flatten()(x))
    y = tf.keras.layers.Concatenate()([g, f])
    y = tf.keras.layers.Dropout(0.5)(y)
    y = tf.keras.layers.Dense(5)(y)  # logits: a softmax here would saturate
    model = tf.keras.Model(inputs, y)
    randomize(model, np.random.default_rng(4))
    compiled = ovx.compile(ovx.to_openvino(model))
    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed, report.failure_message()


def test_ir_round_trip(tmp_path):
    model = _randomized(CONFIGS["resnet_e"])
    ov_model = ovx.to_openvino(model, tmp_path)
    xml = tmp_path / f"{model.name}.xml"
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    x = np.random.default_rng(5).normal(size=(2, 16, 16, 3)).astype(np.float32)
    from_memory = ovx.predict(ovx.compile(ov_model), x)
    from_file = ovx.compile(xml)
    np.testing.assert_array_equal(ovx.predict(from_file, x), from_memory)
    assert set(ovx.binary_ops_in_runtime(from_file)) == set(ovx.binary_conv_layers(model))


def test_exported_graph_has_one_binary_convolution_per_binary_layer():
    model = _randomized(CONFIGS["densenet_dilated"])
    types = [op.get_type_name() for op in ovx.to_openvino(model).get_ordered_ops()]
    assert types.count("BinaryConvolution") == len(ovx.binary_conv_layers(model)) == 4
    assert "BatchNormInference" not in types


def test_profile_names_binary_convolutions():
    model = _randomized(CONFIGS["resnet_e"])
    compiled = ovx.compile(ovx.to_openvino(model), profiling=True)
    x = np.zeros((1, 16, 16, 3), np.float32)
    times = ovx.profile(compiled, x, runs=2)
    assert {t.name for t in times if t.node_type == "BinaryConvolution"} == set(
        ovx.binary_conv_layers(model)
    )
    summary = ovx.summarize_profile(times)
    assert summary["BinaryConvolution"] > 0
    assert list(summary.values()) == sorted(summary.values(), reverse=True)


def test_unsupported_layer_is_named():
    inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(4, 3)(inputs)
    x = tf.keras.layers.LayerNormalization(name="odd_norm")(x)
    model = tf.keras.Model(inputs, x)
    with pytest.raises(ValueError, match=r"'odd_norm' \(LayerNormalization\).*Supported layers"):
        ovx.to_openvino(model)


def test_unsupported_quantizer_is_named():
    inputs = tf.keras.Input((8, 8, 3))
    import larq as lq

    x = lq.layers.QuantConv2D(
        4, 3, input_quantizer="ste_heaviside", kernel_quantizer="ste_sign", name="heaviside"
    )(inputs)
    with pytest.raises(ValueError, match=r"'heaviside' \(QuantConv2D\).*SteHeaviside"):
        ovx.to_openvino(tf.keras.Model(inputs, x))


def test_bad_arguments():
    model = _randomized(CONFIGS["resnet_e"])
    with pytest.raises(ValueError, match="batch_size"):
        ovx.to_openvino(model, batch_size=0)
    with pytest.raises(ValueError, match="Keras model"):
        ovx.to_openvino("binary_densenet28")
    with pytest.raises(ValueError, match="threads"):
        ovx.compile(ovx.to_openvino(model), threads=0)
    with pytest.raises(ValueError, match="profiling=True"):
        ovx.profile(ovx.compile(ovx.to_openvino(model)), np.zeros((1, 16, 16, 3), np.float32))
    with pytest.raises(FileNotFoundError):
        ovx.compile("no/such/model.xml")
    dynamic = zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(8,), input_shape=(None, None, 3), num_classes=2
    )
    with pytest.raises(ValueError, match="fixed input_shape"):
        ovx.to_openvino(dynamic)
    with pytest.raises(ValueError, match=r"shape \(n, 16, 16, 3\)"):
        ovx.predict(ovx.compile(ovx.to_openvino(model)), np.zeros((1, 8, 8, 3), np.float32))


def test_export_openvino_writes_checks_and_reports(tmp_path):
    model = _randomized(CONFIGS["densenet_dilated"])
    report = ovx.export_openvino(model, tmp_path / "bdn.xml", n=2, atol=ATOL, rtol=RTOL)
    assert (tmp_path / "bdn.xml").is_file() and (tmp_path / "bdn.bin").is_file()
    assert report.all_binary and report.verify.passed
    assert report.histogram["BinaryConvolution"] == 4
    assert "4 of 4 binary layers execute as BinaryConvolution" in str(report)
    with pytest.raises(ValueError, match="only apply when building a zoo model"):
        ovx.export_openvino(model, None, num_classes=3)

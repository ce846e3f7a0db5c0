"""The graph walker: every layer kind it emits computes what Keras computes, every binary conv
runs as BinaryConvolution on packed bits, and what it cannot export is named. Tolerances: see
``_models``."""

from __future__ import annotations

import larq as lq
import numpy as np
import openvino.opset13 as ov_ops
import pytest
import tensorflow as tf

from bnnzoo import layers, zoo
from bnnzoo.converters import openvino as ovx
from bnnzoo.converters.exact import check_conversion
from bnnzoo.layers import binary_conv2d
from tests.conftest import randomize
from tests.converters.openvino._models import ATOL, CONFIGS, RTOL, randomized


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_zoo_models_match_keras_and_run_binary(config):
    model = randomized(CONFIGS[config])
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
    model = randomized(lambda: _bn_binary_conv(channels, **conv_kwargs), seed=channels)
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


@pytest.mark.parametrize("negative_scale", [False, True])
def test_max_pool_runs_before_a_batch_norm_with_non_negative_scales(negative_scale):
    inputs = tf.keras.Input((9, 9, 16))
    x = tf.keras.layers.BatchNormalization(name="bn")(inputs)
    x = tf.keras.layers.MaxPooling2D(2, padding="same", name="pool")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Flatten()(x))
    randomize(model, np.random.default_rng(5))
    gamma = np.abs(model.get_layer("bn").gamma.numpy())
    gamma[3] = 0.0 if not negative_scale else -gamma[3]
    model.get_layer("bn").gamma.assign(gamma)
    ov_model = ovx.to_openvino(model)
    pool = next(op for op in ov_model.get_ordered_ops() if op.get_type_name() == "MaxPool")
    producer = pool.input(0).get_source_output().get_node().get_friendly_name()
    assert (producer == "bn") == negative_scale  # pooled first unless a scale is negative
    x = np.random.default_rng(6).normal(size=(4, 9, 9, 16)).astype(np.float32)
    keras = model.predict(x, verbose=0)
    np.testing.assert_allclose(ovx.predict(ovx.compile(ov_model), x), keras, rtol=1e-6, atol=1e-6)


def test_a_binarized_residual_sum_stays_exact():
    """The plugin would fuse conv -> Add -> binarization into one node and convert the residual
    to bits for it (46 % of the largest logit off); the exporter keeps the sum out of it."""
    model = zoo.WideResNetCifar(d=1, n=2, precision="binary", **_small_wrn())
    randomize(model, np.random.default_rng(7))
    compiled = ovx.compile(ovx.to_openvino(model))
    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed and report.rounding_exact == 4, report.failure_message()
    runtime = ovx.runtime_ops(compiled)
    assert not [
        op.name
        for op in runtime
        if op.output_precision == "u1" and "ref" in op.primitive_type and not op.constant
    ]
    fused = [
        op for op in runtime if op.layer_type == "BinaryConvolution" and op.output_precision == "u1"
    ]
    assert fused  # binarizations that read no sum still fuse into the conv before them


def _small_wrn() -> dict:
    return dict(input_shape=(16, 16, 3), num_classes=10, classifier_activation=None)


def test_exported_graph_has_one_binary_convolution_per_binary_layer():
    model = randomized(CONFIGS["densenet_dilated"])
    types = [op.get_type_name() for op in ovx.to_openvino(model).get_ordered_ops()]
    assert types.count("BinaryConvolution") == len(ovx.binary_conv_layers(model)) == 4
    assert "BatchNormInference" not in types


def test_unsupported_layer_is_named():
    inputs = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(4, 3)(inputs)
    x = tf.keras.layers.LayerNormalization(name="odd_norm")(x)
    model = tf.keras.Model(inputs, x)
    with pytest.raises(ValueError, match=r"'odd_norm' \(LayerNormalization\).*Supported layers"):
        ovx.to_openvino(model)


def test_unsupported_quantizer_is_named():
    inputs = tf.keras.Input((8, 8, 3))
    x = lq.layers.QuantConv2D(
        4, 3, input_quantizer="ste_heaviside", kernel_quantizer="ste_sign", name="heaviside"
    )(inputs)
    with pytest.raises(ValueError, match=r"'heaviside' \(QuantConv2D\).*SteHeaviside"):
        ovx.to_openvino(tf.keras.Model(inputs, x))


def test_inputs_need_a_fixed_image_shape():
    dynamic = zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(8,), input_shape=(None, None, 3), num_classes=2
    )
    with pytest.raises(ValueError, match="fixed input_shape"):
        ovx.to_openvino(dynamic)


def test_larq_float_layers_reshape_and_tf_add_match_keras():
    """What QuickNet and BinaryAlexNet need: larq layers without quantizers, ``a + b`` written
    with TensorFlow (a TFOpLambda), a binary conv with pad 1 and ReLU, Reshape to a 1×1 map."""
    inputs = tf.keras.Input((8, 8, 3))
    x = lq.layers.QuantConv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = lq.layers.QuantDepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization(scale=False, center=False)(x)
    y = lq.layers.QuantConv2D(
        16, 3, padding="same", pad_values=1.0, activation="relu", use_bias=False,
        input_quantizer="ste_sign", kernel_quantizer="ste_sign",
    )(x)  # fmt: skip
    x = tf.keras.layers.BatchNormalization()(y) + x
    x = tf.keras.layers.Reshape((1, 1, 4 * 4 * 16))(x)
    x = tf.keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(5)(x)
    model = tf.keras.Model(inputs, x)
    randomize(model, np.random.default_rng(6))
    compiled = ovx.compile(ovx.to_openvino(model))
    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed, report.failure_message()
    assert len(ovx.binary_ops_in_runtime(compiled)) == 1


def test_a_tf_add_read_back_from_a_keras_file_exports(tmp_path):
    """Keras saves ``a + b`` on Keras tensors as ``tf.__operators__.add(a, y=b)``; a trained
    model loaded from its ``.keras`` file must export as the model it was built as."""
    inputs = tf.keras.Input((4, 4, 8))
    x = tf.keras.layers.Conv2D(8, 3, padding="same")(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.Flatten()(x + inputs))
    randomize(model, np.random.default_rng(8))
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras")
    node = next(n for layer in loaded.layers for n in layer.inbound_nodes if "add" in layer.name)
    assert len(node.call_args) == 1 and "y" in node.call_kwargs  # the form read back
    report = ovx.verify_openvino(
        loaded, ovx.compile(ovx.to_openvino(loaded)), n=2, atol=ATOL, rtol=RTOL
    )
    assert report.passed, report.failure_message()


def test_every_layer_is_checked_before_any_op_is_emitted(monkeypatch):
    """The first layer that cannot be exported is named, with the others; nothing is emitted."""
    inputs = tf.keras.Input((8, 8, 4))
    x = tf.keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = tf.keras.layers.Lambda(lambda t: t * 2, name="doubled")(x)
    x = tf.math.multiply(x, 3.0)  # a TFOpLambda other than a + b
    x = tf.keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(
        3, input_quantizer=lq.quantizers.DoReFa(k_bit=2), name="two_bit_dense"
    )(x)
    emitted = []
    monkeypatch.setattr(ovx.graph.Graph, "_emit", lambda self, node: emitted.append(node))
    with pytest.raises(ValueError) as info:
        ovx.to_openvino(tf.keras.Model(inputs, x))
    message = str(info.value)
    assert message.startswith("Cannot export layer 'doubled' (Lambda)")
    assert "2 more layers cannot be exported either: tf.math.multiply" in message
    assert message.endswith(", two_bit_dense.")
    assert emitted == []


def test_multi_bit_dense_is_refused_naming_the_quantizer():
    inputs = tf.keras.Input((6,))
    x = lq.layers.QuantDense(3, input_quantizer=lq.quantizers.DoReFa(k_bit=2), name="dorefa")(
        inputs
    )
    with pytest.raises(
        ValueError, match=r"'dorefa' \(QuantDense\).*DoReFa \(2-bit\) is not a sign"
    ):
        ovx.to_openvino(tf.keras.Model(inputs, x))


def _binary_dense_head() -> tf.keras.Model:
    """Wu et al.'s kind of head: BatchNorm -> flatten -> binary dense (sign input, binary kernel,
    13 units: the next input is not a multiple of 8 channels) -> BatchNorm -> binary dense with a
    magnitude-aware kernel -> BatchNorm -> dense with a sign input and a float kernel -> fixed
    scaling."""
    inputs = tf.keras.Input((6, 6, 8))
    x = tf.keras.layers.Flatten()(tf.keras.layers.BatchNormalization()(inputs))
    kernels = (("ste_sign", 13), (lq.quantizers.MagnitudeAwareSign(), 16), (None, 5))
    for i, (kernel, units) in enumerate(kernels):
        if i:
            x = tf.keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = lq.layers.QuantDense(
            units, input_quantizer="ste_sign", kernel_quantizer=kernel, use_bias=False,
            name=f"dense{i}",
        )(x)  # fmt: skip
    return tf.keras.Model(inputs, layers.FixedScaling(0.25)(x))


def test_binary_dense_is_exact_with_its_batch_norm_folded_into_the_sign():
    model = _binary_dense_head()
    randomize(model, np.random.default_rng(5))
    report, margins = check_conversion(
        model, lambda m: _engine(ovx.compile(ovx.to_openvino(m))), n=4
    )
    assert report.passed and report.rounding_exact == 4, report.failure_message()
    assert margins.smallest > 0
    compiled = ovx.compile(ovx.to_openvino(model))
    assert ovx.binary_conv_layers(model) == ["dense0", "dense1"]  # binary kernels: bitwise
    assert sorted(ovx.binary_ops_in_runtime(compiled)) == ["dense0", "dense1"]
    # a BatchNorm directly before the sign folds into its threshold. Ties: with mean 0 and
    # beta = -(k * a) in float32 (a = gamma / sqrt(var + eps), k an even integer, what 288
    # terms of +-1 sum to), Keras' BatchNorm is 0 at x = k to rounding, and its own rounding
    # decides the sign; the same BatchNorm computed in another order (a fused multiply-add)
    # lands on either side.
    bn = model.get_layer("bn1")
    scale = bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    k = 2.0 * np.round(np.random.default_rng(2).normal(size=scale.shape) * 3.0)
    bn.moving_mean.assign(np.zeros_like(scale))
    bn.beta.assign(-(k.astype(np.float32) * scale.astype(np.float32)))
    x = np.random.default_rng(1).normal(size=(64, 6, 6, 8)).astype(np.float32)
    sums = tf.keras.Model(model.inputs, bn.input)(x).numpy()
    assert np.sum(sums == k) >= 5  # ties on several channels and inputs
    assert np.abs(bn(sums, training=False).numpy()[sums == k]).max() < 1e-5
    compiled = ovx.compile(ovx.to_openvino(model))
    np.testing.assert_allclose(ovx.predict(compiled, x), model(x).numpy(), rtol=1e-6, atol=1e-6)


def _channel_layers_model() -> tf.keras.Model:
    """MeliusNet's and Real-to-Binary Net's layers: a grouped conv as ChannelSplit -> one conv
    per group -> Concatenate, AddToLastChannels, Identity, a broadcast Multiply, Softmax."""
    inputs = tf.keras.Input((6, 6, 8))
    groups = layers.ChannelSplit(2)(inputs)
    x = tf.keras.layers.Concatenate()(
        [tf.keras.layers.Conv2D(6, 3, padding="same")(g) for g in groups]
    )
    new = tf.keras.layers.Conv2D(4, 1)(x)
    x = layers.AddToLastChannels()([x, new])
    x = tf.keras.layers.Identity(name="block_out")(x)
    gate = tf.keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = tf.keras.layers.Multiply()([gate, x])  # (1, 1, 12) times (6, 6, 12)
    x = tf.keras.layers.Softmax()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Flatten()(x))


def test_channel_layers_match_keras_and_a_wrong_merge_fails(monkeypatch):
    model = _channel_layers_model()
    randomize(model, np.random.default_rng(7))

    def convert(m):
        return _engine(ovx.compile(ovx.to_openvino(m)))

    report, _ = check_conversion(model, convert, n=4)
    assert report.passed and report.rounding_exact == 4, report.failure_message()

    def padded_behind(graph, layer, inputs, output):  # the new channels added to the first ones
        x, y = (graph.get(t) for t in inputs)
        front = np.zeros(4, np.int64)
        behind = np.array([0, inputs[0].shape[-1] - inputs[1].shape[-1], 0, 0], np.int64)
        padded = ov_ops.pad(y, front, behind, "constant").output(0)
        return ov_ops.add(x, padded).output(0)

    emitters = tuple(
        (cls, padded_behind if cls is layers.AddToLastChannels else emitter)
        for cls, emitter in ovx.graph.EMITTERS
    )
    monkeypatch.setattr(ovx.graph, "EMITTERS", emitters)
    broken, _ = check_conversion(model, convert, n=4)
    assert not broken.passed


def _engine(compiled):
    return lambda batch: ovx.predict(compiled, batch)

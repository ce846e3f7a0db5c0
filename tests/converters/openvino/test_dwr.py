"""The Bi-Real ResNets of the DWR family (bnnzoo.zoo.bireal with the parameter-free
``ChannelPadShortcut``) on the OpenVINO path: Keras's outputs, every binary conv on packed
bits. Tolerances: see ``_models``."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.converters import openvino as ovx
from bnnzoo.zoo.bireal import BiRealSpec, ChannelPadShortcut
from tests.converters.openvino._models import ATOL, RTOL, randomized


@pytest.mark.parametrize(
    "filters, strides", [(12, 2), (4, 2), (12, 1), (8, 3)], ids=["pad", "cut", "pad-s1", "s3"]
)
def test_channel_pad_shortcut_is_exact(filters, strides, rng):
    """Pixels kept and channels padded or cut exactly as the Keras layer does, odd sizes too."""
    x_in = tf.keras.Input((7, 9, 8))
    model = tf.keras.Model(x_in, ChannelPadShortcut(filters, strides, name="shortcut")(x_in))
    compiled = ovx.compile(ovx.to_openvino(model), threads=1)
    x = rng.normal(size=(1, 7, 9, 8)).astype("float32")
    np.testing.assert_array_equal(ovx.predict(compiled, x), model(x).numpy())


@pytest.mark.parametrize("name", ["resnet20_bireal", "dwr_resnet20_s3"])
def test_dwr_cifar_presets_match_keras_and_run_binary(name):
    model = randomized(lambda: zoo.create_model(name, classifier_activation=None))
    compiled = ovx.compile(ovx.to_openvino(model), threads=2)
    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed, report.failure_message()
    assert report.top1_agreement == 1.0
    expected = set(ovx.binary_conv_layers(model))
    assert expected and set(ovx.binary_ops_in_runtime(compiled)) == expected
    shortcuts = [layer for layer in model.layers if isinstance(layer, ChannelPadShortcut)]
    assert shortcuts, "the preset has no parameter-free shortcut to export"


@pytest.mark.parametrize("shared_axes", [[1, 2], None], ids=["per-channel", "per-element"])
def test_prelu_is_exact(shared_axes, rng):
    """PReLU's slopes in NCHW order: one per channel (Bi-Real's) or one per element."""
    x_in = tf.keras.Input((5, 7, 6))
    layer = tf.keras.layers.PReLU(shared_axes=shared_axes, name="prelu")
    model = tf.keras.Model(x_in, layer(x_in))
    layer.alpha.assign(rng.normal(size=layer.alpha.shape).astype("float32"))
    compiled = ovx.compile(ovx.to_openvino(model), threads=1)
    x = rng.normal(size=(1, 5, 7, 6)).astype("float32")
    np.testing.assert_array_equal(ovx.predict(compiled, x), model(x).numpy())


def test_bireal_resnet_with_prelu_matches_keras_and_runs_binary():
    """The ImageNet DWR network's block (binary conv, BN, add, PReLU), at a small size."""
    model = randomized(
        lambda: zoo.BiRealResNet(
            spec=BiRealSpec.from_blocks((1, 1), (16, 32), prelu=True, shortcut="pad"),
            input_shape=(32, 32, 3), num_classes=10, classifier_activation=None,
        )
    )  # fmt: skip
    assert any(isinstance(layer, tf.keras.layers.PReLU) for layer in model.layers)
    compiled = ovx.compile(ovx.to_openvino(model), threads=2)
    report = ovx.verify_openvino(model, compiled, n=4, atol=ATOL, rtol=RTOL)
    assert report.passed, report.failure_message()
    expected = set(ovx.binary_conv_layers(model))
    assert expected and set(ovx.binary_ops_in_runtime(compiled)) == expected

"""The Bi-Real ResNets of the DWR family (bnnzoo.zoo.bireal with the parameter-free
``ChannelPadShortcut``) on the OpenVINO path: Keras's outputs, every binary conv on packed
bits. Tolerances: see ``_models``."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.converters import openvino as ovx
from bnnzoo.zoo.bireal import ChannelPadShortcut
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

"""Small zoo configurations for the OpenVINO tests, with random weights.

Tolerances. A binary convolution's output is an integer, so models made of BatchNorm → binary
conv must match Keras exactly (``assert_array_equal``). Whole networks also run float convs,
BatchNorm after convs and a dense head, which OpenVINO sums in another order than TensorFlow:
they must agree within ``max |diff| <= 1e-5 * max |keras| + 1e-5`` per sample (measured:
about 1e-7), with the same top-1 class. Weights are randomized (``conftest.randomize``) so that
no value reaches ``sign`` exactly at 0 by accident of initialisation; outputs are logits.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bnnzoo import zoo
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


def randomized(build, seed: int = 0) -> tf.keras.Model:
    """``build()`` with random weights drawn from ``seed``."""
    model = build()
    randomize(model, np.random.default_rng(seed))
    return model

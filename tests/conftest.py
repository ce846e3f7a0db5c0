import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (selects Keras 2; must come before TensorFlow)

# isort: split
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Free the models of the previous test: the suite builds hundreds of them."""
    yield
    tf.keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize(model: tf.keras.Model, rng) -> list[np.ndarray]:
    """Give every weight a random value (moving variances positive) and return them."""
    values = []
    for weight in model.weights:
        value = rng.normal(size=weight.shape).astype("float32")
        if "moving_variance" in weight.name:
            value = np.abs(value) + 0.5
        values.append(value)
    model.set_weights(values)
    return values


@pytest.fixture
def tiny_model_factory():
    """A small ResNetE that builds in well under a second, for weight-file tests."""
    from bnnzoo import zoo

    def build(**kwargs):
        kwargs.setdefault("input_shape", (16, 16, 3))
        kwargs.setdefault("num_classes", 4)
        return zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(8, 16), **kwargs)

    return build

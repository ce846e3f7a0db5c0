"""Keras applications' rules for ``input_shape``, ``input_tensor`` and ``include_top``
(``imagenet_utils.obtain_input_shape``), kept by every family, larq-zoo's models included:
without the top and a shape the features take any image size; with the top, the default size;
any Keras tensor as ``input_tensor`` is the model's input (or its source is)."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from tests.zoo.test_models import FAMILY_SAMPLES

# larq-zoo's smallest model to build; 32 px is above its 29 px minimum
LARQ_ZOO_SAMPLE = "quicknet_small"
FAMILIES = [*FAMILY_SAMPLES, "larq_zoo"]


def _sample(family: str, **kwargs) -> tf.keras.Model:
    if family == "larq_zoo":
        return zoo.create_model(LARQ_ZOO_SAMPLE, **kwargs)
    model, preset_kwargs = FAMILY_SAMPLES[family]
    if callable(model):
        return model(**preset_kwargs, **kwargs)
    return zoo.create_model(model, **preset_kwargs, **kwargs)


def _stem_kernel(model: tf.keras.Model) -> tuple:
    return next(layer.kernel_size for layer in model.layers if hasattr(layer, "kernel_size"))


@pytest.mark.parametrize("family", FAMILIES)
def test_features_without_a_shape_take_any_image_size(family, rng):
    """include_top=False without input_shape: (None, None, 3), run at 32 and 48 px, with the
    stem of the model's default input (a CIFAR model keeps its 3×3 stem)."""
    model = _sample(family, include_top=False, pooling="avg")
    assert model.input_shape == (None, None, None, 3)
    for side in (32, 48):
        x = rng.normal(size=(1, side, side, 3)).astype("float32")
        out = model(x, training=False).numpy()
        assert out.shape == (1, model.output_shape[-1]) and np.isfinite(out).all()
    if family in ("bitnet", "wide_resnet", "dwr"):  # registered at 32×32: the small-input stem
        assert _stem_kernel(model) == (3, 3)
    if family == "wu":  # registered at 224×224: the ImageNet stem (WuAlexNet's 11×11/4)
        assert _stem_kernel(model) == (11, 11)


@pytest.mark.parametrize("family", FAMILIES)
def test_input_tensor_is_the_models_input(family):
    """A KerasTensor from tf.keras.Input: the model's input is that tensor, its shape the
    model's (larq-zoo's models too, which zookeeper would refuse it for)."""
    tensor = tf.keras.Input((64, 64, 3), name="my_images")
    model = _sample(family, input_tensor=tensor, num_classes=5)
    assert model.inputs[0] is tensor and len(model.inputs) == 1
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 5)


def test_an_intermediate_keras_tensor_is_connected_to_its_source(rng):
    """Keras applications connect to a tensor that is not an Input and take its source as the
    model's input; larq-zoo's model is called anew on it, in one flat graph."""
    images = tf.keras.Input((40, 40, 3), name="raw")
    scaled = tf.keras.layers.Rescaling(2.0, name="scale")(images)
    model = zoo.create_model(LARQ_ZOO_SAMPLE, input_tensor=scaled, include_top=False)
    assert model.inputs[0] is images
    assert "scale" in [layer.name for layer in model.layers]
    assert not any(isinstance(layer, tf.keras.Model) for layer in model.layers)  # not nested
    x = rng.normal(size=(1, 40, 40, 3)).astype("float32")
    plain = zoo.create_model(LARQ_ZOO_SAMPLE, input_shape=(40, 40, 3), include_top=False)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model(x), plain(2.0 * x), atol=1e-5)


def test_with_the_top_and_no_shape_the_default_size():
    model = zoo.create_model("binary_resnet_e18", num_classes=3)
    assert model.input_shape == (None, 224, 224, 3)
    cifar = zoo.create_model("dwr_resnet20_s3")
    assert cifar.input_shape == (None, 32, 32, 3)


@pytest.mark.parametrize("name", ["wu_alexnet", LARQ_ZOO_SAMPLE])
def test_a_top_built_for_one_size_needs_a_known_size(name):
    """Keras refuses an open height or width where the classifier is built for one size (a
    Flatten head; larq-zoo's classifiers); bnnzoo before building anything."""
    with pytest.raises(ValueError, match="needs a known input height and width"):
        zoo.create_model(name, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="needs a known input height and width"):
        zoo.create_model(name, input_tensor=tf.keras.Input((None, None, 3)))

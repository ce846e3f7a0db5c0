"""bnnzoo.zoo.loading.load_or_build: a model, a saved file or a zoo name, and what each refuses.

(Here with the converters, its callers; it builds and saves real models.)
"""

import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.zoo.loading import load_or_build


def test_load_or_build_sources(tmp_path):
    model = load_or_build("binary_resnet_e18", input_shape=(32, 32, 3), num_classes=10)
    assert model.name == "binary_resnet_e18" and model.output_shape == (None, 10)
    tiny = zoo.BinaryResNetE(blocks_per_stage=(1,), filters=(8,), input_shape=(8, 8, 3),
                             num_classes=4)  # fmt: skip
    tiny.save(tmp_path / "tiny.keras")
    loaded = load_or_build(str(tmp_path / "tiny.keras"))
    assert loaded.output_shape == (None, 4) and len(loaded.weights) == len(tiny.weights)
    with pytest.raises(ValueError, match="Unknown model 'binary_resnet_e81'"):
        load_or_build("binary_resnet_e81")
    with pytest.raises(FileNotFoundError, match="No saved model"):
        load_or_build(str(tmp_path / "nothing.keras"))
    with pytest.raises(ValueError, match="is a TFLite flatbuffer already"):
        load_or_build("model.tflite")
    with pytest.raises(ValueError, match="only apply when building a zoo model by name"):
        load_or_build(model, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="whose shape and weights are fixed"):
        load_or_build(tmp_path / "tiny.keras", num_classes=3)
    with pytest.raises(ValueError, match="Received: int"):
        load_or_build(18)


def test_load_or_build_with_logits_drops_the_softmax_of_zoo_names_only():
    name = "binary_resnet_e18"
    assert load_or_build(name, input_shape=(32, 32, 3)).layers[-1].name == "head_softmax"
    logits = load_or_build(name, input_shape=(32, 32, 3), logits=True)
    assert logits.layers[-1].name == "head_dense"
    x = tf.keras.Input((4, 4, 1))
    model = tf.keras.Model(x, tf.keras.layers.Softmax()(x))
    assert load_or_build(model, logits=True) is model

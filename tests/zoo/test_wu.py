"""Wu, Wu, Zhao 2016 (Binarized Neural Networks on the ImageNet Classification Task): the
13-layer BNN of Table 1 and the AlexNet-shaped BNN."""

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo import analysis, layers, zoo


def _kinds(model):
    return [layer for layer in model.layers if isinstance(layer, (tf.keras.layers.Conv2D,
            tf.keras.layers.Dense))]  # fmt: skip


def test_wu_bnn13_follows_table_1():
    model = zoo.WuBNN13()
    weighted = _kinds(model)
    convs = [layer for layer in weighted if isinstance(layer, tf.keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [128] + [384] * 3 + [512] * 6
    assert convs[0].kernel_size == (7, 7) and convs[0].strides == (2, 2)
    assert all(c.kernel_size == (3, 3) and c.strides == (1, 1) for c in convs[1:])
    dense = [layer for layer in weighted if isinstance(layer, tf.keras.layers.Dense)]
    assert [d.units for d in dense] == [4096, 1000]
    # float first and last weights; everything between binary
    assert not analysis.is_binary(convs[0]) and not analysis.is_binary(dense[-1])
    assert all(analysis.is_binary(layer) for layer in weighted[1:-1])
    assert isinstance(dense[-1].input_quantizer, lq.quantizers.SteSign)  # binary input
    assert model.get_layer("dropout").rate == 0.2
    assert isinstance(model.get_layer("head_scaling"), layers.FixedScaling)
    assert model.layers[-1].name == "head_softmax"
    assert model.get_layer("flatten").input_shape[1:] == (6, 6, 512)  # AlexNet's 6×6, no padding
    assert model.get_layer("fc1").kernel.shape == (6 * 6 * 512, 4096)


def test_wu_bnn13_small_inputs_pad_and_use_the_small_stem():
    model = zoo.WuBNN13(input_shape=(28, 28, 1), num_classes=10, dropout=0.0)
    assert model.get_layer("stem_conv").kernel_size == (3, 3)
    assert model.get_layer("block1_conv1").padding == "same"
    assert model.get_layer("flatten").input_shape[1:] == (3, 3, 512)
    assert not any(isinstance(layer, tf.keras.layers.Dropout) for layer in model.layers)


def test_wu_alexnet_has_alexnets_shape():
    model = zoo.WuAlexNet(input_shape=(227, 227, 3))
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size[0]) for c in convs] == [
        (96, 11), (256, 5), (384, 3), (384, 3), (256, 3),
    ]  # fmt: skip
    assert model.get_layer("flatten").input_shape[1:] == (6, 6, 256)
    assert [d.units for d in model.layers if isinstance(d, tf.keras.layers.Dense)] == [
        4096, 4096, 1000,
    ]  # fmt: skip


def test_fixed_scaling_is_not_trained_and_round_trips(tmp_path):
    layer = layers.FixedScaling(0.25)
    assert float(layer(tf.constant([4.0]))[0]) == 1.0
    assert layer.trainable_weights == []
    # the scaling layer's config is what travels: a narrow dense layer (16.8 M weights, not 25.1 M)
    model = zoo.WuBNN13(input_shape=(16, 16, 3), num_classes=3, logit_scale=0.5,
                        dense_units=(64,))  # fmt: skip
    model.save(tmp_path / "wu.keras")
    loaded = tf.keras.models.load_model(tmp_path / "wu.keras")
    assert loaded.get_layer("head_scaling").scale == 0.5


@pytest.mark.parametrize("kwargs", [{"logit_scale": 0}, {"dropout": 1.0}, {"logit_scale": True}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        zoo.WuBNN13(input_shape=(32, 32, 3), **kwargs)


def test_dense_units_set_the_binary_fully_connected_layers():
    model = zoo.WuBNN13(input_shape=(16, 16, 3), num_classes=3, dense_units=(64, 32))
    dense = [d for d in model.layers if isinstance(d, tf.keras.layers.Dense)]
    assert [d.units for d in dense] == [64, 32, 3]
    assert [d.name for d in dense] == ["fc1", "fc2", "head_dense"]
    with pytest.raises(ValueError, match=r"dense_units=512; write dense_units=\(512,\)"):
        zoo.WuAlexNet(input_shape=(16, 16, 3), dense_units=512)
    with pytest.raises(ValueError, match="non-empty sequence of positive ints"):
        zoo.WuAlexNet(input_shape=(16, 16, 3), dense_units=(512, 0))

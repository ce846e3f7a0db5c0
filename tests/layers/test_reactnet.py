"""ReActNet's RSign and RPReLU (Liu, Shen, Savvides, Cheng 2020) and the blocks built from them."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import layers
from bnnzoo.analysis import count_model, is_binary


def _set(layer, **values):
    for name, value in values.items():
        getattr(layer, name).assign(np.asarray(value, np.float32))


def test_rsign_shifts_each_channel_by_its_threshold_before_the_convs_sign():
    rsign = layers.RSign()
    x = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]], np.float32)
    assert np.all(rsign(x).numpy() == x)  # alpha starts at 0
    _set(rsign, alpha=[0.5, -2.0, 3.0])
    np.testing.assert_array_equal(rsign(x).numpy(), x - np.float32([0.5, -2.0, 3.0]))
    # with the conv's sign quantizer: sign(x - alpha), +1 where x == alpha (larq's sign(0) = 1)
    signs = lq.quantizers.SteSign()(rsign(x)).numpy()
    np.testing.assert_array_equal(signs, [[1, 1, -1], [-1, 1, -1]])
    assert [w.name.split("/")[-1] for w in rsign.weights] == ["alpha:0"]


def test_rprelu_is_a_prelu_between_two_learned_shifts():
    rprelu = layers.RPReLU()
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(1, 2, 2, 3)
    np.testing.assert_allclose(rprelu(x).numpy(), np.where(x >= 0, x, 0.25 * x))  # a PReLU
    gamma, slope, zeta = [0.5, -1.0, 0.0], [0.1, -0.5, 2.0], [1.0, 0.0, -3.0]
    _set(rprelu, gamma=gamma, slope=slope, zeta=zeta)
    shifted = x - np.array(gamma, np.float32)
    expected = np.where(shifted >= 0, shifted, np.array(slope, np.float32) * shifted) + zeta
    np.testing.assert_allclose(rprelu(x).numpy(), expected, rtol=1e-6)
    assert len(rprelu.trainable_weights) == 3 and rprelu.count_params() == 9


def test_an_unknown_channel_count_is_refused():
    with pytest.raises(ValueError, match="known channel count"):
        layers.RPReLU(name="r")(tf.keras.Input((4, 4, None)))


def _block_model(filters, strides):
    x = tf.keras.Input((8, 8, 16))
    return tf.keras.Model(x, layers.reactnet_block(x, filters, strides=strides, name="b"))


def test_a_doubling_block_concatenates_two_1x1_convs_on_one_rsign():
    model = _block_model(32, 2)
    assert model.output_shape == (None, 4, 4, 32)
    conv3 = model.get_layer("b_conv3x3")
    assert conv3.strides == (2, 2) and conv3.filters == 16 and conv3.kernel_size == (3, 3)
    assert isinstance(model.get_layer("b_shortcut_pool"), tf.keras.layers.AveragePooling2D)
    pw = [model.get_layer(f"b_pw{i}") for i in (1, 2)]
    assert [(c.filters, c.kernel_size) for c in pw] == [(16, (1, 1))] * 2
    shifted = model.get_layer("b_pw_rsign").output
    assert all(c.input is shifted for c in pw)  # one threshold for both halves
    assert isinstance(model.get_layer("b_pw_concat"), tf.keras.layers.Concatenate)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("RSign") == 2 and kinds.count("RPReLU") == 2
    binary = [layer for layer in model.layers if is_binary(layer)]
    assert len(binary) == 3 and all(c.input_quantizer.clip_value == 1.0 for c in binary)
    assert all(isinstance(c.kernel_quantizer, lq.quantizers.MagnitudeAwareSign) for c in binary)
    assert count_model(model).float_macs == 0  # every MAC of the block is binary


def test_a_block_that_keeps_its_width_has_one_1x1_with_a_plain_shortcut():
    model = _block_model(16, 1)
    assert model.output_shape == (None, 8, 8, 16)
    assert model.get_layer("b_pw").filters == 16
    assert not any("pool" in layer.name or "concat" in layer.name for layer in model.layers)


@pytest.mark.parametrize("filters, strides", [(24, 1), (64, 2), (16, 3)])
def test_a_block_that_neither_keeps_nor_doubles_its_width_is_refused(filters, strides):
    with pytest.raises(ValueError, match="keep or double its 16 input channels"):
        _block_model(filters, strides)


def test_saved_and_loaded_in_safe_mode(tmp_path, rng):
    model = _block_model(32, 2)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    x = rng.normal(size=(2, 8, 8, 16)).astype("float32")
    path = tmp_path / "block.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path, safe_mode=True)  # no custom_objects
    assert isinstance(loaded.get_layer("b_pw_rsign"), layers.RSign)
    assert (
        loaded.get_layer("b_pw_rprelu").get_config() == model.get_layer("b_pw_rprelu").get_config()
    )
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())

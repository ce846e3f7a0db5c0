"""Parameter-free channel layers (``bnnzoo.layers.channels``): what they compute, their bad
arguments, and a ``.keras`` round trip with Keras' safe mode on."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import layers


def test_channel_split_gives_equal_groups_in_order(rng):
    x = rng.normal(size=(2, 3, 3, 6)).astype("float32")
    parts = layers.ChannelSplit(3)(x)
    assert len(parts) == 3
    for i, part in enumerate(parts):
        np.testing.assert_array_equal(part.numpy(), x[..., 2 * i : 2 * i + 2])
    symbolic = layers.ChannelSplit(2)(tf.keras.Input((4, 4, 6)))
    assert [tuple(t.shape) for t in symbolic] == [(None, 4, 4, 3)] * 2


def test_add_to_last_channels_adds_to_the_newest_channels_only(rng):
    x = rng.normal(size=(2, 3, 3, 5)).astype("float32")
    y = rng.normal(size=(2, 3, 3, 2)).astype("float32")
    out = layers.AddToLastChannels()([x, y]).numpy()
    np.testing.assert_array_equal(out[..., :3], x[..., :3])
    np.testing.assert_array_equal(out[..., 3:], x[..., 3:] + y)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.ChannelSplit(0), "groups=0"),
        (lambda: layers.ChannelSplit(True), "groups=True"),
        (lambda: layers.ChannelSplit(4)(tf.keras.Input((2, 2, 6))), "cannot split 6 channels"),
        (
            lambda: layers.AddToLastChannels()(
                [tf.keras.Input((2, 2, 2)), tf.keras.Input((2, 2, 3))]
            ),
            r"Received: x \(None, 2, 2, 2\), y \(None, 2, 2, 3\)",
        ),
    ],
)
def test_bad_arguments_are_one_clear_line(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_model_of_them_round_trips_in_safe_mode(tmp_path, rng):
    inputs = tf.keras.Input((4, 4, 4))
    a, b = layers.ChannelSplit(2)(inputs)
    a = tf.keras.layers.Conv2D(2, 1)(a)
    y = layers.AddToLastChannels()([tf.keras.layers.Concatenate()([a, b, inputs]), a])
    model = tf.keras.Model(inputs, y)
    model.save(tmp_path / "m.keras")
    loaded = tf.keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    x = rng.normal(size=(2, 4, 4, 4)).astype("float32")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert [type(layer).__name__ for layer in loaded.layers][1:3] == ["ChannelSplit", "Conv2D"]

"""Parameter-free channel operations as registered Keras layers, so that a model that uses them
saves to ``.keras`` and loads back with Keras' safe mode on (a Python ``lambda`` does not), and
the exporters can tell what each one computes.

larq-zoo builds MeliusNet's grouped convolutions from ``Lambda`` layers (a channel split, one
convolution per group, a concatenation) and its improvement block's merge as a ``Lambda``
(``x + pad(y)``); ``bnnzoo.zoo.larq_zoo`` replaces them with these layers and Keras'
``Concatenate``, which compute the same values with the same TensorFlow ops.

Example:
    >>> groups = ChannelSplit(4)(x)  # four tensors of x's channels / 4 each
    >>> y = AddToLastChannels()([x, new])  # x + new on x's last new.shape[-1] channels
"""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class ChannelSplit(tf.keras.layers.Layer):
    """Split the last (channel) axis into ``groups`` equal parts: ``tf.split(x, groups, -1)``.

    Example:
        >>> a, b = ChannelSplit(2)(tf.keras.Input((8, 8, 6)))  # two (None, 8, 8, 3) tensors
    """

    def __init__(self, groups: int, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"Expected groups to be a positive int. Received: groups={groups!r}.")
        self.groups = groups

    def build(self, input_shape):
        channels = tf.TensorShape(input_shape)[-1]
        if channels is not None and channels % self.groups:
            raise ValueError(
                f"ChannelSplit {self.name!r} cannot split {channels} channels into "
                f"{self.groups} equal groups. Received: input shape {tuple(input_shape)}. Use a "
                f"number of groups that divides the channels."
            )
        super().build(input_shape)

    def call(self, inputs):
        return tf.split(inputs, self.groups, axis=-1)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        channels = None if shape[-1] is None else shape[-1] // self.groups
        return [tf.TensorShape([*shape[:-1], channels]) for _ in range(self.groups)]

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class AddToLastChannels(tf.keras.layers.Layer):
    """``[x, y]`` to ``x + y`` on ``x``'s last ``y.shape[-1]`` channels, the others unchanged:
    ``x + pad(y)`` with ``y`` zero-padded in front along the channels (MeliusNet's improvement
    block, Bethge et al. 2020, adds its new features to the newest channels of the dense
    block's output).

    Example:
        >>> y = AddToLastChannels()([x, improvement])  # x: (..., 160), improvement: (..., 64)
    """

    def build(self, input_shape):
        x_shape, y_shape = (tf.TensorShape(s) for s in input_shape)
        if (
            x_shape.rank != y_shape.rank
            or None in (x_shape[-1], y_shape[-1])
            or y_shape[-1] > x_shape[-1]
        ):
            raise ValueError(
                f"AddToLastChannels {self.name!r} adds y to the last channels of x: y must have "
                f"x's rank and as many or fewer channels, both known. Received: x "
                f"{tuple(x_shape)}, y {tuple(y_shape)}."
            )
        super().build(input_shape)

    def call(self, inputs):
        x, y = inputs
        front = x.shape[-1] - y.shape[-1]  # static: build refuses unknown channel counts
        paddings = [[0, 0]] * (len(y.shape) - 1) + [[front, 0]]
        return x + tf.pad(y, paddings)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[0])

"""ReActNet's generalized activations and blocks (Liu, Shen, Savvides, Cheng 2020, "ReActNet:
Towards Precise Binary Neural Network with Generalized Activation Functions").

* RSign, ``sign(x - alpha)`` with a learnable threshold ``alpha`` per channel, sits before every
  binary convolution. ``RSign`` is the learnable part, ``x - alpha``; the sign is the input
  quantizer of the binary convolution that reads it (``larq``'s ``ste_sign``). Built this way,
  Larq Compute Engine sees a float subtraction feeding the sign it fuses into ``LceBconv2d``
  (the conv stays one op, 100 % of its MACs binary), ``bnnzoo.analysis`` counts the conv as
  binary, and the OpenVINO exporter folds ``alpha`` into the conv's binarization threshold.
* RPReLU, ``PReLU(x - gamma) + zeta`` with ``gamma``, ``zeta`` and the slope learned per channel,
  follows every residual addition.
* ``rsign_residual``: RSign → binary conv → BatchNorm, added to a shortcut, → RPReLU: the unit
  around which every binary convolution of ReActNet has its own shortcut.
* ``reactnet_block``: ReActNet-A's block, a MobileNetV1 block whose depthwise 3×3 is a full
  binary 3×3 and whose pointwise 1×1 is binary, each with its own shortcut; where the block
  doubles its channels, the 1×1 is two convolutions whose outputs, each added to the same
  shortcut, are concatenated (Liu et al. 2020).

The binary convolutions are ``bnnzoo.layers.binary_conv2d`` presets with a magnitude-aware
kernel (the per-channel mean ``|w|`` scaling of the authors' code) and ``clip_value=1``: the
activation's straight-through estimator passes gradients for ``|x - alpha| <= 1``, the range of
the Bi-Real approximation the authors train with (their gradient inside it is a polynomial, the
forward pass is the same ``sign``).

Example:
    >>> x = reactnet_block(x, 128, strides=2, name="block2")
"""

from __future__ import annotations

import tensorflow as tf

from bnnzoo.layers.conv import batch_norm, binary_conv2d

CLIP_VALUE = 1.0  # the straight-through range of the binary convs' sign and weight clip


def _channels(input_shape, layer) -> int:
    channels = tf.TensorShape(input_shape)[-1]
    if channels is None:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} needs a known channel count (its parameters "
            f"are per channel). Received: input shape {tf.TensorShape(input_shape)}. Give the "
            f"input a static last dimension, e.g. tf.keras.Input(shape=(None, None, 64))."
        )
    return int(channels)


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class RSign(tf.keras.layers.Layer):
    """The learnable threshold of ReActNet's RSign: ``x - alpha``, one ``alpha`` per channel.

    Feed the output to a binary convolution (a ``QuantConv2D`` with a sign input quantizer): it
    computes ``sign(x - alpha)``, RSign (Liu et al. 2020). ``alpha`` starts at 0.

    Example:
        >>> y = binary_conv2d(64, 3)(RSign(name="conv1_rsign")(x))  # sign(x - alpha) * W
    """

    def __init__(self, alpha_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = tf.keras.initializers.get(alpha_initializer)

    def build(self, input_shape):
        channels = _channels(input_shape, self)
        self.alpha = self.add_weight(
            name="alpha", shape=(channels,), initializer=self.alpha_initializer
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs - tf.cast(self.alpha, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": tf.keras.initializers.serialize(self.alpha_initializer),
        }


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class RPReLU(tf.keras.layers.Layer):
    """ReActNet's RPReLU: ``PReLU(x - gamma) + zeta`` with ``gamma``, ``zeta`` and the slope of
    the negative side learned per channel (Liu et al. 2020).

    ``gamma`` and ``zeta`` start at 0 and the slope at 0.25 (PyTorch's PReLU, which the
    authors' code uses), so an untrained RPReLU is a PReLU.

    Example:
        >>> y = RPReLU(name="block1_rprelu")(tf.keras.layers.Add()([conv, shortcut]))
    """

    def __init__(self, slope_initializer=0.25, **kwargs):
        super().__init__(**kwargs)
        if isinstance(slope_initializer, (int, float)) and not isinstance(slope_initializer, bool):
            slope_initializer = tf.keras.initializers.Constant(float(slope_initializer))
        self.slope_initializer = tf.keras.initializers.get(slope_initializer)

    def build(self, input_shape):
        channels = _channels(input_shape, self)
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="zeros")
        self.slope = self.add_weight(
            name="slope", shape=(channels,), initializer=self.slope_initializer
        )
        self.zeta = self.add_weight(name="zeta", shape=(channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        x = inputs - tf.cast(self.gamma, inputs.dtype)
        # PReLU as relu(x) + (-slope) * relu(-x) with the slope of the input's rank: the form
        # TFLite turns into one PRELU op (a 1-D slope stays RELU, NEG, MUL, ADD)
        slope = tf.reshape(tf.cast(self.slope, x.dtype), [1] * (x.shape.rank - 2) + [-1])
        x = tf.nn.relu(x) + (-slope) * tf.nn.relu(-x)
        return x + tf.cast(self.zeta, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "slope_initializer": tf.keras.initializers.serialize(self.slope_initializer),
        }


def rsign_conv(
    x: tf.Tensor,
    filters: int,
    kernel_size: int = 3,
    *,
    strides: int = 1,
    rsign: bool = True,
    name: str,
) -> tf.Tensor:
    """RSign → binary conv (``same`` padding with 0, magnitude-aware kernel) → BatchNorm.

    With ``rsign=False`` the conv's sign reads ``x`` itself: the plain sign that RSign
    generalizes (the paper's baseline, for ablations).
    Layers: ``{name}_rsign``, ``{name}`` (the ``QuantConv2D``), ``{name}_bn``.
    """
    x = _threshold(x, rsign=rsign, name=f"{name}_rsign")
    return _binary_conv_bn(x, filters, kernel_size, strides=strides, name=name)


def _threshold(x, *, rsign, name):
    """RSign's learnable shift before a sign, or nothing (the plain sign)."""
    return RSign(name=name)(x) if rsign else x


def _activation(x, *, rprelu, name):
    """RPReLU (``{name}_rprelu``), or with ``rprelu=False`` the PReLU it generalizes
    (``{name}_prelu``: Keras' PReLU, one slope per channel starting at 0.25 as RPReLU's)."""
    if rprelu:
        return RPReLU(name=f"{name}_rprelu")(x)
    return tf.keras.layers.PReLU(
        tf.keras.initializers.Constant(0.25), shared_axes=[1, 2], name=f"{name}_prelu"
    )(x)


def _binary_conv_bn(x, filters, kernel_size, *, strides=1, name):
    x = binary_conv2d(
        filters,
        kernel_size,
        strides=strides,
        clip_value=CLIP_VALUE,
        magnitude_aware=True,
        name=name,
    )(x)
    return batch_norm(name=f"{name}_bn")(x)


def rsign_residual(
    x: tf.Tensor,
    shortcut: tf.Tensor,
    filters: int,
    kernel_size: int = 3,
    *,
    strides: int = 1,
    rsign: bool = True,
    rprelu: bool = True,
    name: str,
) -> tf.Tensor:
    """``RPReLU(shortcut + BN(binary_conv(RSign(x))))``: one binary conv with its shortcut.

    ``shortcut`` must have the conv's output shape (the caller pools or projects it).
    ``rsign=False``: the plain sign; ``rprelu=False``: a PReLU (the functions ReActNet
    generalizes, for ablations).
    Layers: those of ``rsign_conv``, ``{name}_add``, ``{name}_rprelu`` (``{name}_prelu``).
    """
    y = rsign_conv(x, filters, kernel_size, strides=strides, rsign=rsign, name=name)
    y = tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return _activation(y, rprelu=rprelu, name=name)


def reactnet_block(
    x: tf.Tensor,
    filters: int,
    *,
    strides: int = 1,
    rsign: bool = True,
    rprelu: bool = True,
    name: str,
) -> tf.Tensor:
    """ReActNet-A's block: a binary 3×3 (input channels, ``strides``) and a binary 1×1 to
    ``filters``, each with RSign before it, a shortcut around it and RPReLU after the add
    (``rsign``, ``rprelu``: as in ``rsign_residual``).

    The 3×3's shortcut is ``x``, average-pooled 2×2 when ``strides`` is 2. The 1×1 keeps the
    width, or doubles it: one RSign (``{name}_pw_rsign``) feeds two 1×1 convs of ``channels``
    filters (``{name}_pw1``, ``{name}_pw2``), each added to the same shortcut; the sums are
    concatenated (``{name}_pw_concat``) and go through one RPReLU (``{name}_pw_rprelu``), the
    authors' order (a per-channel RPReLU on each half would compute the same).

    Raises:
        ValueError: ``strides`` other than 1 or 2, or ``filters`` neither the input's channels
            nor twice them.
    """
    channels = x.shape[-1]
    if strides not in (1, 2) or filters not in (channels, 2 * channels):
        raise ValueError(
            f"Expected a ReActNet-A block to keep or double its {channels} input channels with "
            f"strides 1 or 2. Received: filters={filters}, strides={strides} for {name!r}. Pass "
            f"filters={channels} or {2 * channels}, and strides=1 or 2."
        )
    shortcut = x
    if strides == 2:
        shortcut = tf.keras.layers.AveragePooling2D(
            2, padding="same", name=f"{name}_shortcut_pool"
        )(x)
    functions = {"rsign": rsign, "rprelu": rprelu}
    x = rsign_residual(x, shortcut, channels, 3, strides=strides, **functions,
                       name=f"{name}_conv3x3")  # fmt: skip
    if filters == channels:
        return rsign_residual(x, x, filters, 1, **functions, name=f"{name}_pw")
    shifted = _threshold(x, rsign=rsign, name=f"{name}_pw_rsign")
    halves = [
        tf.keras.layers.Add(name=f"{name}_pw{i}_add")(
            [_binary_conv_bn(shifted, channels, 1, name=f"{name}_pw{i}"), x]
        )
        for i in (1, 2)
    ]
    y = tf.keras.layers.Concatenate(name=f"{name}_pw_concat")(halves)
    return _activation(y, rprelu=rprelu, name=f"{name}_pw")

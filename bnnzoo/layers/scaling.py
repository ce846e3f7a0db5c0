"""XNOR-Net style activation scaling (Rastegari et al. 2016), revisited by Bethge, Yang, Bornstein,
Meinel 2019, "BinaryDenseNet: Developing an Architecture for Binary Neural Networks", §3.4.

XNOR-Net approximates ``conv(I, W)`` by ``conv(sign(I), sign(W)) * K * alpha``: ``alpha`` is the
mean ``|W|`` of each output channel (``magnitude_aware_quantizer``), and ``K`` is the mean
``|I|`` over input channels, averaged over each receptive field. ``XnorScaling`` computes ``K``
from the convolution's real-valued input and multiplies it into the convolution's output.

Bethge et al. (Table 2) find that BatchNorm directly after the convolution absorbs most of this
scaling and that it lowers accuracy when training from scratch; bnnzoo keeps it as an ablation
switch (``scaling=True`` on the BinaryDenseNet and ResNetE factories).
"""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class XnorScaling(tf.keras.layers.Layer):
    """Multiply a binary convolution's output by XNOR-Net's activation scale ``K``.

    Called on ``[conv_output, conv_input]``. The box filter that averages ``mean_c |conv_input|``
    has the convolution's kernel size, strides, dilation and padding, so ``K`` has the output's
    spatial shape. Zero padding at the border, as in XNOR-Net.

    Example:
        >>> y = conv(x)
        >>> y = XnorScaling(kernel_size=3, strides=1, padding="same")([y, x])
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = 1,
        padding: str = "same",
        dilation_rate: int | tuple[int, int] = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if padding not in ("same", "valid"):
            raise ValueError(
                f"Expected padding to be 'same' or 'valid'. Received: padding={padding!r}."
            )
        self.padding = padding

    def call(self, inputs):
        conv_output, conv_input = inputs
        magnitude = tf.reduce_mean(tf.abs(conv_input), axis=-1, keepdims=True)
        kh, kw = self.kernel_size
        box = tf.fill((kh, kw, 1, 1), 1.0 / (kh * kw))
        scale = tf.nn.conv2d(
            magnitude,
            tf.cast(box, magnitude.dtype),
            strides=self.strides,
            padding=self.padding.upper(),
            dilations=self.dilation_rate,
        )
        return conv_output * tf.cast(scale, conv_output.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
        }


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(
            f"Expected {name} to be a positive int or a pair of them. Received: {name}={value!r}."
        )
    return pair


@tf.keras.utils.register_keras_serializable(package="bnnzoo")
class FixedScaling(tf.keras.layers.Layer):
    """Multiply by a constant that is not trained: Wu et al.'s scaling layer before the softmax.

    Wu, Wu, Zhao 2016, "Binarized Neural Networks on the ImageNet Classification Task" (Table 1,
    §2.3) put a fixed scaling layer between the last fully connected layer and the softmax of
    their 13-layer BNN; it sets how peaked the softmax is without a trainable parameter. The
    paper does not print the constant, so it is an argument.

    Example:
        >>> logits = FixedScaling(0.5)(dense_output)
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"Expected scale to be a positive number. Received: scale={scale!r}.")
        self.scale = float(scale)

    def call(self, inputs):
        return inputs * tf.cast(self.scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}

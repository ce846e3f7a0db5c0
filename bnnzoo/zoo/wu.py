"""The BNNs of Wu, Wu, Zhao 2016, "Binarized Neural Networks on the ImageNet Classification Task".

``WuBNN13`` is the network of Table 1: a full-precision 7×7/2 convolution with 128 filters,
max pooling, three binary 3×3 convolutions with 384 filters ("wider than usual", to avoid an
information bottleneck early on), max pooling, six binary 3×3 convolutions with 512 filters, max
pooling, dropout 0.2, a binary fully connected layer of 4096 units, a fully connected layer with
regular (float) weights, a fixed scaling layer and the softmax. ``WuAlexNet`` is the
BVLC-AlexNet-shaped binary network the paper starts from (§2.3).

Choices where the paper is silent (no code was published), written down here:

* Every binary layer is BNN-style (Courbariaux et al. 2016): larq layer with sign input and
  sign weights (STE with ``clip_value`` 1, weight clip 1) followed by BatchNorm; max pooling
  sits between the BatchNorm and the next binary layer. The first convolution and the last
  dense layer keep float weights; the last dense layer still reads binarized activations.
* Padding is Caffe's default (none), as in BVLC AlexNet: at 224×224 the last pooling leaves
  6×6×512, the 6×6 final map of AlexNet, and the 4096-unit layer has 75.5 M binary weights.
  Inputs under 143 px, too small for that, get ``"same"`` padding; under 50 px, the 3×3
  stride-1 stem of the zoo's small-input convention too. The top flattens the last feature
  map, so it needs a known input size; without the top (as in Keras applications) the input
  may be of any size, ``(None, None, 3)`` by default, with ``"same"`` padding.
* The scaling constant is not printed in the paper: ``logit_scale`` (default 1).
* Training uses a low learning rate for the latent weights (0.001, Figure 1) and distillation
  with combined soft and hard targets: recipe ``wu_bnn13_imagenet``.
"""

from __future__ import annotations

import tensorflow as tf

from bnnzoo._checks import positive_ints
from bnnzoo.layers import FixedScaling, batch_norm, binary_conv, binary_dense
from bnnzoo.zoo import _common
from bnnzoo.zoo.papers import WU_2016
from bnnzoo.zoo.registry import register_model

PAPER = WU_2016
VALID_MIN = 143  # smallest side for which the unpadded network still has a 1×1 map at the end
ALEXNET_VALID_MIN = 67  # the same for WuAlexNet's unpadded pooling


def _binary_stack(x, filters, count, *, padding, clip_value, name):
    for i in range(count):
        x = binary_conv(x, filters, 3, padding=padding, clip_value=clip_value,
                        name=f"{name}_conv{i + 1}")  # fmt: skip
        x = batch_norm(name=f"{name}_bn{i + 1}")(x)
    return x


def _head(x, inputs, *, dense_units, dropout, clip_value, logit_scale):
    """The top: flatten → (dropout →) binary fully connected layers → float classifier →
    fixed scaling. Without the top, the last pooling's feature map (as Keras' VGG16 and
    AlexNet-style applications end), pooled with ``pooling``."""
    if not inputs.include_top:
        return _common.global_pool(x, inputs.pooling)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = tf.keras.layers.Dropout(dropout, name="dropout")(x)
    for i, units in enumerate(dense_units):
        x = binary_dense(units, clip_value=clip_value, name=f"fc{i + 1}")(x)
        x = batch_norm(name=f"fc{i + 1}_bn")(x)
    x = binary_dense(inputs.num_classes, binary_weights=False, clip_value=clip_value,
                     name="head_dense")(x)  # fmt: skip
    x = FixedScaling(logit_scale, name="head_scaling")(x)
    if inputs.classifier_activation:
        x = tf.keras.layers.Activation(inputs.classifier_activation, name="head_softmax")(x)
    return x


def _check_dense_units(dense_units) -> tuple[int, ...]:
    if isinstance(dense_units, int) and not isinstance(dense_units, bool):
        raise ValueError(
            f"Expected dense_units to be a sequence of layer widths, e.g. (4096,). Received: "
            f"dense_units={dense_units!r}; write dense_units=({dense_units},)."
        )
    return positive_ints("dense_units", dense_units)


def _check_scale(logit_scale):
    if (
        isinstance(logit_scale, bool)
        or not isinstance(logit_scale, (int, float))
        or logit_scale <= 0
    ):
        raise ValueError(f"Expected logit_scale > 0. Received: logit_scale={logit_scale!r}.")


@register_model("wu_bnn13", family="wu", paper=PAPER)
def WuBNN13(
    *,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    dropout: float = 0.2,
    logit_scale: float = 1.0,
    clip_value: float = 1.0,
    dense_units: tuple[int, ...] = (4096,),
    name: str = "wu_bnn13",
) -> tf.keras.Model:
    """The 13-layer BNN of Table 1 (80.2% top-5 trained on labels, 84.1% distilled).

    ``include_top=False`` ends at the last max pooling, before the fully connected layers (as
    in Keras' VGG16), pooled to a vector with ``pooling="avg"`` or ``"max"``. ``dropout=0`` is
    the distilled network of §2.3. ``dense_units`` sets the binary fully connected layers
    (Table 1: one of 4096); at 4096 they hold most of the model's 25 M parameters, so a small
    dataset may want fewer (``dense_units=(512,)``).

    Example:
        >>> model = WuBNN13(input_shape=(32, 32, 3), num_classes=10)
    """
    _check_scale(logit_scale)
    dense_units = _check_dense_units(dense_units)
    if not 0 <= dropout < 1:
        raise ValueError(f"Expected 0 <= dropout < 1. Received: dropout={dropout!r}.")
    inputs = _common.check_inputs(
        model_name=name, min_size=16, static_top=True, **_common.application_args(locals())
    )
    h, w = inputs.shape[:2]
    padding = "same" if h is None or w is None or min(h, w) < VALID_MIN else "valid"
    small = inputs.small
    x_in = _common.model_input(inputs)
    x = tf.keras.layers.Conv2D(
        128, 3 if small else 7, strides=1 if small else 2, padding=padding, use_bias=False,
        kernel_initializer="he_normal", name="stem_conv",
    )(x_in)  # fmt: skip
    x = batch_norm(name="stem_bn")(x)
    x = tf.keras.layers.MaxPooling2D(3, strides=2, padding=padding, name="pool1")(x)
    x = _binary_stack(x, 384, 3, padding=padding, clip_value=clip_value, name="block1")
    x = tf.keras.layers.MaxPooling2D(2, strides=2, name="pool2")(x)
    x = _binary_stack(x, 512, 6, padding=padding, clip_value=clip_value, name="block2")
    x = tf.keras.layers.MaxPooling2D(2, strides=2, name="pool3")(x)
    x = _head(x, inputs, dense_units=dense_units, dropout=dropout, clip_value=clip_value,
              logit_scale=logit_scale)  # fmt: skip
    return _common.finish(x_in, x, inputs, name=name)


@register_model("wu_alexnet", family="wu", paper=PAPER)
def WuAlexNet(
    *,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    dropout: float = 0.0,
    logit_scale: float = 1.0,
    clip_value: float = 1.0,
    dense_units: tuple[int, ...] = (4096, 4096),
    name: str = "wu_alexnet",
) -> tf.keras.Model:
    """The BVLC-AlexNet-shaped binary network Wu et al. start from (68% top-5, §2.3).

    AlexNet's layers without LRN and grouping: a float 11×11/4 convolution with 96 filters,
    binary convolutions of 256 (5×5), 384, 384 and 256 (3×3) filters with max pooling 3/2 after
    the first, second and fifth, two binary 4096-unit layers, and the float-weight classifier
    with the fixed scaling layer. Pooling is unpadded as in AlexNet from 67 px up (6×6×256 at
    227 px), padded below; inputs under 50 px get a 3×3 stride-1 stem. ``include_top=False``
    ends at the last max pooling, as in ``WuBNN13``; ``dense_units`` as there (AlexNet: two
    of 4096).

    Example:
        >>> model = WuAlexNet(input_shape=(227, 227, 3))
    """
    _check_scale(logit_scale)
    dense_units = _check_dense_units(dense_units)
    inputs = _common.check_inputs(
        model_name=name, min_size=8, static_top=True, **_common.application_args(locals())
    )
    small = inputs.small
    x_in = _common.model_input(inputs)
    x = tf.keras.layers.Conv2D(
        96, 3 if small else 11, strides=1 if small else 4, padding="same" if small else "valid",
        use_bias=False, kernel_initializer="he_normal", name="stem_conv",
    )(x_in)  # fmt: skip
    x = batch_norm(name="stem_bn")(x)
    h, w = inputs.shape[:2]
    # AlexNet pools without padding (55 -> 27 -> 13 -> 6 at 227 px); that needs 67 px or more
    unpadded = h is not None and w is not None and min(h, w) >= ALEXNET_VALID_MIN
    pool_padding = "valid" if unpadded and not small else "same"
    x = tf.keras.layers.MaxPooling2D(3, strides=2, padding=pool_padding, name="pool1")(x)
    layers = ((256, 5, True), (384, 3, False), (384, 3, False), (256, 3, True))
    for i, (filters, kernel, pool) in enumerate(layers):
        x = binary_conv(x, filters, kernel, clip_value=clip_value, name=f"conv{i + 2}")
        x = batch_norm(name=f"conv{i + 2}_bn")(x)
        if pool:
            x = tf.keras.layers.MaxPooling2D(
                3, strides=2, padding=pool_padding, name=f"pool{i + 2}"
            )(x)
    x = _head(x, inputs, dense_units=dense_units, dropout=dropout, clip_value=clip_value,
              logit_scale=logit_scale)  # fmt: skip
    return _common.finish(x_in, x, inputs, name=name)

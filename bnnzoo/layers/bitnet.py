"""The blocks of BitNet (Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks using Binary
Tree Architectures"): the binary tree block, BitBlock (§3.2, Figure 1 right), its fully connected
version, and the pre-activation wide residual block of the paper's Wide ResNet baseline.

A BitBlock of width ``D`` and depth ``K`` is an asymmetric binary tree. At level ``i``
(``1 ≤ i ≤ K``) two separate 3×3 convolutions read the same input, the left child of level
``i - 1`` (the block input at level 1), and each computes ``D / 2**i`` channels:

* the *right* child is a leaf and goes straight to the output;
* the *left* child feeds level ``i + 1``.

The output concatenates the ``K`` leaves and the last left child, ``D`` channels in all::

    D/2 + D/4 + ... + D/2**K + D/2**K = D

A stride, when asked, sits on both level-1 convolutions, so every later level already works at
the output resolution. ``K = 1`` is a single convolution with ``D`` filters (§3.2: "the BitBlock
reduces to a single convolution layer"; two halves of ``D/2`` would have the same weights and
MACs). There is no residual shortcut. This is the layout of the authors' Torch model file.

Two precisions, chosen for every conv of a block with ``precision``:

* ``"float"`` (the paper's networks): every node is conv 3×3 → BN → ReLU.
* ``"binary"``: every node is a Larq binary conv (``bnnzoo.layers.binary_conv``: sign input
  quantizer, sign kernel with weight clip, no bias, ``same`` padding) → BN, the order Larq
  Compute Engine fuses into one ``LceBconv2d``. There is **no ReLU** in a binary block: the next
  binary conv takes ``sign`` of its input, and ``sign(ReLU(x))`` is +1 everywhere, so a binary
  conv reading a ReLU output would see a constant. Binary convs therefore read the BN output
  (the pre-activation), and the block output concatenates BN outputs; the caller must not feed a
  binary block a ReLU output either (the zoo's binary stems end in BN, not ReLU).

The same tree over ``Dense`` layers is ``dense_bit_block`` (§3.2, last paragraph; §3.3 derives
its parameter count ``(4/3)(1 - 4**-K) D**2`` when the input has ``D`` features).
``wide_residual_block`` is the block of the Wide ResNets the paper compares with, in the same two
precisions.
"""

from __future__ import annotations

import tensorflow as tf

from bnnzoo._checks import one_of, positive_int
from bnnzoo.layers.conv import batch_norm, binary_conv, binary_dense

PRECISIONS = ("float", "binary")


def check_tree(width: int, depth: int) -> None:
    """Raise ValueError unless a BitBlock of ``width`` and ``depth`` exists.

    The width must be a positive int divisible by ``2**depth`` (every level halves it).

    Example:
        >>> check_tree(256, 3)  # fine: 128 + 64 + 32 + 32
        >>> check_tree(100, 3)  # ValueError: ... use D=96 or D=104
    """
    positive_int("K", depth, hint="K is the BitBlock depth; Zhang et al. use K = 1 to 6.")
    positive_int("D", width, hint="D is the BitBlock width, e.g. D=128.")
    step = 2**depth
    if width % step:
        lower = width // step * step
        candidates = [d for d in (lower, lower + step) if d > 0]
        suggestion = " or ".join(f"D={d}" for d in candidates)
        raise ValueError(
            f"A BitBlock of depth K={depth} halves its width at every level, so D must be "
            f"divisible by 2**K={step}. Received: D={width}, K={depth}. Use {suggestion}, or a "
            f"smaller K."
        )


def check_precision(precision: str) -> str:
    """``precision`` if it is ``"float"`` or ``"binary"``, else a ValueError."""
    return one_of(
        "precision",
        precision,
        PRECISIONS,
        hint="'float': conv → BN → ReLU as in Zhang et al. 2017; 'binary': Larq binary conv → BN.",
    )


def precision_conv(
    x: tf.Tensor,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    precision: str,
    clip_value: float = 1.3,
    pad_value: float = 1.0,
    name: str,
) -> tf.Tensor:
    """A conv without bias, ``same`` padding: a Larq binary conv (``binary_conv``) in
    ``"binary"`` precision, a he-normal ``Conv2D`` in ``"float"``."""
    if precision == "binary":
        return binary_conv(
            x,
            filters,
            kernel_size,
            strides=strides,
            clip_value=clip_value,
            pad_value=pad_value,
            name=name,
        )
    return tf.keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def _conv_node(
    x: tf.Tensor,
    filters: int,
    *,
    strides: int,
    precision: str,
    clip_value: float,
    pad_value: float,
    name: str,
) -> tf.Tensor:
    """One tree node: conv 3×3 → BN → ReLU (float) or binary conv 3×3 → BN (binary)."""
    y = precision_conv(
        x,
        filters,
        3,
        strides=strides,
        precision=precision,
        clip_value=clip_value,
        pad_value=pad_value,
        name=f"{name}_conv",
    )
    y = batch_norm(name=f"{name}_bn")(y)
    if precision == "binary":
        return y
    return tf.keras.layers.Activation("relu", name=f"{name}_relu")(y)


def _dense_node(
    x: tf.Tensor, units: int, *, precision: str, clip_value: float, name: str
) -> tf.Tensor:
    """One tree node over features: dense → BN → ReLU (float) or binary dense → BN (binary)."""
    if precision == "binary":
        y = binary_dense(units, clip_value=clip_value, name=f"{name}_dense")(x)
        return batch_norm(name=f"{name}_bn")(y)
    y = tf.keras.layers.Dense(
        units, use_bias=False, kernel_initializer="he_normal", name=f"{name}_dense"
    )(x)
    y = batch_norm(name=f"{name}_bn")(y)
    return tf.keras.layers.Activation("relu", name=f"{name}_relu")(y)


def _tree(x: tf.Tensor, width: int, depth: int, node, name: str) -> tf.Tensor:
    """Grow the tree with ``node(x, channels, level, side, first)``; concatenate the leaves."""
    if depth == 1:
        return node(x, width, first=True, name=name)
    leaves = []
    left = x
    for level in range(1, depth + 1):
        channels = width // 2**level
        prefix = f"{name}_level{level}"
        # Both children read the same input: build them before `left` is replaced.
        right = node(left, channels, first=level == 1, name=f"{prefix}_right")
        left = node(left, channels, first=level == 1, name=f"{prefix}_left")
        leaves.append(right)
    leaves.append(left)
    return tf.keras.layers.Concatenate(name=f"{name}_concat")(leaves)


def bit_block(
    x: tf.Tensor,
    width: int,
    depth: int,
    *,
    strides: int = 1,
    precision: str = "float",
    clip_value: float = 1.3,
    pad_value: float = 1.0,
    name: str,
) -> tf.Tensor:
    """A convolutional BitBlock of width ``D = width`` and depth ``K = depth`` (§3.2).

    Layer names: ``{name}_level{i}_right_conv`` / ``_bn`` / ``_relu`` for the leaf of level
    ``i``, ``{name}_level{i}_left_...`` for the node that feeds level ``i + 1`` (at level ``K``
    the last left child, also a leaf), and ``{name}_concat``; with ``K = 1`` the single node is
    ``{name}_conv`` / ``_bn`` / ``_relu``. The output channels are ordered
    ``[right_1, ..., right_K, left_K]``.

    Args:
        x: input feature map ``(batch, h, w, c)``; ``c`` may be anything.
        width: output channels ``D``; must be divisible by ``2**depth``.
        depth: tree depth ``K`` (levels); ``K = 1`` is a single conv with ``D`` filters.
        strides: 1, or 2 to halve the resolution; applied on both level-1 convs.
        precision: ``"float"`` (conv → BN → ReLU, the paper's networks) or ``"binary"``
            (LCE-fusable binary conv → BN, no ReLU; see the module docstring for why).
        clip_value: ``t_clip`` of the binary convs' STE and weight clip (binary only).
        pad_value: pad value of the binary convs under ``same`` padding, 0.0 or 1.0 (binary
            only; 1.0 saves LCE a border correction).
        name: prefix of every layer name.

    Returns:
        The block output, ``D`` channels at ``1/strides`` of the input resolution.

    Raises:
        ValueError: ``D`` not divisible by ``2**K`` (the message names a ``D`` that works), a
            non-positive ``K``, an unknown precision or a stride other than 1 or 2.

    Example:
        >>> x = tf.keras.Input((32, 32, 64))
        >>> y = bit_block(x, 128, 3, strides=2, name="conv3_block1")
        >>> y.shape  # 64 + 32 + 16 + 16 channels
        TensorShape([None, 16, 16, 128])
    """
    check_tree(width, depth)
    check_precision(precision)
    if strides not in (1, 2):
        raise ValueError(
            f"Expected strides to be 1 or 2 (Zhang et al. downsample by 2 on the first block of "
            f"a group). Received: strides={strides!r}."
        )

    def node(inputs, channels, *, first, name):
        return _conv_node(
            inputs,
            channels,
            strides=strides if first else 1,
            precision=precision,
            clip_value=clip_value,
            pad_value=pad_value,
            name=name,
        )

    return _tree(x, width, depth, node, name)


def dense_bit_block(
    x: tf.Tensor,
    width: int,
    depth: int,
    *,
    precision: str = "float",
    clip_value: float = 1.3,
    name: str,
) -> tf.Tensor:
    """A fully connected BitBlock (§3.2, last paragraph; §3.3).

    The tree of ``bit_block`` with every 3×3 conv replaced by a dense layer: at level ``i`` two
    dense layers of ``width / 2**i`` units read the same input; the output concatenates the
    ``K`` right leaves and the last left child, ``width`` features. Each node is dense (no bias)
    → BN → ReLU in ``"float"`` precision, or a Larq binary dense (sign input and kernel, weight
    clip) → BN in ``"binary"`` precision. With an input of ``width`` features the tree holds
    ``(4/3)(1 - 4**-K) width**2`` weights (Proposition 3.3). Layer names follow ``bit_block``
    with ``_dense`` in place of ``_conv``.

    Args:
        x: input features ``(batch, c)``.
        width: output features ``D``; must be divisible by ``2**depth``.
        depth: tree depth ``K``; ``K = 1`` is a single dense layer of ``D`` units.
        precision: ``"float"`` or ``"binary"``.
        clip_value: ``t_clip`` of the binary layers (binary only).
        name: prefix of every layer name.

    Example:
        >>> x = tf.keras.Input((512,))
        >>> y = dense_bit_block(x, 512, 4, name="fc1")  # 256 + 128 + 64 + 32 + 32 features
    """
    check_tree(width, depth)
    check_precision(precision)
    if len(x.shape) != 2:
        raise ValueError(
            f"Expected a dense BitBlock input of shape (batch, features). Received: shape "
            f"{tuple(x.shape)}. Flatten or pool the feature map first."
        )

    def node(inputs, units, *, first, name):
        return _dense_node(inputs, units, precision=precision, clip_value=clip_value, name=name)

    return _tree(x, width, depth, node, name)


def _pre_activation(x: tf.Tensor, *, precision: str, name: str) -> tf.Tensor:
    """BN → ReLU before a float conv; BN alone before a binary conv (its sign is the activation)."""
    x = batch_norm(name=f"{name}_bn")(x)
    if precision == "binary":
        return x
    return tf.keras.layers.Activation("relu", name=f"{name}_relu")(x)


def wide_residual_block(
    x: tf.Tensor,
    width: int,
    *,
    depth: int = 2,
    strides: int = 1,
    residual: bool = True,
    precision: str = "float",
    clip_value: float = 1.3,
    pad_value: float = 1.0,
    name: str,
) -> tf.Tensor:
    """The pre-activation wide residual block (Zagoruyko & Komodakis 2016) of the Wide ResNet
    baseline of Zhang et al. 2017.

    ``depth`` times BN → ReLU → conv 3×3 (the first conv carries the stride), added to the input.
    Where the width or the stride changes, the shortcut is a 1×1 conv (with the stride) that reads
    the block's pre-activated input, as in the WRN reference code. ``residual=False`` drops the
    addition and the projection: the "plainnet" of Zhang et al.'s Table 6. In ``"binary"``
    precision every conv, the projection included, is a Larq binary conv and the ReLUs are left
    out; the pre-activation BN that follows a residual addition cannot fold into a binary conv, so
    LCE keeps it as a float multiply-add (in the BitBlocks every BN follows its binary conv and
    fuses).

    Example:
        >>> y = wide_residual_block(x, 128, strides=2, name="conv3_block1")
    """
    check_precision(precision)
    pre = _pre_activation(x, precision=precision, name=f"{name}_pre")
    y = pre
    for i in range(1, depth + 1):
        if i > 1:
            y = _pre_activation(y, precision=precision, name=f"{name}_mid{i - 1}")
        y = precision_conv(
            y,
            width,
            3,
            strides=strides if i == 1 else 1,
            precision=precision,
            clip_value=clip_value,
            pad_value=pad_value,
            name=f"{name}_conv{i}",
        )
    if not residual:
        return y
    shortcut = x
    if strides != 1 or x.shape[-1] != width:
        shortcut = precision_conv(
            pre,
            width,
            1,
            strides=strides,
            precision=precision,
            clip_value=clip_value,
            pad_value=pad_value,
            name=f"{name}_shortcut_conv",
        )
    return tf.keras.layers.Add(name=f"{name}_add")([y, shortcut])

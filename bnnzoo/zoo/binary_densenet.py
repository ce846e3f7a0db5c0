"""BinaryDenseNet (Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet: Developing an
Architecture for Binary Neural Networks").

Stem (full precision) → four stages of dense layers (BN → binary 3×3 conv with 64 filters →
concatenate) → transitions (BN → MaxPool 2 → ReLU → full-precision 1×1 conv) between stages →
BN → ReLU → global average pooling → full-precision classifier. The published models (Table 7)
differ in layers per stage and reduction rates; all use growth rate 64 and ``t_clip = 1.3``.
They are weight-compatible with larq-zoo's models of the same names (same layers in the same
order), so ``weights="imagenet"`` loads larq-zoo's ImageNet weights (``bnnzoo.zoo.pretrained``).

Ablations of the paper as arguments of ``BinaryDenseNet``:

* Table 4, downsampling: ``downsampling="full_precision", reduction=(2, 2, 2)`` ("FP, high") or
  ``downsampling="binary", reduction=(1, 1.4, 1.4)`` ("binary, low").
* Table 5, splitting blocks: ``layers_per_stage`` and ``growth_rate`` (e.g. 8×256, 16×128,
  32×64 blocks × growth rate).
* Table 2 / §3.4, scaling factors: ``scaling=True``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import tensorflow as tf

from bnnzoo._checks import positive_int, positive_ints
from bnnzoo.layers import batch_norm, dense_layer, transition, transition_filters
from bnnzoo.zoo import _common
from bnnzoo.zoo.papers import BETHGE_2019
from bnnzoo.zoo.pretrained import IMAGENET
from bnnzoo.zoo.registry import register_model

PAPER = BETHGE_2019


@_common.builder
def BinaryDenseNet(
    *,
    layers_per_stage: Sequence[int],
    reduction: Sequence[float],
    growth_rate: int = 64,
    dilation_rates: Sequence[int] | None = None,
    downsampling: str = "full_precision",
    scaling: bool = False,
    clip_value: float = 1.3,
    pad_value: float = 0.0,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    name: str = "binary_densenet",
    larq_zoo_name: str | None = None,
) -> tf.keras.Model:
    """Build a BinaryDenseNet of any configuration.

    Args:
        layers_per_stage: number of dense layers in each stage, e.g. ``(6, 6, 6, 5)``.
        reduction: channel reduction rate of each transition (one fewer than stages); the
            transition keeps ``round(C // r / 32) * 32`` channels.
        growth_rate: filters of every binary 3×3 conv (64 in the published models).
        dilation_rates: dilation of each stage; a stage with dilation > 1 keeps the resolution
            (no pooling in the transition before it), as in BinaryDenseNet37-dilated.
        downsampling: ``"full_precision"`` or ``"binary"`` 1×1 conv in the transitions.
        scaling: XNOR-Net scaling factors on every binary conv.
        clip_value: ``t_clip`` of the STE and the weight clip.
        pad_value: pad value of the binary convs (0.0 as in the published weights, or 1.0).
        input_shape: ``(height, width, channels)``; default ``(224, 224, 3)``. Sides under 50 px
            use the 3×3 stride-1 stem of the paper's CIFAR experiments.
        input_tensor: a Keras tensor to build the model on, instead of a new Input.
        weights: None, ``"imagenet"``, a local file or a URL with ``#sha256=``.
        include_top: end in the classifier; otherwise after the final BN → ReLU.
        pooling: with ``include_top=False``, None (the feature map), ``"avg"`` or ``"max"``
            (global pooling to a vector), as in Keras applications.
        num_classes: classes of the classifier.
        classifier_activation: ``"softmax"``, or None for logits.
        name: model name.
        larq_zoo_name: the larq-zoo model whose ImageNet weights fit this configuration
            (a key of ``bnnzoo.zoo.pretrained.IMAGENET``); needed for ``weights="imagenet"``.

    Example:
        >>> model = BinaryDenseNet(layers_per_stage=(8, 8, 8, 8), reduction=(2, 2, 2),
        ...                        growth_rate=64, input_shape=(32, 32, 3), num_classes=10)
    """
    layers_per_stage, reduction, dilation_rates = check_stages(
        "A BinaryDenseNet", "layers_per_stage", layers_per_stage, reduction, dilation_rates
    )
    positive_int("growth_rate", growth_rate, hint="The published models use growth_rate=64.")
    inputs = _common.check_inputs(
        model_name=name,
        min_size=2 ** (len(layers_per_stage) - 1),
        imagenet=_common.imagenet_weights(larq_zoo_name),
        **_common.application_args(locals()),
    )
    layer = functools.partial(
        dense_layer,
        growth_rate=growth_rate,
        clip_value=clip_value,
        pad_value=pad_value,
        scaling=scaling,
    )
    return build_densenet(
        inputs,
        layers_per_stage,
        layer,
        reduction=reduction,
        dilation_rates=dilation_rates,
        downsampling=downsampling,
        clip_value=clip_value,
        name=name,
    )


def check_stages(
    what: str,
    counts_name: str,
    counts: Sequence[int],
    reduction: Sequence[float],
    dilation_rates: Sequence[int] | None = None,
) -> tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...]]:
    """Validate the stages of a BinaryDenseNet-like network before anything is built.

    Args:
        what: the network, for the message (``"A BinaryDenseNet"``).
        counts_name: the argument that holds the layers (or blocks) per stage.
        counts: layers (or blocks) per stage.
        reduction: reduction rate of each transition, one fewer than stages.
        dilation_rates: dilation of each stage; None for no dilation.

    Returns:
        ``counts``, ``reduction`` and the dilation rates (all 1 for None) as tuples.
    """
    counts = positive_ints(counts_name, counts)
    stages = len(counts)
    dilated = dilation_rates is not None
    dilation_rates = positive_ints("dilation_rates", dilation_rates if dilated else (1,) * stages)
    reduction = tuple(reduction)
    if len(reduction) != stages - 1 or len(dilation_rates) != stages:
        also = f" and {stages} dilation rates" if dilated else ""
        received = f", dilation_rates={dilation_rates}" if dilated else ""
        raise ValueError(
            f"{what} with {stages} stages needs {stages - 1} reduction rates{also}. "
            f"Received: reduction={reduction}{received}."
        )
    for r in reduction:
        transition_filters(64, r)  # validates the rate before anything is built
    return counts, reduction, dilation_rates


def build_densenet(
    inputs: _common.Inputs,
    counts: Sequence[int],
    block: Callable[..., tf.Tensor],
    *,
    reduction: Sequence[float],
    dilation_rates: Sequence[int] | None = None,
    downsampling: str = "full_precision",
    clip_value: float,
    unit: str = "layer",
    name: str,
) -> tf.keras.Model:
    """Stem → stages of ``block`` separated by transitions → BN → ReLU → top, the network of
    BinaryDenseNet and of the IGP-DenseNets (``bnnzoo.zoo.igp``).

    Args:
        inputs: the checked factory arguments (``_common.check_inputs``).
        counts: blocks per stage.
        block: ``block(x, dilation_rate=..., name=...)`` appends channels to ``x``, e.g.
            ``dense_layer`` with its other arguments bound.
        reduction: reduction rate of each transition (``transition_filters``).
        dilation_rates: dilation of each stage (None: 1); a dilated stage keeps the
            resolution (its transition does not pool).
        downsampling: the transitions' 1×1 conv, ``"full_precision"`` or ``"binary"``.
        clip_value: ``t_clip`` of a binary transition.
        unit: what a block is called in the layer names, ``stage{i}_{unit}{j}``.
        name: the model's name.
    """
    dilation_rates = dilation_rates or (1,) * len(counts)
    x_in = _common.model_input(inputs)
    x = _common.stem(x_in, small=inputs.small)
    for stage, (count, dilation) in enumerate(zip(counts, dilation_rates)):
        if stage > 0:
            x = transition(
                x,
                transition_filters(x.shape[-1], reduction[stage - 1]),
                pool=dilation == 1,
                downsampling=downsampling,
                clip_value=clip_value,
                name=f"stage{stage + 1}_transition",
            )
        for i in range(count):
            x = block(x, dilation_rate=dilation, name=f"stage{stage + 1}_{unit}{i + 1}")
    x = batch_norm(name="final_bn")(x)
    x = tf.keras.layers.Activation("relu", name="final_relu")(x)
    x = _common.top(x, inputs, kernel_initializer="he_normal")
    return _common.finish(x_in, x, inputs, name=name)


def _published(
    name: str,
    larq_zoo_name: str,
    layers_per_stage: tuple[int, ...],
    reduction: tuple[float, ...],
    dilation_rates: tuple[int, ...] | None = None,
    *,
    published_params: int,
    doc: str,
) -> Callable[..., tf.keras.Model]:
    """Register the published model ``name``: larq-zoo's ``larq_zoo_name``, whose ImageNet
    weights it loads; keyword arguments are those of ``BinaryDenseNet``."""

    @register_model(
        name,
        family="binary_densenet",
        paper=PAPER,
        published_params=published_params,
        pretrained={"imagenet": IMAGENET[larq_zoo_name]},
    )
    def factory(**kwargs) -> tf.keras.Model:
        return BinaryDenseNet(
            layers_per_stage=layers_per_stage,
            reduction=reduction,
            dilation_rates=dilation_rates,
            name=name,
            larq_zoo_name=larq_zoo_name,
            **kwargs,
        )

    factory.__name__ = factory.__qualname__ = larq_zoo_name
    factory.__doc__ = doc
    return factory


# name, larq-zoo name, layers per stage, reductions, dilation rates (Table 7 of Bethge et al.)
BinaryDenseNet28 = _published(
    "binary_densenet28", "BinaryDenseNet28", (6, 6, 6, 5), (2.7, 2.7, 2.2),
    published_params=5_150_504,
    doc="""BinaryDenseNet28: 6, 6, 6, 5 layers, reductions 2.7, 2.7, 2.2 (Table 7); 60.7% top-1.

    Keyword arguments are those of ``BinaryDenseNet`` (``input_shape``, ``weights``...).
    """,
)  # fmt: skip
BinaryDenseNet37 = _published(
    "binary_densenet37", "BinaryDenseNet37", (6, 8, 12, 6), (3.3, 3.3, 4),
    published_params=8_734_120,
    doc="BinaryDenseNet37: 6, 8, 12, 6 layers, reductions 3.3, 3.3, 4 (Table 7); 62.5% top-1.",
)  # fmt: skip
BinaryDenseNet37Dilated = _published(
    "binary_densenet37_dilated", "BinaryDenseNet37Dilated", (6, 8, 12, 6), (3.3, 3.3, 4),
    (1, 1, 2, 4), published_params=8_734_120,
    doc="""BinaryDenseNet37-dilated: BinaryDenseNet37 whose last two stages keep the resolution of
    stage 2 and dilate their convs by 2 and 4 (Table 6 note); 63.7% top-1.""",
)  # fmt: skip
BinaryDenseNet45 = _published(
    "binary_densenet45", "BinaryDenseNet45", (6, 12, 14, 8), (2.7, 3.3, 4),
    published_params=13_939_240,
    doc="BinaryDenseNet45: 6, 12, 14, 8 layers, reductions 2.7, 3.3, 4 (Table 7); 63.7% top-1.",
)  # fmt: skip


@register_model("binary_densenet51", family="binary_densenet", paper=PAPER)
def BinaryDenseNet51(**kwargs) -> tf.keras.Model:
    """BinaryDenseNet51(32): BinaryDenseNet28 with its growth rate halved and its dense layers
    doubled (§3.3, Figure 3c): 12, 12, 12, 10 layers of growth rate 32, reductions 2.7, 2.7,
    2.2. The baseline of IGP-DenseNet51 (Zhu, Hofstee, Lee, Al-Ars 2022, "Improving Gradient
    Paths for Binary Convolutional Neural Networks", Table 1: 34.8 Mbit, 0.27·10⁹ OPs). With
    the published transition rule (``transition_filters``, multiples of 32) it has 33.53 Mbit
    (−3.6 %) and 0.262·10⁹ OPs; without the rounding to 32 it would have 34.51."""
    kwargs.setdefault("name", "binary_densenet51")
    return BinaryDenseNet(
        layers_per_stage=(12, 12, 12, 10), reduction=(2.7, 2.7, 2.2), growth_rate=32, **kwargs
    )


@register_model("binary_densenet69", family="binary_densenet", paper=PAPER)
def BinaryDenseNet69(**kwargs) -> tf.keras.Model:
    """BinaryDenseNet69(32): BinaryDenseNet37 with its growth rate halved and its dense layers
    doubled: 12, 16, 24, 12 layers of growth rate 32, reductions 3.3, 3.3, 4. The baseline of
    IGP-DenseNet69 (Zhu et al. 2022, Table 1: 42.0 Mbit, 0.28·10⁹ OPs)."""
    kwargs.setdefault("name", "binary_densenet69")
    return BinaryDenseNet(
        layers_per_stage=(12, 16, 24, 12), reduction=(3.3, 3.3, 4), growth_rate=32, **kwargs
    )

"""Depth-width reshaping and the backbones of Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate
Binary Neural Networks based on Depth-Width Reshaping" (DWR).

``reshape_depth_width(spec, s)`` is the naive reshaping of §4.1: blocks per stage ÷ s, widths
× √s, and an optional binary alignment conv that maps the last stage back to the original width
(the classifier's cost does not change). Binary OPs stay about equal and activations fall by
about √s (Table 3). ``width_factor=s`` gives the wider intermediate network N_b[sw, d/s] that
DWR pre-trains and prunes back to the original's OPs (§4.2, ``bnnzoo.training.pruning``).

The registered backbones (family ``dwr``) are binary as the paper trains them (§5.1): ApproxSign
on activations, sign weights with a clipped STE and no scaling factor; the first layer, the last
layer and the downsampling layers in full precision. The originals: ``resnet20_bireal`` and
``resnet18_bireal_cifar`` (Bi-Real shortcut around every binary conv), ``vgg_small`` and
``vgg11``; the authors' released DWR models: ``dwr_resnet20_s3``, ``dwr_resnet18_cifar_s2``,
``dwr_resnet18_imagenet_s2`` (its original is ``bireal_resnet18``), ``dwr_vgg_small`` and
``dwr_vgg11``. Every factory also takes the spec's fields as keyword arguments (``stages=``,
``align=``...), so a reshaped or pruned network is the preset with other widths.

Choices where the released models leave a gap (``bnnzoo reproduce dwr`` shows the OPs they give):
the alignment conv is a 3×3 binary conv → BN, like every binary conv (VGG-Small's then lands at
0.995× the original's OPs); the CIFAR ResNet-18 keeps the full-precision AvgPool → 1×1 → BN
shortcuts of the ImageNet one, ResNet-20 the parameter-free zero-padding shortcuts; the CIFAR
ResNet-18 gets an alignment conv 458 → 512 (its widths are known, an alignment layer is not: with
it the OPs land at 0.999× the original's, as the authors tuned them, without it at 0.948×).
"""

from __future__ import annotations

import math
from dataclasses import fields
from fractions import Fraction

import tensorflow as tf

from bnnzoo.zoo.bireal import DWR_BINARIZATION, BiRealResNet, BiRealSpec
from bnnzoo.zoo.papers import XUE_2023
from bnnzoo.zoo.registry import register_model
from bnnzoo.zoo.vgg import BinaryVGG, VGGSpec

PAPER = XUE_2023
CIFAR = {"input_shape": (32, 32, 3), "num_classes": 10}

Spec = BiRealSpec | VGGSpec

RESNET20 = BiRealSpec.from_blocks(
    [3, 3, 3], [16, 32, 64], stem_width=16, shortcut="pad", head_bn=True
)
RESNET18_CIFAR = BiRealSpec.from_blocks([2, 2, 2, 2], [64, 128, 256, 512], head_bn=True)
RESNET18_IMAGENET = BiRealSpec.from_blocks([2, 2, 2, 2], [64, 128, 256, 512])
VGG_SMALL = VGGSpec(((128,), (256, 256), (512, 512)), first=128)
VGG_11 = VGGSpec(((128,), (256, 256), (512, 512), (512, 512)), first=64, pool_after_first=True)

# the authors' released result models (widths of their public code)
DWR_RESNET20_S3 = RESNET20.replace(stages=((16, 16), (78, 78), (134, 134)), align=64)
DWR_RESNET18_CIFAR_S2 = RESNET18_CIFAR.replace(
    stages=((120,) * 2, (222,) * 2, (290,) * 2, (458,) * 2), align=512
)
DWR_RESNET18_IMAGENET_S2 = RESNET18_IMAGENET.replace(
    stages=((96,) * 2, (168,) * 2, (378,) * 2, (866,) * 2), prelu=True
)
DWR_VGG_SMALL = VGG_SMALL.replace(stages=((106,), (252, 256), (512, 512)), align=512)
DWR_VGG11 = VGG_11.replace(stages=((144,), (390,), (842,), (418,)), align=512)

# the original backbones by the short names of the pipeline (``bnnzoo dwr --backbone``)
BACKBONES = {
    "resnet20": "resnet20_bireal",
    "resnet18": "resnet18_bireal_cifar",
    "vgg_small": "vgg_small",
    "vgg11": "vgg11",
}
# each released DWR preset and the original backbone it was reshaped from, with its s
RELEASED = {
    "dwr_resnet20_s3": ("resnet20_bireal", 3),
    "dwr_resnet18_cifar_s2": ("resnet18_bireal_cifar", 2),
    "dwr_resnet18_imagenet_s2": ("bireal_resnet18", 2),
    "dwr_vgg_small": ("vgg_small", 1),
    "dwr_vgg11": ("vgg11", 2),
}


def spec_fields(spec: Spec) -> tuple[str, ...]:
    """The field names of a spec, the keyword arguments the presets take."""
    return tuple(f.name for f in fields(spec))


def build(spec: Spec, **kwargs) -> tf.keras.Model:
    """The network of ``spec``, binarized as DWR trains it; keyword arguments as in
    ``BiRealResNet`` / ``BinaryVGG``."""
    kwargs.setdefault("binarization", DWR_BINARIZATION)
    if isinstance(spec, BiRealSpec):
        return BiRealResNet(spec=spec, **kwargs)
    if isinstance(spec, VGGSpec):
        return BinaryVGG(spec=spec, **kwargs)
    raise ValueError(
        f"Expected a BiRealSpec or a VGGSpec. Received: {type(spec).__name__}. The DWR "
        f"backbones are {', '.join(BACKBONES)}."
    )


def valid_s(spec: Spec, *, up_to: int = 12) -> list[float]:
    """The s > 1 (and 1) that divide the blocks of every stage into a positive whole number;
    a stage of one block keeps it (VGG-11's single-conv stages, DWR Table 2)."""
    counts = [Fraction(b).limit_denominator(1000) for b in spec.blocks]
    divisible = [c for c in counts if c > 1]
    candidates = {Fraction(1)} | {c / k for c in divisible for k in range(1, int(c) + 1)}
    ok = [
        s
        for s in candidates
        if s <= up_to and all((c / s).denominator == 1 and c / s >= 1 for c in divisible)
    ]
    return sorted(float(s) for s in ok)


def reshape_depth_width(
    spec: Spec, s: float, *, width_factor: float | None = None, align: bool = True
) -> Spec:
    """The naive depth-width reshaping of DWR §4.1: N_b[w, d] → N_b[√s w, d/s].

    Args:
        spec: the original backbone (``bnnzoo.zoo.dwr.RESNET20``...).
        s: the depth divisor; every stage's blocks ÷ s must be a positive whole number (a stage
            of one block keeps it).
        width_factor: what the binary widths are multiplied by; default √s (equal OPs). DWR
            pre-trains N_b[s w, d/s] (``width_factor=s``) and prunes it to the budget.
        align: add the binary alignment conv that maps the last stage back to the original's
            last width (kept when the original already has one). The full-precision first layer
            keeps its width.

    Raises:
        ValueError: an s that does not divide the blocks; the message lists the valid ones.

    Example:
        >>> reshape_depth_width(RESNET20, 3).stages
        ((28, 28), (55, 55), (111, 111))
    """
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not s > 0:
        raise ValueError(f"Expected s to be a positive number, e.g. 3. Received: s={s!r}.")
    if not isinstance(spec, (BiRealSpec, VGGSpec)):
        build(spec)  # raises the message naming the backbones
    valid = valid_s(spec)
    if not any(math.isclose(s, v) for v in valid):
        raise ValueError(
            f"s={s} does not divide the blocks per stage {_blocks(spec)} into positive whole "
            f"numbers (DWR §4.1, Table 2). Valid s for this backbone: "
            f"{', '.join(f'{v:g}' for v in valid)}."
        )
    factor = math.sqrt(s) if width_factor is None else float(width_factor)
    if not factor > 0:
        raise ValueError(f"Expected width_factor > 0. Received: width_factor={width_factor!r}.")
    stages = []
    for stage, blocks in zip(spec.stages, spec.blocks):
        new_blocks = blocks if blocks <= 1 else round(blocks / s)
        convs = max(1, round(new_blocks * spec.convs_per_block))
        stages.append((max(1, round(max(stage) * factor)),) * convs)
    target = spec.align if spec.align is not None else spec.widths[-1]
    return spec.replace(stages=tuple(stages), align=target if align else None)


def _blocks(spec: Spec) -> list:
    return [int(b) if float(b).is_integer() else b for b in spec.blocks]


def _preset(name: str, base: Spec, doc: str, *, cifar: bool = True):
    """Register the factory of a DWR-family backbone; spec fields are keyword arguments."""
    names = spec_fields(base)

    def factory(**kwargs) -> tf.keras.Model:
        changes = {k: kwargs.pop(k) for k in names if k in kwargs}
        kwargs.setdefault("name", name)
        return build(base.replace(**changes), **kwargs)

    factory.__name__ = factory.__qualname__ = "".join(p.capitalize() for p in name.split("_"))
    factory.__doc__ = (
        f"{doc} Keyword arguments: the spec's fields ({', '.join(names)}) and those of "
        f"``{'BiRealResNet' if isinstance(base, BiRealSpec) else 'BinaryVGG'}``."
    )
    defaults = CIFAR if cifar else {}
    return register_model(name, family="dwr", paper=PAPER, **defaults)(factory)


ResNet20BiReal = _preset(
    "resnet20_bireal",
    RESNET20,
    "Binary ResNet-20 with a Bi-Real shortcut around every binary conv and zero-padding "
    "downsampling shortcuts: DWR's original CIFAR backbone (85.2% on CIFAR-10, Table 4).",
)
ResNet18BiRealCifar = _preset(
    "resnet18_bireal_cifar",
    RESNET18_CIFAR,
    "Binary ResNet-18 for CIFAR with a Bi-Real shortcut around every binary conv: DWR's "
    "original (90.2% on CIFAR-10, Table 6).",
)
VGGSmall = _preset(
    "vgg_small",
    VGG_SMALL,
    "Binary VGG-Small (FP 128, binary 128-256-256-512-512): DWR's original (90.2%, Table 7).",
)
VGG11 = _preset(
    "vgg11",
    VGG_11,
    "Binary VGG-11 for CIFAR (FP 64, binary 128-256-256-512-512-512-512): DWR's original "
    "(83.6% on CIFAR-10, Table 6).",
)
DWRResNet20S3 = _preset(
    "dwr_resnet20_s3",
    DWR_RESNET20_S3,
    "The authors' DWR ResNet-20 (s = 3): one block per stage, widths 16/78/134, alignment "
    "134 → 64 (86.0% on CIFAR-10, Table 4).",
)
DWRResNet18CifarS2 = _preset(
    "dwr_resnet18_cifar_s2",
    DWR_RESNET18_CIFAR_S2,
    "The authors' DWR ResNet-18 for CIFAR (s = 2): one block per stage, widths "
    "120/222/290/458, alignment 458 → 512 (91.3% on CIFAR-10, Table 6).",
)
DWRResNet18ImageNetS2 = _preset(
    "dwr_resnet18_imagenet_s2",
    DWR_RESNET18_IMAGENET_S2,
    "The authors' DWR ResNet-18 for ImageNet (s = 2): one block per stage, widths "
    "96/168/378/866, PReLU after every add (56.9% top-1 at 1.73e8 OPs, Table 8).",
    cifar=False,
)
DWRVGGSmall = _preset(
    "dwr_vgg_small",
    DWR_VGG_SMALL,
    "The authors' DWR VGG-Small (Original+1): binary 106-252-256-512-512 and an appended "
    "alignment conv 512 → 512 (91.3% with SD-BNN, Table 7).",
)
DWRVGG11 = _preset(
    "dwr_vgg11",
    DWR_VGG11,
    "The authors' DWR VGG-11 (s = 2): one binary conv per stage, 144-390-842-418, alignment "
    "418 → 512 (84.9% on CIFAR-10, Table 6).",
)

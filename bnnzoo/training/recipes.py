"""Named training recipes from the papers, as short functions that return a config.

A recipe states only what differs from ``defaults()`` (``bnnzoo.training.config``, with the
check of a config and ``--set key.sub=value``); derived values are plain code. ``bnnzoo
recipes`` lists them, and the resolved config is saved with every run.

Every recipe also declares how it shrinks into a run of about a minute on the 2-core CPU
(``QUICK``, then the recipe's own ``quick`` overrides): ``resolve(name, quick=True)``, or the
name ``NAME_quick`` (``bnnzoo train --recipe NAME_quick``).

Sources:
    * Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks using Binary Tree
      Architectures" (BitNet): ``bitnet_cifar``.
    * Xue, Lu, Chang, Wei, Wei 2023, "Fast and Accurate Binary Neural Networks based on
      Depth-Width Reshaping" (DWR): ``dwr_cifar``, ``dwr_imagenet``.
    * Bethge, Yang, Bornstein, Meinel 2019, "BinaryDenseNet: Developing an Architecture for
      Binary Neural Networks": ``binary_densenet_imagenet``, ``resnet_e18_imagenet``.
    * Wu, Wu, Zhao 2016, "Binarized Neural Networks on the ImageNet Classification Task":
      ``wu_bnn13_imagenet`` and the two-stage distillation schedule.
    * Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards Precise Binary Neural Network with
      Generalized Activation Functions": ``reactnet_imagenet``, ``reactnet_fashion_mnist`` (run
      by ``bnnzoo two-step``) and ``DISTRIBUTION_LOSS``.

Example:
    >>> config = resolve("binary_densenet_imagenet", ["optimizer.lr=0.002"], quick=True)
    >>> config["optimizer"]["lr"], config["recipe"]
    (0.002, 'binary_densenet_imagenet_quick')
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# what a config is, and how it is checked and changed (re-exported: callers use recipes.check)
from bnnzoo.training.config import (  # noqa: F401
    Config,
    check,
    defaults,
    merge,
    parse_override,
    set_key,
)

QUICK_SUFFIX = "_quick"
# how every recipe shrinks for a quick run: digits, few steps, the same numbers on every machine;
# a recipe's own ``quick`` overrides are merged on top (a smaller model, a smaller input...)
QUICK: Config = {
    "model_kwargs": {},
    "dataset": "digits",
    "input_size": 32,
    "augment": "none",
    "epochs": 2,
    "batch_size": 32,
    "max_train_examples": 512,
    "max_test_examples": 128,
    "precision": "float32",
    "schedule": {"milestones": [1]},
}


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: the function that returns its config, and how it shrinks."""

    name: str
    build: Callable[[], Config]
    quick: Config = field(default_factory=dict)


_RECIPES: dict[str, Recipe] = {}


def recipe(name: str, *, quick: Config | None = None):
    """Register a recipe function under ``name``; ``quick`` holds the overrides that its quick
    variant applies after ``QUICK`` (e.g. a smaller ``model`` and ``model_kwargs``)."""

    def decorator(fn: Callable[[], Config]) -> Callable[[], Config]:
        if name in _RECIPES or name.endswith(QUICK_SUFFIX):
            raise ValueError(
                f"Cannot register a recipe named {name!r}: the name is taken or ends in "
                f"{QUICK_SUFFIX!r}, which is reserved for quick variants (declare quick=...)."
            )
        _RECIPES[name] = Recipe(name, fn, dict(quick or {}))
        return fn

    return decorator


def list_recipes() -> list[str]:
    """The registered recipes (each also resolves as ``NAME_quick``), sorted."""
    return sorted(_RECIPES)


def describe(name: str) -> str:
    """One line about recipe ``name`` (a base name or ``NAME_quick``)."""
    entry, quick = get_recipe(name)
    if quick:
        return f"{entry.name} shrunk to a run of about a minute on digits, for tests and demos."
    summary = (entry.build.__doc__ or "").strip().splitlines()[0]
    return f"{summary} Quick variant: {entry.name}{QUICK_SUFFIX}."


def get_recipe(name: str) -> tuple[Recipe, bool]:
    """(the registered recipe, whether ``name`` asks for its quick variant)."""
    if name in _RECIPES:
        return _RECIPES[name], False
    base = name.removesuffix(QUICK_SUFFIX)
    if base != name and base in _RECIPES:
        return _RECIPES[base], True
    names = [*_RECIPES, *(f"{n}{QUICK_SUFFIX}" for n in _RECIPES)]
    nearest = difflib.get_close_matches(name, names, n=4, cutoff=0.3)
    hint = f" Nearest: {', '.join(nearest)}." if nearest else ""
    raise ValueError(
        f"Unknown recipe {name!r}.{hint} `bnnzoo recipes` lists all {len(_RECIPES)} (each also "
        f"as NAME{QUICK_SUFFIX})."
    )


def resolve(name: str, overrides: Iterable[str] = (), *, quick: bool = False, **fields) -> Config:
    """The full config of recipe ``name``: defaults, the recipe, ``fields``, then ``overrides``.

    Args:
        name: a recipe of ``list_recipes()``, or ``NAME_quick`` for its quick variant.
        overrides: ``"key.sub=value"`` strings (``--set``), applied last.
        quick: shrink the recipe to a run of about a minute (``QUICK``, then its own ``quick``
            overrides); the config's ``recipe`` is then ``NAME_quick``.
        **fields: top-level keys set from dedicated CLI options (``epochs=3``); None values are
            ignored.
    """
    entry, named_quick = get_recipe(name)
    quick = quick or named_quick
    config = defaults()
    merge(config, entry.build(), source=f"recipe {entry.name!r}")
    if quick:
        merge(config, QUICK, source="QUICK")
        merge(config, entry.quick, source=f"quick variant of {entry.name!r}")
    fields = {k: v for k, v in fields.items() if v is not None}
    if fields.get("model", config["model"]) != config["model"]:
        config["model_kwargs"] = {}  # the recipe's arguments were for its own model
    merge(config, fields, source="options")
    for item in overrides:
        key, value = parse_override(item)
        set_key(config, key, value)
    config["recipe"] = f"{entry.name}{QUICK_SUFFIX}" if quick else entry.name
    return config


_SMALL_DENSENET = {"layers_per_stage": [2, 2], "reduction": [2.0]}
_SMALL_RESNET = {"blocks_per_stage": [1, 1], "filters": [32, 64]}
_QUICK_RESNET = {"model": "binary_resnet_e", "model_kwargs": _SMALL_RESNET}


@recipe(
    "binary_densenet_imagenet",
    quick={"model": "binary_densenet", "model_kwargs": _SMALL_DENSENET},
)
def binary_densenet_imagenet() -> Config:
    """BinaryDenseNet28 on ImageNet (Bethge et al. 2019, §5): Adam 1e-3, ×0.1 at 100 and 110."""
    return {
        "model": "binary_densenet28",
        "dataset": "tfds:imagenet2012",
        "input_size": 224,
        "augment": "imagenet",
        "epochs": 120,
        "batch_size": 256,
        "optimizer": {"name": "adam", "lr": 1e-3},
        "schedule": {"name": "multistep", "milestones": [100, 110], "gamma": 0.1},
        "clip_value": 1.3,  # the models' layers use Glorot-normal initialization already
    }


@recipe("resnet_e18_imagenet", quick=_QUICK_RESNET)
def resnet_e18_imagenet() -> Config:
    """Binary ResNetE18 on ImageNet (Bethge et al. 2019, §5) with t_clip 1.25."""
    config = binary_densenet_imagenet()
    config.update(model="binary_resnet_e18", clip_value=1.25)
    return config


# the DWR ResNet-20 (1.1M OPs at 32×32) is small enough for the quick variants as it is
_QUICK_DWR = {"model": "dwr_resnet20_s3"}


@recipe("dwr_cifar", quick=_QUICK_DWR)
def dwr_cifar() -> Config:
    """DWR on CIFAR-10 (Xue et al. 2023, §5.1): SGD, momentum 0.9, weight decay 1e-4, batch 128.

    The model is the authors' DWR ResNet-20 (s = 3); ``--model`` trains any other DWR backbone
    (``dwr_resnet18_cifar_s2``, ``dwr_vgg_small``, ``dwr_vgg11``, or an original for comparison).
    The paper gives no learning rate or length; bnnzoo uses 0.1 with cosine decay over 200
    epochs, the usual CIFAR setting. ``bnnzoo dwr`` uses this recipe for its training stages.
    """
    return {
        "model": "dwr_resnet20_s3",
        "dataset": "tfds:cifar10",
        "input_size": 32,
        "augment": "cifar",
        "epochs": 200,
        "batch_size": 128,
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
        "schedule": {"name": "cosine"},
    }


@recipe("dwr_imagenet", quick=_QUICK_DWR)
def dwr_imagenet() -> Config:
    """DWR on ImageNet (Xue et al. 2023, §5.1): Adam, weight decay 1e-5, batch 512.

    The model is the authors' DWR ResNet-18 (s = 2, PReLU after every add); ``--model
    bireal_resnet18`` trains the original. Learning rate 1e-3 with cosine decay over 120 epochs
    (not in the paper).
    """
    return {
        "model": "dwr_resnet18_imagenet_s2",
        "dataset": "tfds:imagenet2012",
        "input_size": 224,
        "augment": "imagenet",
        "epochs": 120,
        "batch_size": 512,
        "optimizer": {"name": "adam", "lr": 1e-3, "weight_decay": 1e-5},
        "schedule": {"name": "cosine"},
    }


# the quick variant runs at 16×16, the smallest input the network takes
@recipe("wu_bnn13_imagenet", quick={"input_size": 16, "distillation": {"soft_epochs": 1}})
def wu_bnn13_imagenet() -> Config:
    """Wu's 13-layer BNN (Wu, Wu, Zhao 2016): latent-weight learning rate 1e-3, dropout 0.2.

    With --teacher: soft targets for the first 20 epochs, then soft and hard combined.
    """
    return {
        "model": "wu_bnn13",
        "dataset": "tfds:imagenet2012",
        "input_size": 224,
        "augment": "imagenet",
        "epochs": 60,
        "batch_size": 256,
        "optimizer": {"name": "adam", "lr": 1e-3},
        "schedule": {"name": "multistep", "milestones": [40, 50], "gamma": 0.1},
        "clip_value": 1.0,
        "distillation": {"temperature": 4.0, "alpha": 0.5, "soft_epochs": 20},
        "monitor": {"latent_weights": ["block1_conv1", "block2_conv3"]},
    }


@recipe("bitnet_cifar", quick={"model": "bitnet_cifar", "model_kwargs": {"d": 1, "k": 2, "n": 1}})
def bitnet_cifar() -> Config:
    """BitNet on CIFAR (Zhang et al. 2017, §4.1): SGD 0.1, ×0.2 at epochs 60, 120 and 180.

    200 epochs, momentum 0.9, weight decay 5e-4, batch 128, pad-4 random crop and horizontal
    flip; the first convolution's gradient norm is recorded per epoch (their Figure 2).
    """
    return {
        "model": "bitnet_cifar_d4_k3_n4",
        "dataset": "tfds:cifar10",
        "input_size": 32,
        "augment": "cifar",
        "epochs": 200,
        "batch_size": 128,
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
        "schedule": {"name": "multistep", "milestones": [60, 120, 180], "gamma": 0.2},
        "monitor": {"first_conv_gradient": True},
    }


@recipe("resnet_e_fashion_mnist", quick={"model_kwargs": _SMALL_RESNET})
def resnet_e_fashion_mnist() -> Config:
    """A small binary ResNetE on Fashion-MNIST: over 92% in 30 minutes on 2 CPU cores.

    Three stages of two blocks at 28×28, 64–256 filters (1.23M parameters, 145M binary MACs);
    Adam 1e-3 with cosine decay over 9 epochs, batch 128, no augmentation
    (benchmarks/fashion_mnist_92.md). ``precision`` is ``auto``: bfloat16 compute where the
    hardware has it (measured 1.36× the float32 rate on an AVX512_BF16 CPU), float32
    elsewhere. ``xla`` stays off: on CPU, graph-mode TensorFlow trains these small networks
    faster than XLA does (``benchmarks/train_throughput.py --fashion``), and the run stays
    bit-exactly resumable.
    """
    return {
        "model": "binary_resnet_e",
        "model_kwargs": {"blocks_per_stage": [2, 2, 2], "filters": [64, 128, 256]},
        "dataset": "fashion_mnist",
        "input_size": 28,
        "epochs": 9,
        "batch_size": 128,
        "optimizer": {"name": "adam", "lr": 1e-3},
        "schedule": {"name": "cosine"},
        "precision": "auto",
    }


@recipe("resnet_e_fashion_mnist_deep", quick={"model_kwargs": _SMALL_RESNET})
def resnet_e_fashion_mnist_deep() -> Config:
    """``resnet_e_fashion_mnist`` with four blocks in the third stage: 93.23% on Fashion-MNIST
    in 22:56 on 2 CPU cores (AMD EPYC, bfloat16; benchmarks/fashion_mnist_93.md). Without
    bfloat16 in hardware it trains in float32: 92.90% in 56:36 on a 2-core Intel Xeon.

    Blocks 2-2-4, 64–256 filters (2.41M parameters, 202M binary MACs at 28×28: 1.4× the plain
    recipe's). Depth at 7×7 is where it costs least; the plain recipe ends at 95% training
    accuracy and this one at 97%, so the gain is capacity. Same optimizer, schedule, batch,
    9 epochs and ``precision=auto``. With ``--set seed=1``: 93.14% in 21:54.
    """
    config = resnet_e_fashion_mnist()
    config["model_kwargs"] = {"blocks_per_stage": [2, 2, 4], "filters": [64, 128, 256]}
    return config


@recipe("quickstart", quick={"model_kwargs": _SMALL_RESNET})
def quickstart() -> Config:
    """The model of ``bnnzoo quickstart``: a small binary ResNetE on Fashion-MNIST, 3 epochs.

    Three stages of two blocks, 32–64–128 filters (36M binary MACs at 28×28), Adam 1e-3 with
    cosine decay, batch 128: a few minutes on 2 CPU cores.
    """
    config = resnet_e_fashion_mnist()
    config.update(model_kwargs={"blocks_per_stage": [2, 2, 2], "filters": [32, 64, 128]}, epochs=3)
    return config


# ReActNet's distribution loss (Liu et al. 2020, their "distributional loss") is the distillation
# loss at temperature 1, KL(teacher's softmax ‖ student's softmax), with no hard-label term
DISTRIBUTION_LOSS: Config = {"temperature": 1.0, "alpha": 1.0, "soft_epochs": 0}
# the smallest ReActNet-A of the quick variants (two blocks at 32 px)
_QUICK_REACTNET = {
    "model_kwargs": {"widths": [16, 32], "stem_width": 16},
    "two_step": {"teacher_recipe": "wide_resnet_fashion_mnist"},
}


@recipe("reactnet_imagenet", quick=_QUICK_REACTNET)
def reactnet_imagenet() -> Config:
    """ReActNet-A on ImageNet in two steps (Liu et al. 2020): `bnnzoo two-step --teacher FILE`.

    Each step: Adam 5e-4 decayed linearly to 0, batch 256, 256 epochs, the distribution loss
    from a real-valued teacher (soft targets at temperature 1, no labels). Step 1 trains binary
    activations with real weights and weight decay 1e-5, step 2 binary weights too, from step
    1's, without weight decay. The paper's teacher is a ResNet-34, which the zoo does not hold:
    ``bnnzoo two-step`` needs ``--teacher FILE``, a trained real-valued model of the same inputs
    and 1000 classes (or ``--teacher-recipe R`` to train one first).
    """
    return {
        "model": "reactnet_a",
        "dataset": "tfds:imagenet2012",
        "input_size": 224,
        "augment": "imagenet",
        "epochs": 256,
        "batch_size": 256,
        "optimizer": {"name": "adam", "lr": 5e-4, "weight_decay": 0.0},
        "schedule": {"name": "linear"},
        "distillation": DISTRIBUTION_LOSS,
        "two_step": {"step1_weight_decay": 1e-5},
    }


@recipe("wide_resnet_fashion_mnist", quick={"model_kwargs": {"d": 1, "n": 1}})
def wide_resnet_fashion_mnist() -> Config:
    """A real-valued Wide ResNet on Fashion-MNIST: the teacher of ``reactnet_fashion_mnist``.

    WRN-10-2 (``wide_resnet_cifar`` with d=2, n=1: one block of 32, 64 and 128 channels, 0.3M
    parameters, 34M MACs at 28×28), Adam 1e-3 with cosine decay over 5 epochs, batch 128.
    """
    return {
        "model": "wide_resnet_cifar",
        "model_kwargs": {"d": 2, "n": 1},
        "dataset": "fashion_mnist",
        "input_size": 28,
        "epochs": 5,
        "batch_size": 128,
        "optimizer": {"name": "adam", "lr": 1e-3},
        "schedule": {"name": "cosine"},
        "precision": "auto",
    }


@recipe("reactnet_fashion_mnist", quick=_QUICK_REACTNET)
def reactnet_fashion_mnist() -> Config:
    """ReActNet's two steps on Fashion-MNIST for 2 CPU cores (`bnnzoo two-step`).

    A ReActNet-A of the paper's first seven blocks at half width (stem 16, blocks of 32, 64, 64,
    128, 128, 256, 256 channels: 1.1M parameters, 36M binary MACs at 28×28), distilled from the
    ``wide_resnet_fashion_mnist`` teacher, trained first. Each step: Adam 5e-4 decayed linearly
    to 0 over 5 epochs, batch 128; weight decay 1e-5 in step 1, 0 in step 2, as the paper.
    """
    return {
        "model": "reactnet_a",
        "model_kwargs": {"widths": [32, 64, 64, 128, 128, 256, 256], "stem_width": 16},
        "dataset": "fashion_mnist",
        "input_size": 28,
        "epochs": 5,
        "batch_size": 128,
        "optimizer": {"name": "adam", "lr": 5e-4, "weight_decay": 0.0},
        "schedule": {"name": "linear"},
        "distillation": DISTRIBUTION_LOSS,
        "two_step": {"teacher_recipe": "wide_resnet_fashion_mnist", "step1_weight_decay": 1e-5},
        "precision": "auto",
    }

"""Named training recipes from the papers, as short functions that return a config.

A recipe states only what differs from ``defaults()``; derived values are plain code. Every leaf
can be overridden with ``--set key.sub=value``; unknown keys are refused with the list of valid
ones. ``bnnzoo recipes`` lists them, and the resolved config is saved with every run.

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

import ast
import copy
import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bnnzoo._checks import positive_int

Config = dict
FREE_FORM = ("model_kwargs",)  # keys whose contents are not checked against the defaults
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


def defaults() -> Config:
    """Every key a recipe may set, with its default."""
    return {
        "model": "binary_resnet_e18",
        "model_kwargs": {},
        "dataset": "digits",
        "data_dir": None,
        "download": False,
        "max_train_examples": None,
        "max_test_examples": None,
        "input_size": 32,
        "channels": None,  # None: the dataset's own
        "augment": "none",  # none | flip | cifar | imagenet
        "epochs": 1,
        "batch_size": 64,
        "seed": 0,
        "optimizer": {
            "name": "adam",  # adam | sgd | bop
            "lr": 1e-3,
            "momentum": 0.9,
            "weight_decay": 0.0,  # L2 on kernels, added to the gradient (coupled, as in Torch)
            "bop_threshold": 1e-8,
            "bop_gamma": 1e-4,
        },
        "schedule": {
            "name": "constant",  # constant | multistep | cosine | linear (to 0)
            "milestones": [],  # epochs at which multistep multiplies the rate by gamma
            "gamma": 0.1,
            "warmup_epochs": 0,
        },
        "label_smoothing": 0.0,  # epsilon of the training targets; evaluation uses plain labels
        "clip_value": None,  # t_clip of the binary layers; None keeps the model's own
        # false: the binary layers train real-valued weights, their inputs stay binary
        # (kernel quantizers and weight clips removed: step 1 of ReActNet's two-step training)
        "binary_weights": True,
        "distillation": {
            "teacher": None,  # a saved Keras model (.keras/.h5) with the same inputs and classes
            "temperature": 4.0,
            "alpha": 0.5,  # weight of the soft targets in the combined stage
            "soft_epochs": 0,  # first stage: soft targets only (Wu, Wu, Zhao 2016, §2.3)
        },
        # `bnnzoo two-step` (ReActNet's two steps): step 1 trains this config with
        # binary_weights=false, step 2 with binary weights from step 1's, both distilled
        "two_step": {
            # trained first as the teacher, when distillation.teacher is None
            "teacher_recipe": None,
            # step 1's optimizer.weight_decay; None: the same as step 2's
            "step1_weight_decay": None,
        },
        "monitor": {
            "first_conv_gradient": False,  # mean L2 norm of the first conv's gradient per epoch
            "latent_weights": [],  # binary layers whose latent-weight histograms are recorded
        },
        "checkpoint_every_steps": 0,  # 0: once per epoch only
        "keep_checkpoints": 2,
        "xla": False,
        # float32 | mixed_bfloat16 | mixed_float16 | auto: the Keras dtype policy the model
        # trains in (latent weights stay float32; the saved model and every test accuracy are
        # float32); auto = mixed_bfloat16 where the hardware computes bfloat16, else float32
        "precision": "float32",
        # bit-exact resume needs TensorFlow's op determinism, which XLA cannot give (no
        # deterministic MaxPool gradient); xla=true therefore needs deterministic=false
        "deterministic": True,
        "strategy": "auto",  # auto | default | mirrored | multiworker
        # BatchNorm on global-batch statistics: "auto" = when there are several replicas
        "sync_batch_norm": "auto",
    }


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


# keys the training loop reads without a default, and the whole-number keys with their minimum
REQUIRED = ("model", "dataset", "input_size", "augment", "epochs", "batch_size", "seed",
            "optimizer", "keep_checkpoints")  # fmt: skip
# whole-number keys: (minimum, an example); None is allowed where the default is None or 0
WHOLE_NUMBERS = {
    "epochs": (1, 2),
    "batch_size": (1, 32),
    "input_size": (1, 32),
    "seed": (0, 0),
    # two at least: a resume falls back to the previous checkpoint when the newest is damaged
    "keep_checkpoints": (2, 2),
    "checkpoint_every_steps": (0, 100),
    "max_train_examples": (1, 512),
    "max_test_examples": (1, 128),
    "distillation.soft_epochs": (0, 1),
}
# numeric keys: (lowest value excluded, highest value included, an example); None where absent
# is allowed
NUMBERS = {
    "optimizer.lr": (0.0, None, 1e-3),
    "distillation.temperature": (0.0, None, 4.0),
    "distillation.alpha": (-1e-300, 1.0, 0.5),  # [0, 1]
    "clip_value": (0.0, None, 1.25),
    "label_smoothing": (-1e-300, 1.0, 0.1),  # [0, 1]
    "optimizer.weight_decay": (-1e-300, None, 1e-5),  # >= 0
    "two_step.step1_weight_decay": (-1e-300, None, 1e-5),  # >= 0
}
OPTIONS = {"epochs": "--epochs", "batch_size": "--batch-size"}  # keys with a CLI option
NONE_ALLOWED = ("max_train_examples", "max_test_examples", "checkpoint_every_steps",
                "distillation.soft_epochs", "distillation.temperature", "distillation.alpha",
                "clip_value", "two_step.step1_weight_decay", "two_step.teacher_recipe")  # fmt: skip


def check(config: Config) -> Config:
    """``config`` if a run can use its values, else a ValueError that names the key, the value
    received, the value expected and the option that sets it. ``train`` calls it before it
    loads or writes anything; names (model, dataset, optimizer...) are checked where they are
    used, before the run directory is written."""
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise ValueError(
            f"The config lacks {missing}. Expected a config from recipes.resolve() (every key of "
            f"recipes.defaults()); start from a recipe: `bnnzoo train --recipe R`."
        )
    for key, (minimum, example) in WHOLE_NUMBERS.items():
        value = _get(config, key)
        if value is None and key in NONE_ALLOWED:
            continue
        option = f"{OPTIONS[key]} {example} or " if key in OPTIONS else ""
        positive_int(key, value, minimum=minimum, hint=f"Pass {option}--set {key}={example}.")
    for key, (low, high, example) in NUMBERS.items():
        value = _get(config, key)
        if value is None and key in NONE_ALLOWED:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not value > low or (high is not None and value > high):
            expected = (f"a number in [0, {high}]" if high is not None
                        else "a number >= 0" if low < 0 else f"a number > {low}")  # fmt: skip
            raise ValueError(
                f"Expected {key} to be {expected}. Received: {key}={value!r}. Pass e.g. --set "
                f"{key}={example}."
            )
    if not isinstance(config.get("binary_weights", True), bool):
        raise ValueError(
            f"Expected binary_weights to be true or false. Received: "
            f"binary_weights={config['binary_weights']!r}. Pass --set binary_weights=false."
        )
    if config.get("channels") not in (None, 1, 3):
        raise ValueError(
            f"Expected channels to be 1, 3 or null (the dataset's own). Received: "
            f"channels={config['channels']!r}. Pass --set channels=3."
        )
    from bnnzoo.training.data import check_dataset_name  # imports TensorFlow

    check_dataset_name(config["dataset"])
    for key, option in (("model", "--model binary_resnet_e18"), ("data_dir", "--data-dir DIR"),
                        ("distillation.teacher", "--teacher FILE"),
                        ("two_step.teacher_recipe", "--teacher-recipe R")):  # fmt: skip
        value = _get(config, key)
        if not (isinstance(value, str) and value) and (key == "model" or value is not None):
            raise ValueError(
                f"Expected {key} to be a name or path (a string). Received: {key}={value!r}. "
                f"Pass {option}."
            )
    return config


def _get(config: Config, dotted: str):
    """``config["a"]["b"]`` for ``"a.b"``; None where a level is missing."""
    node = config
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def merge(config: Config, update: Config, *, source: str, prefix: str = "") -> None:
    """Recursively merge ``update`` into ``config``, refusing keys ``config`` lacks."""
    for key, value in update.items():
        path = f"{prefix}{key}"
        if key not in config:
            raise ValueError(_unknown_key(path, config, prefix, source))
        if isinstance(config[key], dict) and key not in FREE_FORM:
            if not isinstance(value, dict):
                raise ValueError(f"{source}: {path} must be a mapping. Received: {value!r}.")
            merge(config[key], value, source=source, prefix=f"{path}.")
        else:
            config[key] = copy.deepcopy(value)


def parse_override(item: str) -> tuple[str, object]:
    """``"optimizer.lr=0.002"`` → ``("optimizer.lr", 0.002)``; values are JSON or Python
    literals, anything else a string."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"Expected --set KEY=VALUE, e.g. optimizer.lr=0.002. Received: {item!r}.")
    text = text.strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            return key.strip(), parse(text)
        except (ValueError, SyntaxError):
            continue
    return key.strip(), text


def set_key(config: Config, dotted: str, value) -> None:
    """Set ``a.b.c`` in ``config``; the key must exist (``model_kwargs.*`` excepted)."""
    parts = dotted.split(".")
    node = config
    for depth, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], dict):
            raise ValueError(_unknown_key(".".join(parts[: depth + 1]), node, _prefix(parts, depth),
                                          "--set"))  # fmt: skip
        node = node[part]
    leaf = parts[-1]
    if leaf not in node and parts[0] != "model_kwargs":
        raise ValueError(_unknown_key(dotted, node, _prefix(parts, len(parts) - 1), "--set"))
    old = node.get(leaf)
    if dotted in FREE_FORM:
        if not isinstance(value, dict):
            raise ValueError(f'--set {dotted} expects a mapping, e.g. {{"filters": [32, 64]}}.')
        node[leaf] = value
        return
    if isinstance(old, dict):
        raise ValueError(f"--set {dotted} names a group; set one of its keys: {sorted(old)}.")
    if value is None and _default_is_none(parts):  # e.g. clip_value=null: the model's own
        node[leaf] = None
        return
    if isinstance(old, bool) and not isinstance(value, bool):
        raise ValueError(f"--set {dotted} expects true or false. Received: {value!r}.")
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"--set {dotted} expects a number. Received: {value!r}.")
        value = float(value) if isinstance(old, float) else value
    node[leaf] = value


def _default_is_none(parts) -> bool:
    node = defaults()
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node is None


def _prefix(parts, depth):
    return ".".join(parts[:depth]) + "." if depth else ""


def _unknown_key(path, node, prefix, source):
    valid = ", ".join(f"{prefix}{k}" for k in sorted(node))
    return f"{source}: unknown key {path!r}. Valid keys here: {valid}."


# --------------------------------------------------------------------------------------------
# Recipes from the papers
# --------------------------------------------------------------------------------------------

# Small configurations of the same families, so the quick variants finish in about a minute.
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
    in 22:56 on 2 CPU cores (AMD EPYC, bfloat16; benchmarks/fashion_mnist_93.md).

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

"""What a training run's config is: every key with its default (``defaults()``), the check of
a whole config before anything runs (``check``), and how a config is changed (``merge`` of a
recipe or options, ``--set key.sub=value`` through ``parse_override`` and ``set_key``). Unknown
keys are refused with the list of valid ones.

The named recipes that fill a config are ``bnnzoo.training.recipes``.

Example:
    >>> config = defaults()
    >>> set_key(config, *parse_override("optimizer.lr=0.002"))
    >>> check({**config, "model": "binary_resnet_e18", "dataset": "digits"})["optimizer"]["lr"]
    0.002
"""

from __future__ import annotations

import ast
import copy
import json

from bnnzoo._checks import positive_int

Config = dict
FREE_FORM = ("model_kwargs",)  # keys whose contents are not checked against the defaults


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

"""The model registry: every zoo factory is registered by name and created through it.

Example:
    >>> from bnnzoo import zoo
    >>> zoo.list_models("*densenet*")
    ['binary_densenet28', 'binary_densenet37', 'binary_densenet37_dilated', 'binary_densenet45']
    >>> model = zoo.create_model("binary_densenet28", num_classes=10, input_shape=(64, 64, 3))
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

ModelFactory = Callable[..., tf.keras.Model]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its factory and the facts the zoo reports about it.

    Attributes:
        name: registry name, lower snake case (``binary_densenet28``).
        factory: the keyword-only model function.
        family: the paper family (``binary_densenet``, ``resnet_e``...).
        paper: short reference of the paper that defines it.
        published_params: parameter count the authors or larq-zoo publish for the default
            configuration (ImageNet input, 1000 classes), or None.
        larq_zoo_name: name of the weight-compatible model in ``larq_zoo.literature``, if any;
            its ImageNet weights are what ``weights="imagenet"`` loads.
        binary: False for the full-precision networks a paper compares with (paper 000's
            float BitNets and Wide ResNets): their MACs are all float.
    """

    name: str
    factory: ModelFactory
    family: str
    paper: str
    published_params: int | None = None
    larq_zoo_name: str | None = None
    binary: bool = True


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    family: str,
    paper: str,
    published_params: int | None = None,
    larq_zoo_name: str | None = None,
    binary: bool = True,
) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator that registers a model factory under ``name``."""

    def decorator(factory: ModelFactory) -> ModelFactory:
        if name in _REGISTRY:
            raise ValueError(f"A model named {name!r} is already registered.")
        _REGISTRY[name] = ModelSpec(
            name, factory, family, paper, published_params, larq_zoo_name, binary
        )
        factory.registry_name = name
        return factory

    return decorator


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    return sorted(name for name in _REGISTRY if fnmatch.fnmatch(name, pattern))


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``; a ValueError lists the nearest names if unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(_unknown_model_message(name)) from None


# options where None is a value, not "unset": classifier_activation=None means logits
NONE_IS_A_VALUE = frozenset({"classifier_activation"})


def create_model(name: str, **kwargs) -> tf.keras.Model:
    """Build the registered model ``name``; keyword arguments that are None are dropped, except
    ``classifier_activation=None`` (logits, as in Keras applications).

    Dropping None lets a command line pass its unset options through without overriding the
    model's own defaults.
    """
    spec = get_model_spec(name)
    return spec.factory(
        **{k: v for k, v in kwargs.items() if v is not None or k in NONE_IS_A_VALUE}
    )


def _unknown_model_message(name: str) -> str:
    nearest = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.3)
    hint = f"Nearest registered names: {', '.join(nearest)}." if nearest else ""
    return (
        f"Unknown model {name!r}. {hint} "
        f"`bnnzoo list` or zoo.list_models() shows all {len(_REGISTRY)} models."
    ).replace("  ", " ")

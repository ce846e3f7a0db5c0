"""The model registry: every zoo model is registered by name with its defaults and published
facts, and created through it.

Example:
    >>> from bnnzoo import zoo
    >>> zoo.list_models("*densenet*")
    ['binary_densenet28', 'binary_densenet37', 'binary_densenet37_dilated', 'binary_densenet45']
    >>> zoo.get_model_spec("bitnet_cifar_d4_k3_n4").input_shape
    (32, 32, 3)
    >>> model = zoo.create_model("binary_densenet28", num_classes=10, input_shape=(64, 64, 3))
"""

from __future__ import annotations

import contextvars
import difflib
import fnmatch
import functools
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import tensorflow as tf

from bnnzoo.zoo.papers import Paper
from bnnzoo.zoo.pretrained import Pretrained

ModelFactory = Callable[..., tf.keras.Model]
IMAGENET_SHAPE = (224, 224, 3)
# the registered input shape of the model whose factory is running: where the input's height and
# width are left open (include_top=False), its stem is the one this shape builds
_BUILDING = contextvars.ContextVar("bnnzoo_registered_input_shape", default=None)


def registered_input_shape() -> tuple[int, int, int] | None:
    """The registered default input shape of the model being built by its registered factory
    (``create_model`` or the decorated function), None outside one."""
    return _BUILDING.get()


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its factory, its defaults and the facts the zoo reports about it.

    Attributes:
        name: registry name, lower snake case (``binary_densenet28``).
        factory: the keyword-only model function; it builds at ``input_shape`` and
            ``num_classes`` unless given others.
        family: the architecture family (``binary_densenet``, ``bitnet``...).
        paper: the paper that defines the model; ``str(paper)`` is its citation.
        input_shape: the default ``(height, width, channels)``: the paper's dataset.
        num_classes: the default number of classes.
        published_params: the parameter count (Keras ``count_params()``, batch norm included)
            that the authors or larq-zoo publish for the defaults, or None.
        pretrained: published weights by dataset (``{"imagenet": Pretrained}``), empty if none.
        binary: False for the full-precision networks a paper compares with (the float BitNets
            and Wide ResNets of Zhang et al. 2017): their MACs are all float.
    """

    name: str
    factory: ModelFactory
    family: str
    paper: Paper
    input_shape: tuple[int, int, int] = IMAGENET_SHAPE
    num_classes: int = 1000
    published_params: int | None = None
    pretrained: Mapping[str, Pretrained] = field(default_factory=dict)
    binary: bool = True


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    family: str,
    paper: Paper,
    input_shape: tuple[int, int, int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    published_params: int | None = None,
    pretrained: Mapping[str, Pretrained] | None = None,
    binary: bool = True,
) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator that registers a model factory under ``name``.

    It returns the factory with the registered defaults applied: ``input_shape`` when neither
    ``input_shape`` nor ``input_tensor`` is given and the top is built (without it, as in Keras
    applications, height and width stay open: ``(None, None, channels)``, with the stem of the
    registered shape), ``num_classes`` when it is not given (None counts as not given), so the
    function and ``create_model(name)`` build the same model.
    """
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    if not isinstance(paper, Paper):
        raise ValueError(
            f"Expected paper to be a bnnzoo.zoo.papers.Paper. Received: {paper!r} for {name!r}."
        )

    def decorator(factory: ModelFactory) -> ModelFactory:
        @functools.wraps(factory)
        def with_defaults(**kwargs) -> tf.keras.Model:
            open_shape = kwargs.get("include_top", True) is False
            no_shape = kwargs.get("input_shape") is None and kwargs.get("input_tensor") is None
            if no_shape and not open_shape:
                kwargs["input_shape"] = input_shape
            if kwargs.get("num_classes") is None:
                kwargs["num_classes"] = num_classes
            token = _BUILDING.set(tuple(input_shape))
            try:  # AutoGraph off while the model is built (zoo._common.builder says why)
                return tf.autograph.experimental.do_not_convert(factory)(**kwargs)
            finally:
                _BUILDING.reset(token)

        _REGISTRY[name] = ModelSpec(
            name,
            with_defaults,
            family,
            paper,
            tuple(input_shape),
            num_classes,
            published_params,
            types.MappingProxyType(dict(pretrained or {})),
            binary,
        )
        return with_defaults

    return decorator


def list_models(pattern: str = "*", *, family: str | None = None, paper: str | None = None):
    """Registered model names matching a shell-style ``pattern``, sorted.

    Args:
        pattern: e.g. ``"*densenet*"``.
        family: only this family (``list_families()`` names them).
        paper: only models of the papers this text names: a paper key (``"zhang2017"``) or any
            part of a citation or nickname (``"Bethge"``, ``"BitNet"``), case-insensitive.

    Raises:
        ValueError: an unknown family, or a paper text that names no paper; the message lists
            the valid ones.
    """
    specs = _REGISTRY.values()
    if family is not None:
        if family not in {s.family for s in specs}:
            raise ValueError(
                f"Unknown family {family!r}. Expected one of: {', '.join(list_families())}."
            )
        specs = [s for s in specs if s.family == family]
    if paper is not None:
        papers = {s.paper for s in _REGISTRY.values()}
        wanted = {p for p in papers if _names_paper(p, paper)}
        if not wanted:
            listed = "; ".join(f"{p.key} ({p})" for p in sorted(papers, key=lambda p: p.key))
            raise ValueError(
                f"No paper matches {paper!r}. Pass a key or part of a citation: {listed}."
            )
        specs = [s for s in specs if s.paper in wanted]
    return sorted(s.name for s in specs if fnmatch.fnmatch(s.name, pattern))


def _names_paper(paper: Paper, text: str) -> bool:
    return str(text).lower() in f"{paper.key} {paper} {paper.nickname}".lower()


def list_families() -> dict[str, list[str]]:
    """Family → its model names in the order they were registered (a family's main models
    first), families sorted.

    Example:
        >>> list_families()["resnet_e"]
        ['binary_resnet_e18']
    """
    families: dict[str, list[str]] = {}
    for spec in _REGISTRY.values():
        families.setdefault(spec.family, []).append(spec.name)
    return dict(sorted(families.items()))


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
    model's registered defaults (``get_model_spec(name).input_shape`` and ``.num_classes``).
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

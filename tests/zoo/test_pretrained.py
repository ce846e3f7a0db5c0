"""The table of published weights against larq-zoo's own code, without network access.

larq-zoo names each weights file in a ``download_pretrained_model(model=, version=, file=,
file_hash=)`` call inside its model factory classes (``larq_zoo.literature``, ``larq_zoo.sota``).
The test reads those calls from larq-zoo's source (``ast``), turns them into URLs with larq-zoo's
own ``download_pretrained_model`` (its ``get_file`` replaced by a recorder, so nothing is
downloaded) and compares with the table.
"""

import ast
import inspect

import larq_zoo
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.zoo import pretrained, weights
from bnnzoo.zoo.pretrained import IMAGENET, WeightsFile


def _download_calls(larq_zoo_name: str) -> list[dict]:
    """The keyword arguments of the download_pretrained_model calls that name the weights of
    larq-zoo's ``larq_zoo_name``: in the factory class its function instantiates, or the
    nearest base class that has them (RealToBinaryNet's are in its parent's method)."""
    function = getattr(larq_zoo.literature, larq_zoo_name, None) or getattr(
        larq_zoo.sota, larq_zoo_name
    )
    module = inspect.getmodule(function)
    tree = ast.parse(inspect.getsource(module))
    (function_node,) = [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == larq_zoo_name
    ]
    (factory_name,) = {
        node.func.id
        for node in ast.walk(function_node)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.endswith("Factory")
    }
    for cls in getattr(module, factory_name).__mro__:
        classes = [
            n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__
        ]
        calls = [
            {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
            for class_node in classes
            for node in ast.walk(class_node)
            if isinstance(node, ast.Call) and _called(node) == "download_pretrained_model"
        ]
        if calls:
            return calls
    return []


def _called(call: ast.Call) -> str | None:
    return (
        call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    )


def _larq_zoo_file(monkeypatch, call: dict) -> WeightsFile:
    """The URL and hash larq-zoo's download_pretrained_model asks Keras to fetch."""
    asked = []
    monkeypatch.setattr(tf.keras.utils, "get_file", lambda **kw: asked.append(kw))
    larq_zoo.core.utils.download_pretrained_model(**call)
    (kwargs,) = asked
    return WeightsFile(kwargs["origin"], kwargs["file_hash"])


@pytest.mark.parametrize("larq_zoo_name", sorted(IMAGENET))
def test_table_matches_larq_zoos_code(larq_zoo_name, monkeypatch):
    calls = _download_calls(larq_zoo_name)
    assert len(calls) == 2
    files = {"_notop" in c["file"]: _larq_zoo_file(monkeypatch, c) for c in calls}
    entry = IMAGENET[larq_zoo_name]
    assert entry.larq_zoo_name == larq_zoo_name
    assert entry.top == files[False]
    assert entry.no_top == files[True]


def test_the_table_covers_every_model_with_a_larq_zoo_twin():
    """Every table entry is some model's twin; within bnnzoo's own families and within the
    larq_zoo family no two models share one (BiRealNet is twice: ``bireal_resnet18`` is
    bnnzoo's re-implementation, ``birealnet`` larq-zoo's own build)."""
    own, larq = [], []
    for name in zoo.list_models():
        spec = zoo.get_model_spec(name)
        if spec.pretrained:
            twin = spec.pretrained["imagenet"].larq_zoo_name
            (larq if spec.family == "larq_zoo" else own).append(twin)
    assert len(own) == len(set(own)), own
    assert len(larq) == len(set(larq)), larq
    assert set(own) | set(larq) == set(pretrained.IMAGENET)


class _AskedError(Exception):
    pass


@pytest.mark.parametrize("include_top", [True, False])
@pytest.mark.parametrize("name", [n for n in zoo.list_models() if zoo.get_model_spec(n).pretrained])
def test_weights_imagenet_downloads_the_registered_file(name, include_top, monkeypatch):
    """What ``weights="imagenet"`` fetches is the registration's file (nothing is built)."""

    def download(url, sha256, **kwargs):
        raise _AskedError(url, sha256)

    monkeypatch.setattr(weights, "download", download)
    with pytest.raises(_AskedError) as asked:
        zoo.create_model(name, weights="imagenet", include_top=include_top)
    expected = zoo.get_model_spec(name).pretrained["imagenet"].file(include_top=include_top)
    assert asked.value.args == (expected.url, expected.sha256)

"""The table of published weights against larq-zoo's own code, without network access.

larq-zoo names each weights file in a ``download_pretrained_model(model=, version=, file=,
file_hash=)`` call inside its model factory classes. The test reads those calls from larq-zoo's
source (``ast``), turns them into URLs with larq-zoo's own ``download_pretrained_model`` (its
``get_file`` replaced by a recorder, so nothing is downloaded) and compares with the table.
"""

import ast
import inspect

import larq_zoo
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.zoo import pretrained, weights
from bnnzoo.zoo.pretrained import IMAGENET, WeightsFile


def _download_calls(class_name: str) -> list[dict]:
    """The keyword arguments of every download_pretrained_model call in a larq-zoo class."""
    module = inspect.getmodule(getattr(larq_zoo.literature, class_name.removesuffix("Factory")))
    tree = ast.parse(inspect.getsource(module))
    (cls,) = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name]
    return [
        {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
        for node in ast.walk(cls)
        if isinstance(node, ast.Call) and _called(node) == "download_pretrained_model"
    ]


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
    calls = _download_calls(f"{larq_zoo_name}Factory")
    assert len(calls) == 2
    files = {"_notop" in c["file"]: _larq_zoo_file(monkeypatch, c) for c in calls}
    entry = IMAGENET[larq_zoo_name]
    assert entry.larq_zoo_name == larq_zoo_name
    assert entry.top == files[False]
    assert entry.no_top == files[True]


def test_the_table_covers_every_model_with_a_larq_zoo_twin():
    twins = {
        name: spec.pretrained["imagenet"].larq_zoo_name
        for name in zoo.list_models()
        if (spec := zoo.get_model_spec(name)).pretrained
    }
    assert sorted(twins.values()) == sorted(pretrained.IMAGENET)


class _AskedError(Exception):
    pass


@pytest.mark.parametrize("include_top", [True, False])
@pytest.mark.parametrize("name", zoo.list_models(paper="bethge2019"))
def test_weights_imagenet_downloads_the_registered_file(name, include_top, monkeypatch):
    """What ``weights="imagenet"`` fetches is the registration's file (nothing is built)."""

    def download(url, sha256, **kwargs):
        raise _AskedError(url, sha256)

    monkeypatch.setattr(weights, "download", download)
    with pytest.raises(_AskedError) as asked:
        zoo.create_model(name, weights="imagenet", include_top=include_top)
    expected = zoo.get_model_spec(name).pretrained["imagenet"].file(include_top=include_top)
    assert asked.value.args == (expected.url, expected.sha256)

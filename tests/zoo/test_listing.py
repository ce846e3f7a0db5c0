"""The text of ``bnnzoo list``: the family overview, filtered model tables, counts."""

import pytest
import tensorflow as tf

from bnnzoo import analysis, zoo
from bnnzoo.zoo.listing import format_model_list


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if a layer is called, i.e. a model is built."""
    built = []
    monkeypatch.setattr(tf.keras.layers.Layer, "__call__", lambda *a, **k: built.append(a))
    yield
    assert built == []


def _rows(text: str) -> list[list[str]]:
    """The table's rows below its header and dashes, split into cells."""
    lines = text.split("\n\n")[0].splitlines()
    return [line.split() for line in lines[2:]]


def test_overview_has_one_row_per_family(no_build):
    text = format_model_list()
    rows = _rows(text)
    assert [row[0] for row in rows] == list(zoo.list_families())
    bitnet = next(row for row in rows if row[0] == "bitnet")
    assert bitnet[1:5] == ["Zhang", "et", "al.", "2017"]
    assert bitnet[5] == "50"
    larq_zoo = next(row for row in rows if row[0] == "larq_zoo")
    assert larq_zoo[1:3] == ["7", "papers"]  # a family of several papers says so
    assert "bitnet26," in bitnet and "more)" in bitnet  # examples, the rest collapsed
    assert "bitnet_cifar_d10_k2_n2" not in text
    assert f"{len(zoo.list_models())} models in {len(zoo.list_families())} families" in text
    assert len(text.splitlines()) == len(zoo.list_families()) + 5  # header, rule, note


def test_family_lists_its_models_with_their_defaults(no_build):
    rows = _rows(format_model_list(family="binary_densenet"))
    assert [row[0] for row in rows] == zoo.list_models(family="binary_densenet")
    assert rows[0] == ["binary_densenet28", "224x224x3", "1000", "5,150,504", "imagenet"]
    rows = _rows(format_model_list(family="wide_resnet"))
    assert len(rows) == 8
    assert all(row[1:] == ["32x32x3", "10"] for row in rows)  # no published count, no weights


def test_paper_and_pattern_select_models(no_build):
    rows = _rows(format_model_list(paper="bethge2019"))
    assert [row[0] for row in rows] == zoo.list_models(paper="bethge2019")
    assert [row[0] for row in rows][-1] == "binary_resnet_e18"
    rows = _rows(format_model_list("bitnet_cifar_d4_k3_n4*"))
    assert [row[0] for row in rows] == ["bitnet_cifar_d4_k3_n4", "bitnet_cifar_d4_k3_n4_binary"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"family": "densenet"}, "Unknown family 'densenet'. Expected one of: binary_densenet,"),
        ({"paper": "Hinton"}, "No paper matches 'Hinton'.*zhang2017"),
        ({"pattern": "resnet50*"}, "No registered model matches pattern='resnet50\\*'"),
        ({"pattern": "wu*", "family": "bitnet"}, "pattern='wu\\*', family='bitnet'"),
    ],
)
def test_bad_selections_say_what_is_valid(kwargs, message, no_build):
    with pytest.raises(ValueError, match=message):
        format_model_list(**kwargs)


def test_counts_build_each_listed_model_at_its_defaults():
    names = ["bitnet_cifar_d4_k1_n2", "bitnet_cifar_d4_k1_n2_binary"]
    text = format_model_list("bitnet_cifar_d4_k1_n2*", counts=True)
    rows = _rows(text)
    assert [row[0] for row in rows] == names
    for row, name in zip(rows, names):
        counts = analysis.count_model(zoo.create_model(name))
        assert row[3:] == [
            f"{counts.params:,}",
            f"{counts.binary_macs / 1e9:.3f}",
            f"{counts.float_macs / 1e9:.3f}",
            f"{counts.size_mb:.2f}",
        ]
    assert rows[0][4] == "0.000" and rows[1][4] != "0.000"  # binary MACs: float vs binary
    assert "parameters" in text.splitlines()[0] and "Counts at each model's default" in text

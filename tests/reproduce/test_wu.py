"""Table 1 of Wu, Wu, Zhao 2016 reproduced layer by layer on ``wu_bnn13``."""

import dataclasses
import inspect

import pytest

from bnnzoo import reproduce
from bnnzoo.reproduce import wu
from tests.cli._run import run

pytestmark = pytest.mark.xdist_group("wu_reproduction")  # the model is built once

# From 143 px up the layers are those of 224 px (unpadded); at 224 the 4096-unit layer alone has
# 75.5 M weights, which take most of the build.
SHAPE = (143, 143, 3)


@pytest.fixture(scope="module")
def rows():
    return wu.reproduce(SHAPE)


def test_every_row_of_table_1_matches_and_the_depth_is_documented(rows):
    *table, depth = rows
    assert [r.paper.sequence for r in table] == [r.sequence for r in wu.PAPER_ROWS]
    assert all(r.status == "ok" and r.mismatches == [] for r in table)
    assert (depth.printed, depth.built, depth.status) == (13, 12, "deviation")
    assert wu.reproduced(rows) and wu.tally(rows) == {"ok": 12, "deviation": 1, "failed": 0}
    assert inspect.signature(wu.reproduce).parameters["input_shape"].default == (224, 224, 3)


def test_rows_stand_for_the_built_layers(rows):
    by = {r.paper.sequence: r for r in rows[:-1]}
    assert [b.name for b in by["4-6"].built] == [f"block1_conv{i}" for i in (1, 2, 3)]
    assert len(by["8-13"].built) == 6
    assert by["2"].built[0].layer.weights == "float"  # §2.1
    assert by["17"].built[0].layer.weights == "float"  # §2.3, regular weights
    assert by["16"].built[0].layer.weights == "binary"
    dropout = by["15"].built[0]
    assert dropout.layer.rate == 0.2 and dropout.layer.channels == 512  # of the flattened map
    assert by["19"].built[0].name == "head_softmax"


def test_a_differing_layer_a_missing_one_and_an_extra_one_fail(rows):
    built = [b for r in rows[:-1] for b in r.built]
    assert wu.match(built) == rows[:-1]
    wider = [
        dataclasses.replace(b, layer=dataclasses.replace(b.layer, channels=500))
        if b.name == "block2_conv3" else b
        for b in built
    ]  # fmt: skip
    row = next(r for r in wu.match(wider) if r.paper.sequence == "8-13")
    assert row.mismatches == ["channels"] and row.status == "OFF"
    missing = wu.match([b for b in built if b.name != "block2_conv6"])
    shifted = next(r for r in missing if r.paper.sequence == "8-13")  # ends in pool3
    assert shifted.mismatches[0] == "kind" and shifted.status == "OFF"
    assert missing[-1].mismatches == ["count"] and not wu.reproduced(missing)
    extra = wu.match([*built, built[-1]])
    assert extra[-1].paper.layer.kind == "(not in Table 1)" and extra[-1].status == "OFF"


def test_report_and_exit_status(rows, monkeypatch, capsys):
    text = wu.format_report(rows)
    assert "at 143x143x3" in text and "block2_conv1 .. block2_conv6 (6)" in text
    assert "Documented deviations:" in text and "13 printed, 12 built" in text
    monkeypatch.setattr(wu, "reproduce", lambda: rows)  # what `bnnzoo reproduce wu` runs
    code, out, _ = run(capsys, "reproduce", "wu")
    assert code == 0 and out.strip() == text
    assert reproduce.run("wu") == (text, True)
    monkeypatch.setattr(wu, "DEVIATIONS", {})
    assert not wu.reproduced(rows)
    code, out, _ = run(capsys, "reproduce", "wu")
    assert code == 1 and "OFF" in out

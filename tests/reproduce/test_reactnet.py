"""The complexity Liu, Shen, Savvides, Cheng 2020 (ReActNet) publishes, reproduced: BOPs, FLOPs
and OPs of ReActNet-A and the Bi-Real-based ReActNet within 5 %."""

import pytest

from bnnzoo.reproduce import reactnet
from bnnzoo.reproduce.reactnet import PaperRow, ReproducedRow

# its module fixture builds ReActNet-A at 224×224 (29 M weights): keep the module on one worker
pytestmark = pytest.mark.xdist_group("reactnet_reproduction")


@pytest.fixture(scope="module")
def rows():
    return reactnet.reproduce_reactnet()


def test_every_published_figure_within_5_percent(rows):
    assert [r.paper.model for r in rows] == ["reactnet_a", "reactnet_bireal18"]
    statuses = [r.status(f) for r in rows for f in reactnet.FIGURES]
    assert statuses == ["ok", "ok", "ok", "", "", "ok"]
    assert reactnet.reproduced(rows) and not reactnet.DEVIATIONS


def test_built_figures(rows):
    a, bireal = rows
    # ReActNet-A: 4.82e9 BOPs, 0.12e8 FLOPs (stem and classifier), 0.87e8 OPs printed
    assert (a.bops, a.flops) == (4_816_896_000, 11_862_016)
    assert a.ops == pytest.approx(0.8713e8, rel=1e-4)
    # the Bi-Real-based ReActNet costs what Bi-Real ResNet-18 costs: 1.63e8 OPs printed
    assert (bireal.bops, bireal.flops) == (1_676_279_808, 137_793_536)
    assert bireal.diff("ops") == pytest.approx(0.006, abs=0.001)


def test_report(rows):
    text = reactnet.format_reactnet_report(rows)
    assert "ReActNet-A" in text and "ReActNet (Bi-Real based)" in text
    assert "69.4%" in text and "4.817" in text and "0.871" in text
    assert "Documented deviations" not in text


def test_a_figure_out_of_bounds_fails_unless_documented(monkeypatch):
    row = ReproducedRow(PaperRow("reactnet_a", "ReActNet-A", 69.4, ops=1e8), 0.0, 0.0, 0.8e8)
    assert row.diff("ops") == pytest.approx(-0.2) and row.status("ops") == "OFF"
    assert row.status("bops") == "" and not reactnet.reproduced([row])
    monkeypatch.setitem(reactnet.DEVIATIONS, ("reactnet_a", "ops"), "a reason")
    assert row.status("ops") == "deviation" and reactnet.reproduced([row])
    assert "ReActNet-A ops -20.0%: a reason." in reactnet.format_reactnet_report([row])

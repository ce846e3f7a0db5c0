"""``bnnzoo reproduce dwr``: the released DWR presets' OPs against their originals'."""

import pytest

from bnnzoo.reproduce import dwr
from tests.cli._run import run

pytestmark = pytest.mark.xdist_group("dwr_reproduction")  # the table is built once


@pytest.fixture(scope="module")
def reproduced():
    return dwr.reproduce_dwr()


@pytest.fixture(scope="module")
def rows(reproduced):
    return {row.dwr.name: row for row in reproduced}


def test_imagenet_pair_matches_table_8_as_the_authors_count(rows):
    row = rows["dwr_resnet18_imagenet_s2"]
    assert row.ratio == pytest.approx(1.73 / 1.74, abs=0.002)
    assert row.original.ops == pytest.approx(1.64e8, rel=0.01)  # larq's count of Bi-Real 18
    assert row.dwr.ops / row.original.ops > 1.2  # with its wider FP shortcut convs counted


def test_every_pair_but_vgg11_is_within_five_percent_and_vgg11_is_under_budget(rows):
    close = {name for name, row in rows.items() if row.status == "≈"}
    assert close == set(dwr.RELEASED) - {"dwr_vgg11"}
    assert rows["dwr_vgg11"].ratio == pytest.approx(0.866, abs=0.002)
    assert rows["dwr_vgg11"].status == "under" and rows["dwr_vgg11"].ok
    assert dwr.reproduced(list(rows.values()))
    r20 = rows["dwr_resnet20_s3"]
    assert r20.dwr.activations < 0.6 * r20.original.activations  # DWR's activation claim


def test_a_row_over_budget_fails():
    def row(dwr_ops):
        return dwr.DWRRow(dwr.Costs("d", dwr_ops, dwr_ops, 1, 1), dwr.Costs("o", 100, 100, 1, 1), 2)

    assert [row(ops).status for ops in (90, 96, 104, 106)] == ["under", "≈", "≈", "OVER"]
    assert not dwr.reproduced([row(100), row(106)])
    assert "OVER" in dwr.format_dwr_report([row(106)])


def test_report_lists_every_pair_and_marks_the_one_under_budget(rows):
    report = dwr.format_dwr_report(list(rows.values()))
    for name, (original, _) in dwr.RELEASED.items():
        assert f"{name} ({original})" in report
    assert report.count(" under ") == 1 and " OVER " not in report and "Table 8" in report


def test_cli_exits_0_with_every_row_within_the_budget(reproduced, capsys, monkeypatch):
    monkeypatch.setattr(dwr, "reproduce_dwr", lambda: reproduced)  # what the command runs
    code, out, _ = run(capsys, "reproduce", "dwr")
    assert code == 0 and "dwr_vgg11 (vgg11)" in out
    assert out.strip() == dwr.format_dwr_report(reproduced).strip()

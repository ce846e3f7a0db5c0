"""``bnnzoo reproduce`` without a paper: every paper of ``reproduce.REGISTRY``, one summary line
each, exit 1 when one fails. Rows are made by hand here (nothing is built); each paper's own test
module reproduces its real rows."""

import pytest

from bnnzoo import reproduce
from bnnzoo.cli import build_parser
from bnnzoo.reproduce import binarydensenet, bitnet, dwr, igp, wu
from tests.cli._run import run


def _bitnet_rows():
    ok = next(r for r in bitnet.PAPER_ROWS if r.row == "BitNet (d=4,k=3,n=4)" and r.table == "2")
    wide = next(r for r in bitnet.PAPER_ROWS if r.is_wide_resnet and r.flops)  # 8.9M, 1.34
    return [
        bitnet.ReproducedRow(ok, "cifar10", 3_694_000, 528_927_232, 528_927_232),
        bitnet.ReproducedRow(wide, "cifar10", 8_900_000, 1_300_000_000, 1_341_000_000),
    ]


def _rows(*, wu_fails: bool) -> dict[str, list]:
    """Rows as each paper's ``reproduce`` returns them: one ok figure or more per paper, one
    documented deviation in three of them, and Wu's Table 1 without its layers if asked."""
    bireal = igp.PAPER_ROWS[0]  # Bi-Real ResNet18: 33.2 Mbit, 0.16·10⁹ OPs, no path claim
    costs = dwr.Costs("original", 100, 100, 1, 1)
    figures = binarydensenet.Figures(4.0448, (6, 6, 6, 5), ((448, 160),), (1.3,), 64, (64,),
                                     0.0221, 3.1e8)  # fmt: skip
    wu_rows = wu.match([]) if wu_fails else [wu.DepthRow(13, 12)]
    return {
        "bitnet": _bitnet_rows(),
        "igp": [igp.ReproducedRow(bireal, 33.21, 0.164, (0, 1, 2), None, None)],
        "dwr": [
            dwr.DWRRow(dwr.Costs("a", 100, 100, 1, 1), costs, 2),
            dwr.DWRRow(dwr.Costs("b", 90, 90, 1, 1), costs, 2),
        ],  # fmt: skip
        "binarydensenet": [
            binarydensenet.ReproducedRow(
                binarydensenet.PaperRow("6", "bdn28", "size", "~4.0 MB"), figures
            )  # fmt: skip
        ],
        "wu": wu_rows,
    }


def test_every_paper_is_in_the_table_with_the_functions_the_summary_calls():
    assert reproduce.PAPERS[:5] == ("bitnet", "igp", "dwr", "binarydensenet", "wu")
    for name, entry in reproduce.REGISTRY.items():
        for function in (entry.build, entry.report, "reproduced"):
            assert callable(getattr(entry.module, function, None)), (name, function)
        assert entry.tally is not None or callable(getattr(entry.module, "tally", None)), name
    with pytest.raises(ValueError, match=r"one of \(.*'wu'.*\)\. Received: paper='nope'"):
        reproduce.run("nope")


def test_summary_counts_each_papers_rows():
    text, ok = reproduce.summarize(_rows(wu_fails=False))
    lines = text.splitlines()
    assert ok and len(lines) == 6
    assert lines[0].split() == ["bitnet", "reproduced", "2", "checks:", "1", "within", "bounds,",
                                "1", "documented", "deviation,", "0", "failed"]  # fmt: skip
    assert "igp" in lines[1] and "2 checks: 2 within bounds, 0 documented deviations" in lines[1]
    assert "dwr" in lines[2] and "1 within bounds, 1 documented deviation," in lines[2]
    assert "binarydensenet" in lines[3] and "1 checks: 1 within bounds" in lines[3]
    assert lines[4].startswith("wu") and "0 within bounds, 1 documented deviation" in lines[4]
    assert lines[5] == "5 of 5 papers reproduced"


def test_a_failing_paper_fails_the_summary():
    text, ok = reproduce.summarize(_rows(wu_fails=True))
    assert not ok
    wu_line = text.splitlines()[4]
    assert "FAILED" in wu_line and "12 failed" in wu_line
    assert text.splitlines()[-1].startswith("4 of 5 papers reproduced; failing: wu")


@pytest.fixture
def fabricated(monkeypatch):
    """Every paper's ``reproduce`` returns hand-made rows; returns a switch for Wu's to fail."""
    entries = {name: reproduce.REGISTRY[name] for name in _rows(wu_fails=False)}
    monkeypatch.setattr(reproduce, "REGISTRY", entries)  # papers added later stay out of it
    state = {"wu_fails": False}
    for name, entry in entries.items():
        monkeypatch.setattr(entry.module, entry.build,
                            lambda name=name: _rows(**state)[name])  # fmt: skip
    return state


def test_run_all_reproduces_every_paper_in_order(fabricated):
    echoed = []
    text, ok = reproduce.run_all(echo=echoed.append)
    assert ok and echoed == text.splitlines()[:-1]
    assert [line.split()[0] for line in echoed] == list(reproduce.REGISTRY)


def test_cli_without_a_paper_prints_the_summary_and_exits_1_on_a_failure(fabricated, capsys):
    assert build_parser().parse_args(["reproduce"]).paper is None
    code, out, _ = run(capsys, "reproduce")
    assert code == 0 and out.splitlines()[-1] == "5 of 5 papers reproduced"
    assert len(out.splitlines()) == 6
    fabricated["wu_fails"] = True
    code, out, _ = run(capsys, "reproduce")
    assert code == 1 and "failing: wu" in out
    code, _, err = run(capsys, "reproduce", "nope")
    assert code == 2 and "invalid choice: 'nope'" in err

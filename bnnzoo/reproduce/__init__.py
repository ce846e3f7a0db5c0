"""Papers' published figures next to the zoo's built models: what ``bnnzoo reproduce PAPER`` runs.

``REGISTRY`` maps each paper's name to its module in this package. A module written for it
exposes ``reproduce()`` (build and measure: the rows), ``reproduced(rows)`` (True when every
row is within its bounds or a documented deviation), ``format_report(rows)`` and
``tally(rows)`` (``{"ok": n, "deviation": n, "failed": n}``), and is added with one line,
``"name": Paper(module)``. The older modules name their functions after the paper; their
entries say which, and count their rows with the functions below.

Example:
    >>> from bnnzoo import reproduce
    >>> report, ok = reproduce.run("bitnet")
    >>> print(report)
    >>> summary, ok = reproduce.run_all()  # every paper, one line each
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

from bnnzoo.reproduce import binarydensenet, bitnet, dwr, igp, reactnet, wu


def _bitnet_tally(rows: list) -> dict[str, int]:
    """Per row and head: the Wide ResNet FLOPs of Table 2 are documented deviations (the
    module's note: the paper counts their 1×1 shortcuts as 3×3)."""
    counts = Counter()
    for r in rows:
        if not r.params_ok or (r.flops_ok is False and not r.paper.is_wide_resnet):
            counts["failed"] += 1
        else:
            counts["deviation" if r.flops_ok is False else "ok"] += 1
    return {key: counts[key] for key in ("ok", "deviation", "failed")}


def _counts(statuses: list[str]) -> dict[str, int]:
    counts = Counter(statuses)
    return {"ok": counts["ok"], "deviation": counts["deviation"], "failed": counts["OFF"]}


def figure_tally(figures: tuple[str, ...]) -> Callable[[list], dict[str, int]]:
    """The tally of a module whose rows say ``row.status(figure)`` for each of ``figures``
    (``"ok"``, ``"deviation"``, ``"OFF"``, or ``""`` where nothing is printed), as igp's do.

    Example:
        >>> Paper(reactnet, "reproduce_reactnet", "format_reactnet_report",
        ...       figure_tally(reactnet.FIGURES))
    """

    def tally(rows: list) -> dict[str, int]:
        return _counts([r.status(f) for r in rows for f in figures if r.status(f)])

    return tally


def _igp_tally(rows: list) -> dict[str, int]:
    """Every printed storage and OPs figure, and every gradient-path claim."""
    counts = figure_tally(("storage", "ops"))(rows)
    claims = _counts([claim.status for claim in igp.path_claims(rows)])
    return {key: counts[key] + claims[key] for key in counts}


def _dwr_tally(rows: list) -> dict[str, int]:
    """``≈`` within the budget's tolerance; ``under`` (VGG-11, allowed by Eq. 22 and explained
    in the module) a documented deviation; ``OVER`` a failure."""
    counts = Counter(r.status for r in rows)
    return {"ok": counts["≈"], "deviation": counts["under"], "failed": counts["OVER"]}


@dataclass(frozen=True)
class Paper:
    """How ``bnnzoo reproduce`` runs one paper's module.

    The functions are looked up on the module when called (by name), so a test that replaces
    one on the module replaces it here too.

    Attributes:
        module: the paper's module in ``bnnzoo.reproduce``.
        build: the name of its function that builds and measures the rows.
        report: the name of its function that formats them.
        tally: counts the rows; None: the module's ``tally``.
    """

    module: ModuleType
    build: str = "reproduce"
    report: str = "format_report"
    tally: Callable[[list], dict[str, int]] | None = None

    def rows(self) -> list:
        return getattr(self.module, self.build)()

    def format(self, rows: list) -> str:
        return getattr(self.module, self.report)(rows)

    def ok(self, rows: list) -> bool:
        return bool(self.module.reproduced(rows))

    def counts(self, rows: list) -> dict[str, int]:
        return (self.tally or self.module.tally)(rows)


REGISTRY: dict[str, Paper] = {
    "bitnet": Paper(bitnet, "reproduce_bitnet", "format_bitnet_report", _bitnet_tally),
    "igp": Paper(igp, "reproduce_igp", "format_igp_report", _igp_tally),
    "dwr": Paper(dwr, "reproduce_dwr", "format_dwr_report", _dwr_tally),
    "binarydensenet": Paper(binarydensenet),
    "wu": Paper(wu),
    "reactnet": Paper(
        reactnet, "reproduce_reactnet", "format_reactnet_report", figure_tally(reactnet.FIGURES)
    ),
}
PAPERS = tuple(REGISTRY)


def _paper(paper: str) -> Paper:
    if paper not in REGISTRY:
        raise ValueError(
            f"Expected paper to be one of {PAPERS}. Received: paper={paper!r}. "
            f"`bnnzoo reproduce` without a paper runs them all."
        )
    return REGISTRY[paper]


def run(paper: str) -> tuple[str, bool]:
    """Build the models a paper reports on and compare their figures with the printed ones.

    Returns:
        The report, and whether every figure reproduces (the bounds are in each paper's module).

    Raises:
        ValueError: ``paper`` is not one of ``PAPERS``.
    """
    entry = _paper(paper)
    rows = entry.rows()
    return entry.format(rows), entry.ok(rows)


def summary_line(paper: str, rows: list) -> tuple[str, bool]:
    """One line for a paper's reproduced rows: the verdict and the rows within bounds,
    documented deviations and failures.

    Example:
        >>> line, ok = summary_line("wu", wu.reproduce())
        >>> print(line)
        wu              reproduced  13 checks: 12 within bounds, 1 documented deviation, 0 failed
    """
    entry = _paper(paper)
    ok = entry.ok(rows)
    counts = entry.counts(rows)
    checks = sum(counts.values())
    deviations = counts["deviation"]
    line = (
        f"{paper:<15} {'reproduced' if ok else 'FAILED':<10}  {checks} checks: {counts['ok']} "
        f"within bounds, {deviations} documented deviation{'' if deviations == 1 else 's'}, "
        f"{counts['failed']} failed"
    )
    return line, ok


def summarize(results: Mapping[str, list]) -> tuple[str, bool]:
    """One line per paper for rows already reproduced (``{paper: rows}``) and a last line;
    False when any paper fails."""
    lines, verdicts = [], []
    for paper, rows in results.items():
        line, ok = summary_line(paper, rows)
        lines.append(line)
        verdicts.append(ok)
    failed = [paper for paper, ok in zip(results, verdicts) if not ok]
    lines.append(
        f"{len(results) - len(failed)} of {len(results)} papers reproduced"
        + (
            f"; failing: {', '.join(failed)} (run `bnnzoo reproduce PAPER` for its table)"
            if failed
            else ""
        )  # fmt: skip
    )
    return "\n".join(lines), not failed


def run_all(echo: Callable[[str], None] | None = None) -> tuple[str, bool]:
    """Reproduce every paper of ``REGISTRY`` and summarize them (``summarize``).

    Args:
        echo: called with each paper's line as soon as it is done (the command line prints it).
    """
    results = {}
    for paper, entry in REGISTRY.items():
        results[paper] = entry.rows()
        if echo is not None:
            echo(summary_line(paper, results[paper])[0])
    return summarize(results)

"""Papers' published figures next to the zoo's built models: what ``bnnzoo reproduce PAPER`` runs.

Example:
    >>> from bnnzoo import reproduce
    >>> report, ok = reproduce.run("bitnet")
    >>> print(report)
"""

from __future__ import annotations

from bnnzoo.reproduce import bitnet, dwr, igp

PAPERS = ("bitnet", "igp", "dwr")


def run(paper: str) -> tuple[str, bool]:
    """Build the models a paper reports on and compare their figures with the printed ones.

    Returns:
        The report, and whether every figure reproduces (the bounds are in each paper's module).

    Raises:
        ValueError: ``paper`` is not one of ``PAPERS``.
    """
    if paper not in PAPERS:
        raise ValueError(f"Expected paper to be one of {PAPERS}. Received: paper={paper!r}.")
    if paper == "igp":
        rows = igp.reproduce_igp()
        return igp.format_igp_report(rows), igp.reproduced(rows)
    if paper == "dwr":
        rows = dwr.reproduce_dwr()
        return dwr.format_dwr_report(rows), dwr.reproduced(rows)
    rows = bitnet.reproduce_bitnet()
    return bitnet.format_bitnet_report(rows), bitnet.reproduced(rows)

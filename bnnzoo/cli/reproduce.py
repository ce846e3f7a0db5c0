"""``bnnzoo reproduce``: a paper's published figures next to those of the models built here
(``bnnzoo.reproduce``)."""

from __future__ import annotations

from bnnzoo.reproduce import PAPERS


def add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="a paper's published figures next to the built models")
    p.add_argument("paper", choices=PAPERS)
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args) -> int:
    """Print the paper's table next to the built models; exit 1 when a figure is out of its
    bounds (each paper's module in ``bnnzoo.reproduce`` states them)."""
    from bnnzoo import reproduce

    report, ok = reproduce.run(args.paper)
    print(report)
    return 0 if ok else 1

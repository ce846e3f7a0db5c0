"""``bnnzoo reproduce [PAPER]``: a paper's published figures next to those of the models built
here (``bnnzoo.reproduce``); without a paper, every paper, one summary line each."""

from __future__ import annotations

from bnnzoo.reproduce import PAPERS


def add_reproduce(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="a paper's published figures next to the built models (no paper: all, summarized)",
    )
    p.add_argument(
        "paper",
        nargs="?",
        choices=PAPERS,
        help="the paper; left out, every paper is reproduced and summarized in one line each",
    )
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args) -> int:
    """Print the paper's table next to the built models, or with no paper one line per paper;
    exit 1 when a figure is out of its bounds and not a documented deviation (each paper's
    module in ``bnnzoo.reproduce`` states them)."""
    from bnnzoo import reproduce

    if args.paper is None:
        summary, ok = reproduce.run_all(echo=lambda line: print(line, flush=True))
        print(summary.splitlines()[-1])
        return 0 if ok else 1
    report, ok = reproduce.run(args.paper)
    print(report)
    return 0 if ok else 1

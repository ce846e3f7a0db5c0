"""What the training benchmarks share: the `bnnzoo` command and one timed, resumable run."""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

TIMING_FILE = "bench_timing.json"  # wall and CPU seconds of the command that trained the run
# the file that a started run of each bnnzoo command leaves in its folder: then it resumes with
# `bnnzoo COMMAND --resume DIR`
RESUME_MARKERS = {"train": "config.json", "two-step": "two_step.json", "dwr": "dwr.json"}


def bnnzoo_executable() -> str:
    """The ``bnnzoo`` script next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("bnnzoo")
    return str(local) if local.exists() else "bnnzoo"


def has_results(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` has finished: it holds ``results.json``."""
    return (run_dir / "results.json").exists()


def read_results(run_dir: Path) -> dict:
    """A finished run's ``results.json``; a run without one stops the benchmark, saying so."""
    if not has_results(run_dir):
        raise SystemExit(f"{run_dir} has no results.json; train it first.")
    return json.loads((run_dir / "results.json").read_text())


def train(run: dict) -> dict:
    """Run (or resume, or reuse) one training; wall and CPU seconds of the command.

    ``run`` holds the run directory (``dir``) and the command line (``argv``, starting with
    ``bnnzoo``); the timing is kept in the directory's ``bench_timing.json``. A started run
    resumes with ``bnnzoo COMMAND --resume`` (``RESUME_MARKERS``)."""
    run_dir = run["dir"]
    if has_results(run_dir):
        print(f"reusing {run_dir}", flush=True)
        return kept_timing(run_dir)
    command = run["argv"][1]
    resume = (run_dir / RESUME_MARKERS[command]).exists()
    argv = ["bnnzoo", command, "--resume", str(run_dir), "--quiet"] if resume else run["argv"]
    print(("resuming: " if resume else "running: ") + shlex.join(argv), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run([bnnzoo_executable(), *argv[1:]], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    timing = {
        "wall_seconds": wall,
        "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "resumed": resume,
    }
    (run_dir / TIMING_FILE).write_text(json.dumps(timing, indent=2))
    return timing


def kept_timing(run_dir: Path) -> dict:
    """The timing ``train`` kept in ``run_dir`` ({} for a run it did not make)."""
    timing_file = run_dir / TIMING_FILE
    return json.loads(timing_file.read_text()) if timing_file.exists() else {}


def add_run_arguments(parser, name: str) -> None:
    """The arguments every training benchmark takes: ``--seeds``, ``--set`` (an override for
    every run), ``--out-root`` (``/tmp/runs/NAME``), ``--markdown`` (``benchmarks/NAME.md``),
    ``--notes`` and ``--report-only``."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra override for every run: max_train_examples=256")  # fmt: skip
    parser.add_argument("--out-root", default=f"/tmp/runs/{name}")
    parser.add_argument("--markdown", default=str(Path(__file__).resolve().parent / f"{name}.md"))
    parser.add_argument("--notes", help="markdown appended after the caveats")
    parser.add_argument("--report-only", action="store_true", help="no training; report runs")


def command_line(script: str, argv: list[str] | None) -> str:
    """The command that reproduces a benchmark's runs: its arguments without ``--report-only``,
    ``--partial`` and ``--notes FILE`` (they rewrite the report of the same runs)."""
    given, skip = [], False
    for arg in argv if argv is not None else sys.argv[1:]:
        if skip or arg in ("--report-only", "--partial") or arg.startswith("--notes"):
            skip = arg == "--notes"
            continue
        given.append(arg)
    return f"TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/{script} " + shlex.join(given)


def train_or_read(run: dict, report_only: bool) -> dict:
    """``train(run)``, or with ``report_only`` the timing an earlier ``train`` kept."""
    return kept_timing(run["dir"]) if report_only else train(run)


def finished(run: dict, timing: dict) -> dict:
    """``run`` with what its directory holds: per-epoch metrics, results, config, and timing."""
    from bnnzoo.training.rundir import RunDir

    results = read_results(run["dir"])
    run_dir = RunDir(run["dir"])
    return {
        **run,
        "metrics": run_dir.read_metrics(),
        "results": results,
        "config": run_dir.read_config(),
        "timing": timing,
    }


def timing_cell(timing: dict) -> str:
    """A run's "wall s (CPU s, load before→after)" table cell ("n/a" without a timing)."""
    if not timing:
        return "n/a"
    resumed = " resumed" if timing.get("resumed") else ""
    return (
        f"{timing['wall_seconds']:.0f} ({timing['cpu_seconds']:.0f}, "
        f"{timing['load_before']:.1f}→{timing['load_after']:.1f}){resumed}"
    )


def report_tail(
    caveats: str, notes: str | None, argvs, title: str = "The training commands"
) -> list[str]:
    """The end of a training benchmark's report: its caveats, the notes file's text (if any),
    then every run's command line in a code block."""
    out = ["", caveats, *(["", Path(notes).read_text().strip()] if notes else [])]
    return [*out, "", f"## {title}", "", "```", *(shlex.join(a) for a in argvs), "```", ""]


def runs_section(run_table: list[str], caveats: str, notes: str | None, argvs) -> list[str]:
    """A report's "Runs" section (``run_table``, a markdown table) and its tail
    (``report_tail``)."""
    return ["", "## Runs", "", *run_table, *report_tail(caveats, notes, argvs)]

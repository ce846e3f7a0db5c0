"""A job of several training runs in one folder (``bnnzoo dwr``, ``bnnzoo two-step``): a plan file
that records the plan and each finished stage, and runs that are started, resumed or read back.

A killed job resumes where it stopped: a stage recorded in the plan file is not run again, a run
that was started resumes from its checkpoint, and a run that finished before the plan file
recorded it is read back.

Example:
    >>> state = open_job(plan, out, plan_file="dwr.json", resume=False, what="a DWR pipeline",
    ...                  start="bnnzoo dwr --backbone B --s S", again="bnnzoo dwr")
    >>> run = run_or_resume(config, out / "train", verbose=1)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bnnzoo._io import write_atomically
from bnnzoo.training.loop import TrainingError, train
from bnnzoo.training.rundir import RunDir


def open_job(
    plan: dict | None, out: Path, *, plan_file: str, resume: bool, what: str, start: str, again: str
) -> dict:
    """The job's state ``{"plan": ..., "done": {...}}``: read back from ``out/plan_file`` when
    resuming, else a new one written there.

    Args:
        what: the job in words, for the error ("a DWR pipeline").
        start: the command that starts such a job, without ``--out``.
        again: the command that resumes it, without ``--resume``.

    Raises:
        FileNotFoundError: ``resume`` with no plan file in ``out``.
        TrainingError: a new job in a folder that already holds one.
    """
    path = out / plan_file
    if resume:
        if not path.is_file():
            raise FileNotFoundError(
                f"Nothing to resume in {str(out)!r}: it has no {plan_file}. Start the job with "
                f"`{start} --out {out}`."
            )
        return json.loads(path.read_text())
    if path.exists():
        raise TrainingError(
            f"{str(out)!r} already holds {what}. Resume it with `{again} --resume {out}`, or "
            f"pass another --out directory."
        )
    out.mkdir(parents=True, exist_ok=True)
    state = {"plan": plan, "done": {}}
    save_job(path, state)
    return state


def save_job(path: Path, state: dict) -> None:
    """Write the job's state atomically (a kill leaves the previous one)."""
    write_atomically(path, json.dumps(state, indent=2, default=list))


def run_or_resume(config: dict, run_dir: Path, *, verbose: int) -> RunDir:
    """A `bnnzoo train` run of ``config`` in ``run_dir``: read back if it finished, resumed if it
    was started, else started (its command line recorded in the run's config)."""
    run = RunDir(run_dir)
    if run.results_path.is_file():
        return run
    if run.has_config():
        train({}, run_dir, resume=True, verbose=verbose)
    else:
        train(config, run_dir, verbose=verbose, command=" ".join(["bnnzoo", *sys.argv[1:]]))
    return run


def run_summary(run: RunDir, **extra) -> dict:
    """What a job records of a finished run: its folder, ``extra``, then its ``results.json``."""
    return {"dir": str(run.path), **extra, **json.loads(run.results_path.read_text())}

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


def bnnzoo_executable() -> str:
    """The ``bnnzoo`` script next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("bnnzoo")
    return str(local) if local.exists() else "bnnzoo"


def train(run: dict) -> dict:
    """Run (or resume, or reuse) one training; wall and CPU seconds of the command.

    ``run`` holds the run directory (``dir``) and the command line (``argv``, starting with
    ``bnnzoo``); the timing is kept in the directory's ``bench_timing.json``."""
    run_dir = run["dir"]
    timing_file = run_dir / "bench_timing.json"
    if (run_dir / "results.json").exists():
        print(f"reusing {run_dir}", flush=True)
        return json.loads(timing_file.read_text()) if timing_file.exists() else {}
    resume = (run_dir / "config.json").exists()
    argv = ["bnnzoo", "train", "--resume", str(run_dir), "--quiet"] if resume else run["argv"]
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
    timing_file.write_text(json.dumps(timing, indent=2))
    return timing

"""Two `bnnzoo train` workers (MultiWorkerMirroredStrategy on loopback) against one process.

Runs the same recipe, seed and global batch twice on this machine, one after the other: once as
one process (`--strategy default`, one replica), once as two worker processes of one cluster
(`--strategy multiworker`, each with its own `TF_CONFIG`, both on this machine's cores). Prints
and writes (`--markdown`) per epoch the training rate of the cluster and of each worker (from
the chief's `metrics.csv`: global batch × steps / epoch seconds, the evaluation included),
the test accuracy of both runs, their wall clock, and the ratio of the two rates, with the
command lines. On one machine the two workers share its cores, so this measures the cost of
the multi-worker machinery (gRPC collectives, coordination service), not a speed-up.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/multiworker.py --epochs 2
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def train_args(args, out: Path, strategy: str) -> list[str]:
    return ["train", "--recipe", args.recipe, "--dataset", args.dataset, "--epochs",
            str(args.epochs), "--batch-size", str(args.batch_size), "--strategy", strategy,
            "--out", str(out), "--quiet", *args.set]  # fmt: skip


def run(commands: list[tuple[list[str], dict]]) -> float:
    """Start every command at once, wait for all; the wall clock in seconds."""
    start = time.time()
    processes = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd, env in commands
    ]
    for process in processes:
        out, err = process.communicate(timeout=3600)
        if process.returncode != 0:
            sys.exit(f"a run failed (exit {process.returncode}):\n{err[-3000:]}")
    return time.time() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="resnet_e_fashion_mnist")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        type=lambda v: f"--set={v}")  # fmt: skip
    parser.add_argument("--markdown", default=str(HERE / "multiworker.md"))
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    command = "TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/multiworker.py " + shlex.join(
        given
    )
    bnnzoo = [sys.executable, "-m", "bnnzoo.cli"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    with tempfile.TemporaryDirectory(prefix="bnnzoo-multiworker-") as tmp:
        tmp = Path(tmp)
        single = [*bnnzoo, *train_args(args, tmp / "one", "default")]
        print("one process ...", file=sys.stderr, flush=True)
        single_s = run([(single, env)])
        from bnnzoo.training.distribute import loopback_tf_configs
        from bnnzoo.training.rundir import RunDir

        workers = [([*bnnzoo, *train_args(args, tmp / "two", "multiworker")],
                    {**env, "TF_CONFIG": tf_config})
                   for tf_config in loopback_tf_configs(2)]  # fmt: skip
        print("two workers ...", file=sys.stderr, flush=True)
        cluster_s = run(workers)
        one, two = RunDir(tmp / "one").read_metrics(), RunDir(tmp / "two").read_metrics()

    from bnnzoo._host import describe

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        "| epoch | one process img/s | two workers img/s (total) | per worker | two / one | "
        "test accuracy, one | test accuracy, two |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for a, b in zip(one, two):
        rows.append(
            f"| {int(a['epoch'])} | {a['images_per_second']:.0f} | {b['images_per_second']:.0f} | "
            f"{b['images_per_second'] / 2:.0f} | "
            f"{b['images_per_second'] / a['images_per_second']:.2f} | "
            f"{a['test_accuracy']:.4f} | {b['test_accuracy']:.4f} |"
        )
    worker_cmd = ("TF_CONFIG='{\"cluster\": {\"worker\": [\"127.0.0.1:P0\", \"127.0.0.1:P1\"]}, "
                  "\"task\": {\"type\": \"worker\", \"index\": I}}' bnnzoo "
                  + shlex.join(train_args(args, Path("OUT"), "multiworker")))  # fmt: skip
    text = "\n".join([
        "# Two workers (MultiWorkerMirroredStrategy, loopback) against one process",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {now}. Machine: {describe()}. Both workers ran on this machine's cores.",
        "",
        f"- one process: `bnnzoo {shlex.join(train_args(args, Path('OUT'), 'default'))}`",
        f"- each of the two workers (I = 0, 1; P0, P1 free loopback ports): `{worker_cmd}`",
        "",
        *rows,
        "",
        f"Wall clock of the whole command: one process {single_s:.0f} s, two workers "
        f"{cluster_s:.0f} s ({cluster_s / single_s:.2f}×). img/s: global batch × steps / epoch "
        "seconds (evaluation included), from the chief's `metrics.csv`; per worker: half of it.",
        "",
    ])  # fmt: skip
    Path(args.markdown).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

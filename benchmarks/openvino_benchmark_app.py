"""Does ``bnnzoo bench``'s OpenVINO figure agree with OpenVINO's own ``benchmark_app``?

Exports a model's IR with bnnzoo's exporter (``bnnzoo.converters.openvino.to_openvino``), times
it with ``bnnzoo bench``'s OpenVINO engine alone (``bench(..., engines=("openvino-f32",
"openvino-bf16"))``: the median of ``--runs`` consecutive runs, after the engines' turns) and
with ``benchmark_app`` (next to this interpreter) on the same IR and settings::

    benchmark_app -m IR.xml -d CPU -hint none -nstreams 1 -nthreads T -b 1 -api sync \\
        -infer_precision f32|bf16 -t SECONDS

(``-api sync``: one request at a time, as bench runs it; its "Median" latency is then the time
of one inference). It prints both medians per precision, their ratio, and whether they agree
within 10 %, and writes a markdown report with the command, the machine
(``bnnzoo._host.describe``) and the load of other processes. An untrained model gets random
weights with measured BatchNorm statistics first (speed does not depend on them).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/openvino_benchmark_app.py
    # smallest setting (a minute)
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/openvino_benchmark_app.py \\
        --model binary_resnet_e18 --input-shape 64,64,3 --runs 20 --seconds 3 --markdown /tmp/a.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (Keras 2 before TensorFlow)

# isort: split
from bnnzoo._host import describe  # noqa: E402
from bnnzoo._text import format_table  # noqa: E402
from bnnzoo.converters.bench import bench  # noqa: E402
from bnnzoo.converters.openvino import to_openvino  # noqa: E402
from bnnzoo.converters.verify import looks_untrained, randomize_weights  # noqa: E402
from bnnzoo.zoo.loading import load_or_build  # noqa: E402

HERE = Path(__file__).resolve().parent
AGREEMENT = 0.10  # the two medians agree when their ratio is within 10 % of 1
MEDIAN = re.compile(r"Median:\s+([0-9.]+)\s*ms")


def benchmark_app_command(xml: Path, threads: int, precision: str, seconds: int) -> list[str]:
    """``benchmark_app`` on ``xml`` with bench's settings: one stream, one request at a time."""
    return [
        str(Path(sys.executable).with_name("benchmark_app")),
        "-m", str(xml), "-d", "CPU", "-hint", "none", "-nstreams", "1",
        "-nthreads", str(threads), "-b", "1", "-api", "sync",
        "-infer_precision", precision, "-t", str(seconds),
    ]  # fmt: skip


def median_latency_ms(output: str) -> float:
    """The "Median:" latency in milliseconds of ``benchmark_app``'s output."""
    found = MEDIAN.findall(output)
    if not found:
        raise ValueError(f"No 'Median: ... ms' in benchmark_app's output:\n{output[-2000:]}")
    return float(found[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="binary_densenet28")
    parser.add_argument("--input-shape", default="224,224,3", metavar="H,W,C")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["f32", "bf16"], choices=["f32", "bf16"])
    parser.add_argument("--runs", type=int, default=200, help="bench's runs per engine")
    parser.add_argument("--seconds", type=int, default=15, help="benchmark_app's -t")
    parser.add_argument("--markdown", default=str(HERE / "openvino_benchmark_app.md"))
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. the load)")
    args = parser.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python", "benchmarks/openvino_benchmark_app.py", *given])
    shape = tuple(int(v) for v in args.input_shape.split(","))

    model = load_or_build(args.model, input_shape=shape, logits=True)
    if looks_untrained(model):
        randomize_weights(model, seed=0)
    engines = [f"openvino-{p}" for p in args.precisions]
    print(f"bench {model.name}: {', '.join(engines)}, {args.runs} runs", file=sys.stderr)
    report = bench(model, threads=args.threads, runs=args.runs, block=args.runs, engines=engines)
    rows = [["precision", "bench alone ms", "benchmark_app median ms", "ratio", "within 10 %"]]
    agreed = []
    with tempfile.TemporaryDirectory() as folder:
        xml = Path(folder) / f"{model.name}.xml"
        to_openvino(model, xml)
        commands = []
        for precision, engine in zip(args.precisions, engines):
            argv_app = benchmark_app_command(xml, args.threads, precision, args.seconds)
            commands.append(shlex.join(["benchmark_app", *argv_app[1:]]).replace(folder, "IR"))
            print(commands[-1], file=sys.stderr)
            result = subprocess.run(argv_app, capture_output=True, text=True, check=True)
            app_ms = median_latency_ms(result.stdout)
            ours = report.engines[engine].alone_median_ms
            ratio = ours / app_ms
            agreed.append(abs(ratio - 1) <= AGREEMENT)
            rows.append(
                [precision, f"{ours:.2f}", f"{app_ms:.2f}", f"{ratio:.3f}",
                 "yes" if agreed[-1] else "NO"]
            )  # fmt: skip
    table = format_table(rows)
    verdict = (
        "bench's OpenVINO engine alone agrees with benchmark_app within 10 % in every precision."
        if all(agreed)
        else "bench's OpenVINO engine alone does NOT agree with benchmark_app within 10 % in "
        "every precision (see the table)."
    )
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            "# bnnzoo bench's OpenVINO engine against OpenVINO's benchmark_app",
            "",
            f"Command: `{command}`.",
            "",
            f"Date: {now}. Machine: {describe()}. {report.model} at "
            f"{'x'.join(map(str, report.input_shape))}, batch 1, {args.threads} threads; the same "
            f"IR (bnnzoo's exporter) in both. bench: median of {args.runs} consecutive runs of "
            f"the engine alone; benchmark_app: its median latency over {args.seconds} s.",
            "",
            "```",
            table,
            "```",
            "",
            verdict,
            "",
            "benchmark_app commands (IR: the exported model):",
            "",
            *(f"    {c}" for c in commands),
            "",
            f"Load: other processes kept {report.other_load:.2f} cores busy while bench timed "
            f"(clean near 0). {args.note}",
            "",
            "bench's full report:",
            "",
            "```",
            report.format(),
            "```",
            "",
        ]
    )
    Path(args.markdown).write_text(text)
    print(text)
    return 0 if all(agreed) else 1


if __name__ == "__main__":
    sys.exit(main())

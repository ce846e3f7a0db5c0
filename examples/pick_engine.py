"""Find the fastest engine for a model on this machine: Keras, float TFLite, LCE or OpenVINO.

    python examples/pick_engine.py finetuned.keras
    python examples/pick_engine.py binary_resnet_e18 --input-shape 224,224,3 --threads 4

``bnnzoo.converters.bench`` converts the model for every engine, checks each engine's outputs
against Keras, then times one image at a time on each (median of ``--runs``). An engine that
cannot run the model, or disagrees with Keras, is not a candidate.
"""

import argparse

import bnnzoo  # noqa: F401  (first: selects Keras 2 before TensorFlow is imported)
from bnnzoo.converters.bench import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a saved model (.keras/.h5) or a zoo name")
    parser.add_argument("--input-shape", help="H,W,C for a zoo name, e.g. 224,224,3")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    shape = tuple(int(n) for n in args.input_shape.split(",")) if args.input_shape else None
    report = bench(args.model, input_shape=shape, threads=args.threads, runs=args.runs)
    print(report.format())

    candidates = {
        name: times.median_ms
        for name, times in report.engines.items()
        if name == "keras" or report.agreement[name].passed
    }
    fastest = min(candidates, key=candidates.get)
    print(f"\nfastest engine on this machine: {fastest} ({candidates[fastest]:.3f} ms median)")


if __name__ == "__main__":
    main()

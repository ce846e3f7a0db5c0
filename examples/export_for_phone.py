"""Export a trained model for a phone (TFLite with Larq Compute Engine's binary ops) and check
that the exported model computes what the Keras model computes.

    python examples/export_for_phone.py finetuned.keras --out model.tflite --images photos
    python examples/export_for_phone.py binary_resnet_e18 --weights imagenet --out r18.tflite

The model is a saved Keras model or a zoo name (with ``--weights``). ``export_tflite`` converts
it, reports how much of the binary arithmetic runs in LCE's bitwise ``LceBconv2d`` and runs the
``.tflite`` in LCE's interpreter against Keras on random inputs. With ``--images`` (a folder,
with or without class subfolders) both also classify your images, which must agree. The exit
status is 1 if a check fails or if none could run. Run the ``.tflite`` on Android or iOS with
LCE's runtime (https://docs.larq.dev/compute-engine/).
"""

import argparse
import sys

import bnnzoo  # noqa: F401  (first: selects Keras 2 before TensorFlow is imported)

# isort: split
import numpy as np
import tensorflow as tf

from bnnzoo.converters import export_tflite, lce_engine, load_or_build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a saved model (.keras/.h5) or a zoo name")
    parser.add_argument("--out", default="model.tflite")
    parser.add_argument("--weights", help="for a zoo name: imagenet or a file")
    parser.add_argument("--target", default="arm", choices=("arm", "xcore"))
    parser.add_argument("--images", help="a folder of images to classify with both")
    parser.add_argument("--max-images", type=int, default=64)
    args = parser.parse_args()

    model = load_or_build(args.model, weights=args.weights)
    report = export_tflite(model, args.out, target=args.target, raise_on_failure=False)
    print(report)
    checks = [] if report.verify is None else [report.verify.passed]

    if args.images:
        images = load_images(args.images, model.input_shape[1:], args.max_images)
        keras_top1 = model.predict(images, verbose=0).argmax(-1)
        with open(args.out, "rb") as f:
            lce_top1 = lce_engine(f.read(), num_threads=2)(images).argmax(-1)
        agreement = float(np.mean(keras_top1 == lce_top1))
        # binary nets may flip a sign where a value sits at 0, so allow a rare disagreement
        checks.append(agreement >= 0.95)
        print(f"your {len(images)} images: LCE and Keras agree on {agreement:.1%} of top-1 classes")

    if not checks:
        print("nothing was checked: pass --images, or a trained model", file=sys.stderr)
        return 1
    print(f"{args.out}: {'verified' if all(checks) else 'CHECK FAILED'}")
    return 0 if all(checks) else 1


def load_images(folder: str, shape, limit: int) -> np.ndarray:
    """Up to ``limit`` images from ``folder`` (and its subfolders) as 0..255 floats, resized to
    ``shape`` (height, width, channels) and converted to its channels (1: grayscale, 3: RGB)."""
    height, width, channels = shape
    batches = tf.keras.utils.image_dataset_from_directory(
        folder, labels=None, image_size=(height, width), batch_size=limit, shuffle=False,
        color_mode="grayscale" if channels == 1 else "rgb",
    )  # fmt: skip
    return next(iter(batches)).numpy()


if __name__ == "__main__":
    sys.exit(main())

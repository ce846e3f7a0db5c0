"""Convert a Keras model to a TFLite flatbuffer with Larq Compute Engine, after checking the
model, the target, the int8 options and the destination.

Example:
    >>> from bnnzoo.converters.lce import to_tflite
    >>> flatbuffer = to_tflite(model, "model.tflite", target="arm")
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf

from bnnzoo._checks import one_of, true_or_false
from bnnzoo._io import write_atomically
from bnnzoo.converters.lce.upstream import avoid_upstream_defects

TARGETS = ("arm", "xcore")


def to_tflite(
    model: tf.keras.Model,
    path: str | os.PathLike | None = None,
    *,
    target: str = "arm",
    int8: bool = False,
    int8_range: tuple[float, float] | None = None,
) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer with Larq Compute Engine.

    Inputs and outputs stay float32 in every mode, so the file drops into the same
    preprocessing as the Keras model.

    **int8.** LCE 0.16 has no post-training calibration from a representative dataset (its
    converter takes none): it int8-quantizes the tensors whose ranges a quantization-aware
    trained model carries as ``FakeQuant`` ops, and gives every other tensor one fallback
    range, ``int8_range`` (LCE's ``experimental_default_int8_range``, its "dummy
    quantization"). That fallback does not preserve accuracy — on a random ResNetE it moves the
    softmax outputs by up to 0.8 — so ``int8=True`` asks for the range explicitly instead of
    pretending to calibrate, and ``verify_tflite`` will tell you how far the result is off.

    **LCE defects.** A binary conv that LCE 0.16 would convert wrongly (``same`` zero padding on
    an input smaller than the kernel) is first rewritten into an exact equivalent that it
    converts correctly, or refused; every quantized kernel is given to LCE as the constant its
    quantizer computes (above a size LCE 0.16 crashes on it, or leaves a binary conv in
    float); see ``bnnzoo.converters.lce.upstream`` and ``upstream_kernels``.

    Args:
        model: a built Keras 2 model with a fixed input shape (batch size may be None).
        path: where to write the ``.tflite`` file (atomically: a temporary file in the same
            folder, then renamed); None to only return the bytes.
        target: ``"arm"`` (phones, Raspberry Pi; binary convs become ``LceBconv2d``) or
            ``"xcore"`` (XMOS microcontrollers; LCE leaves binary convs for XMOS' tools).
        int8: quantize the float parts of the model to int8 (see above).
        int8_range: ``(min, max)`` fallback range for tensors without a trained range;
            required when ``int8=True``, refused otherwise.

    Returns:
        The flatbuffer.

    Raises:
        ValueError: bad ``model``, ``target``, ``int8``/``int8_range`` or input shape, or a
            binary conv that LCE would convert wrongly and that cannot be rewritten.
        FileNotFoundError: the folder of ``path`` does not exist.

    Example:
        >>> flatbuffer = to_tflite(model, "model.tflite", target="arm")
        >>> to_tflite(model, int8=True, int8_range=(-3.0, 3.0))  # LCE's dummy quantization
    """
    check_model(model)
    one_of("target", target, TARGETS)
    true_or_false("int8", int8)
    if int8 and int8_range is None:
        raise ValueError(
            "int8=True needs int8_range=(min, max). LCE 0.16 cannot calibrate from a "
            "representative dataset: it quantizes with the ranges of a quantization-aware trained "
            "model (FakeQuant ops) and uses int8_range for every other tensor, which costs "
            "accuracy. Pass e.g. int8_range=(-3.0, 3.0) and check the result with verify_tflite, "
            "or keep int8=False (float32 with binary convs)."
        )
    if not int8 and int8_range is not None:
        raise ValueError(
            f"int8_range is only used with int8=True. Received: int8=False, "
            f"int8_range={int8_range!r}. Pass int8=True or drop int8_range."
        )
    if int8:
        int8_range = check_int8_range(int8_range)
    destination = _check_destination(path) if path is not None else None

    # LCE's defects (upstream.py); for xcore only the kernel folding: it keeps binary convs float
    model = avoid_upstream_defects(model, target=target)

    import larq_compute_engine as lce

    try:
        with serving_saved_model(model) as saved_model:
            flatbuffer = lce.convert_saved_model(
                saved_model, target=target, experimental_default_int8_range=int8_range
            )
    except Exception:  # LCE's own way, with its fallback to a frozen graph
        flatbuffer = lce.convert_keras_model(
            model, target=target, experimental_default_int8_range=int8_range
        )
    if destination is not None:
        write_atomically(destination, flatbuffer)
    return flatbuffer


@contextlib.contextmanager
def serving_saved_model(model: tf.keras.Model) -> Iterator[str]:
    """A temporary SavedModel of ``model(x, training=False)`` alone: its folder, removed on exit.

    What a converter needs and no more. ``lce.convert_keras_model`` and TensorFlow's
    ``TFLiteConverter.from_keras_model`` save the model in Keras' own SavedModel format first,
    which traces every layer's call for Keras' reloading; this traces the model once, with its
    variables as the only state. The converted files are the same (BinaryResNetE and QuickNet:
    the same ops and size, outputs equal bit for bit) and the conversion faster: a
    two-stage BinaryResNetE at 16×16 in 1.1 s of CPU instead of 7.8 s, QuickNet at 32×32 in
    4.9 s instead of 17.5 s (2-core AMD EPYC).
    """
    spec = model.inputs[0]
    signature = tf.TensorSpec((None, *spec.shape[1:]), spec.dtype, name=model.input_names[0])
    output_name = model.output_names[0]
    module = tf.Module()
    module.variables_of_the_model = list(model.variables)  # tracked, so they are saved
    module.serve = tf.function(
        lambda x: {output_name: model(x, training=False)}, input_signature=[signature]
    )
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
        yield folder


def check_model(model) -> None:
    """A ValueError unless ``model`` is a Keras 2 model with a fixed input shape."""
    if not isinstance(model, tf.keras.Model):
        raise ValueError(
            f"Expected a Keras 2 model (tf.keras.Model from tf_keras). Received: "
            f"{type(model).__name__}. Build it with bnnzoo.zoo or load it with "
            f"tf.keras.models.load_model after `import bnnzoo`."
        )
    for tensor in model.inputs or []:
        shape = tuple(tensor.shape)
        if any(d is None for d in shape[1:]):
            raise ValueError(
                f"TFLite needs a fixed input shape; model {model.name!r} has input shape "
                f"{shape}. Build it with a fixed input_shape, e.g. (224, 224, 3)."
            )


def check_int8_range(int8_range) -> tuple[float, float]:
    """``(min, max)`` as floats with min < 0 < max, or a ValueError that says so."""
    try:
        low, high = (float(v) for v in int8_range)
    except (TypeError, ValueError):
        low, high = math.nan, math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < 0 < high):
        raise ValueError(
            f"Expected int8_range to be (min, max) with min < 0 < max, e.g. (-3.0, 3.0). "
            f"Received: int8_range={int8_range!r}."
        )
    return low, high


def _check_destination(path) -> Path:
    destination = Path(path)
    if destination.is_dir():
        raise ValueError(
            f"Expected a file path for the .tflite file. Received the folder {str(destination)!r}; "
            f"pass e.g. {str(destination / 'model.tflite')!r}."
        )
    if not destination.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {str(destination)!r}: the folder {str(destination.parent)!r} does not "
            f"exist. Create it first."
        )
    return destination

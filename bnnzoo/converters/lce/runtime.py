"""Run a TFLite flatbuffer in Larq Compute Engine's interpreter, and check it against Keras.

Example:
    >>> from bnnzoo.converters.lce import lce_engine, to_tflite, verify_tflite
    >>> flatbuffer = to_tflite(model)
    >>> logits = lce_engine(flatbuffer, num_threads=2)(images)  # one image at a time
    >>> verify_tflite(model, flatbuffer, n=8).passed
    True
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bnnzoo.converters.lce.flatbuffer import bconv_ops
from bnnzoo.converters.verify import Engine, VerifyReport, verify_engine


def lce_engine(flatbuffer: bytes, *, num_threads: int = 1) -> Engine:
    """An engine running a TFLite flatbuffer in Larq Compute Engine's interpreter.

    On x86 the interpreter uses LCE's reference kernels: correct, not fast. The converted model
    has batch size 1, so the batch runs one sample at a time; int8 inputs and outputs are
    quantized and dequantized with the flatbuffer's scales. Grouped binary convs run in LCE's
    indirect BGEMM kernel, the only one that supports them.

    Example:
        >>> run = lce_engine(flatbuffer, num_threads=2)
        >>> run(np.zeros((4, 32, 32, 3), "float32")).shape
        (4, 10)
    """
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    if not isinstance(flatbuffer, (bytes, bytearray)):
        raise ValueError(
            f"Expected the TFLite flatbuffer as bytes. Received: {type(flatbuffer).__name__}."
        )
    # LCE's default bconv kernel refuses grouped convs; its indirect BGEMM kernel runs them.
    grouped = any(bconv.groups > 1 for bconv in bconv_ops(flatbuffer))
    interpreter = Interpreter(
        bytes(flatbuffer), num_threads=num_threads, use_indirect_bgemm=grouped
    )
    if len(interpreter.input_shapes) != 1 or len(interpreter.output_shapes) != 1:
        raise ValueError(
            f"lce_engine runs models with one input and one output; this flatbuffer has "
            f"{len(interpreter.input_shapes)} and {len(interpreter.output_shapes)}."
        )
    input_shape = tuple(interpreter.input_shapes[0][1:])
    input_type = np.dtype(interpreter.input_types[0])
    output_type = np.dtype(interpreter.output_types[0])

    def run(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        if tuple(batch.shape[1:]) != input_shape:
            raise ValueError(
                f"The flatbuffer expects inputs of shape (n, {', '.join(map(str, input_shape))}). "
                f"Received shape {tuple(batch.shape)}."
            )
        if input_type == np.int8:
            scale, zero = interpreter.input_scales[0], interpreter.input_zero_points[0]
            batch = np.clip(np.round(batch / scale) + zero, -128, 127).astype(np.int8)
        else:
            batch = batch.astype(input_type)
        outputs = np.asarray(interpreter.predict(batch))
        if output_type == np.int8:
            scale, zero = interpreter.output_scales[0], interpreter.output_zero_points[0]
            outputs = (outputs.astype(np.float32) - zero) * scale
        return outputs

    return run


def verify_tflite(
    model: tf.keras.Model, flatbuffer: bytes, *, num_threads: int = 1, **options
) -> VerifyReport:
    """Run LCE's interpreter and the Keras model on the same inputs and compare them.

    Args:
        model: the Keras model the flatbuffer was converted from.
        flatbuffer: the TFLite flatbuffer (``to_tflite``).
        num_threads: interpreter threads.
        **options: those of ``verify.verify_engine``: ``inputs``, ``n``, ``seed`` (the batch,
            or the size and seed of a standard-normal one); ``atol``, ``rtol``,
            ``min_top1_agreement``, ``min_rounding_exact`` (see ``verify.compare_outputs``;
            the defaults suit a float32 conversion, an int8 one needs much looser ones);
            ``raise_on_failure`` (raise ``VerificationError`` saying what disagreed and by
            how much; default True).

    Returns:
        A ``VerifyReport`` with ``max_abs_diff``, ``top1_agreement``, ``n`` and ``passed``.

    Example:
        >>> flatbuffer = to_tflite(model)
        >>> verify_tflite(model, flatbuffer, n=8).passed
        True
    """
    run = lce_engine(flatbuffer, num_threads=num_threads)
    return verify_engine(model, run, engine_name="LCE interpreter", **options)

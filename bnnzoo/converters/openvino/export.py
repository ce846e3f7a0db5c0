"""Export a Keras BNN to OpenVINO IR: convert (``to_openvino``), write (``save``), check against
Keras (``verify_openvino``), and all of it with a report for ``bnnzoo export MODEL --format
openvino`` (``export_openvino``).

Example:
    >>> report = export_openvino("binary_densenet28", "export/", weights="imagenet")
    >>> print(report)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openvino as ov
import tensorflow as tf

from bnnzoo._checks import positive_int
from bnnzoo.converters.exact import Margins, check_conversion
from bnnzoo.converters.openvino.binary_layers import binary_conv_layers
from bnnzoo.converters.openvino.graph import build_graph
from bnnzoo.converters.openvino.int8_stem import Int8Stem, check_calibration, quantize_checked
from bnnzoo.converters.openvino.runtime import (
    binary_ops_in_runtime,
    compile,
    predict,
    resolve_precision,
)
from bnnzoo.converters.reference import looks_untrained
from bnnzoo.converters.verify import VerificationError, VerifyReport, tolerance, verify_engine
from bnnzoo.zoo.loading import load_or_build

STEM_CHECK_IMAGES = 64  # the int8 stem's check runs on at most this many calibration images


def to_openvino(
    model: tf.keras.Model,
    out_dir_or_xml: str | os.PathLike | None = None,
    *,
    batch_size: int = 1,
    int8_stem: np.ndarray | None = None,
) -> ov.Model:
    """Convert a Keras BNN to an ``openvino.Model`` with ``BinaryConvolution`` for binary convs.

    Args:
        model: a Keras functional (or Sequential) model built from the layers in
            ``SUPPORTED_LAYERS``, with fixed height and width.
        out_dir_or_xml: where to write the IR: a path ending in ``.xml`` (the ``.bin`` goes next
            to it) or a directory (``<dir>/<model.name>.xml``). None writes nothing.
        batch_size: batch size of the exported model. It is static: the CPU plugin's
            ``BinaryConvolution`` refuses dynamic shapes. ``predict`` runs larger batches in
            chunks of this size.
        int8_stem: real images ``(n, H, W, C)``, preprocessed like the model's inputs, to
            quantize the stem (the float convolutions reading the input) to int8, calibrated
            on them (``int8_stem.quantize_stem``; at least 16 images, a few hundred are best).
            None keeps every float layer in float.

    Returns:
        The OpenVINO model: inputs NHWC float32 like the Keras model, outputs like Keras.

    Raises:
        ValueError: a layer or layer setting the exporter does not support (the message names
            the layer and its class), or a model without fixed spatial dimensions; with
            ``int8_stem``, calibration images that do not fit the model, or a model without a
            float convolution on its input.

    Example:
        >>> ov_model = to_openvino(model, "export/bdn28.xml")
        >>> [op.get_type_name() for op in ov_model.get_ordered_ops()].count("BinaryConvolution")
        23
    """
    if not isinstance(model, tf.keras.Model):
        raise ValueError(
            f"Expected a Keras model (tf.keras.Model). Received: {type(model).__name__}. "
            f"Build one with bnnzoo.zoo.create_model(name)."
        )
    positive_int(
        "batch_size",
        batch_size,
        hint="OpenVINO's CPU BinaryConvolution needs a static batch size; pass e.g. batch_size=1.",
    )
    ov_model, _ = convert(model, batch_size=batch_size, int8_stem=int8_stem)
    if out_dir_or_xml is not None:
        save(ov_model, ir_path(out_dir_or_xml, model.name))
    return ov_model


def convert(
    model: tf.keras.Model, *, batch_size: int, int8_stem: np.ndarray | None
) -> tuple[ov.Model, Int8Stem | None]:
    """``to_openvino`` without writing: the model, and what ``quantize_stem`` did (or None)."""
    image_shape = tuple(model.inputs[0].shape[1:])
    images = None
    if int8_stem is not None and None not in image_shape:
        # bad images stop here, before the graph is built (which refuses an unfixed shape)
        images = check_calibration(int8_stem, image_shape)
    ov_model = build_graph(model, batch_size)
    stem = quantize_checked(ov_model, images) if images is not None else None
    return ov_model, stem


@dataclass(frozen=True)
class OpenVINOExportReport:
    """What ``export_openvino`` did: the IR, its ops, the binary layers at runtime, the checks.

    ``conversion`` checks the conversion itself: the same architecture converted with tie-free
    weights (``bnnzoo.converters.exact``), compiled in float32, must agree with Keras to float
    rounding on every input. ``verify`` checks the IR with the model's own weights in
    ``precision`` (with the int8 stem on its calibration images); it is judged only for a
    trained model (``weights_check_judged``): an untrained one feeds exact zeros to ``sign``.
    """

    model_name: str
    path: Path | None
    histogram: dict[str, int]
    binary_layers: tuple[str, ...]
    binary_in_runtime: dict[str, str]
    verify: VerifyReport | None
    precision: str = "f32"  # the float precision it was compiled and verified in
    conversion: VerifyReport | None = None
    margins: Margins | None = None
    weights_check_judged: bool = True
    int8_stem: Int8Stem | None = None  # what quantize_stem did, when asked

    @property
    def checks(self) -> tuple[VerifyReport, ...]:
        """The checks against Keras that ran: the conversion's, then the model's weights'."""
        return tuple(c for c in (self.conversion, self.verify) if c is not None)

    @property
    def judged_checks(self) -> tuple[VerifyReport, ...]:
        """The checks whose failure fails the export."""
        judged = (self.conversion, self.verify if self.weights_check_judged else None)
        return tuple(c for c in judged if c is not None)

    @property
    def all_binary(self) -> bool:
        """Every binary Keras layer executes as ``BinaryConvolution``."""
        return set(self.binary_layers) <= set(self.binary_in_runtime)

    @property
    def passed(self) -> bool:
        """Every judged check passed and every binary layer runs as ``BinaryConvolution``."""
        return self.all_binary and all(check.passed for check in self.judged_checks)

    def __str__(self) -> str:
        ops_text = ", ".join(f"{name} {count}" for name, count in self.histogram.items())
        kernels = ", ".join(sorted(set(self.binary_in_runtime.values()))) or "none"
        missing = sorted(set(self.binary_layers) - set(self.binary_in_runtime))
        stem = ", int8 stem" if self.int8_stem is not None else ""
        lines = [
            f"{self.model_name} -> {self.path or '(not written)'} (OpenVINO IR, float32 with "
            f"BinaryConvolution{stem}; compiled and verified in {self.precision})",
            f"ops: {ops_text}",
            f"runtime: {len(set(self.binary_layers) & set(self.binary_in_runtime))} of "
            f"{len(self.binary_layers)} binary layers execute as BinaryConvolution "
            f"(kernels: {kernels})" + (f"; NOT binary: {', '.join(missing)}" if missing else ""),
        ]
        if self.int8_stem is not None:
            lines.append(str(self.int8_stem))
        if self.conversion is not None:
            lines.append(f"conversion check, {self.margins}: {self.conversion}")
        if self.verify is not None:
            lines.append(f"your weights: {self.verify}")
            if not self.weights_check_judged:
                lines.append(
                    "the check of your weights is reported, not judged: the model looks "
                    "untrained (every BatchNorm at mean 0, variance 1), so exact zeros reach "
                    "sign() and rounding picks their sign; the conversion check judges the "
                    "conversion"
                )
        return "\n".join(lines)


def export_openvino(
    model: tf.keras.Model | str | os.PathLike,
    out_path: str | os.PathLike | None,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    verify: bool = True,
    n: int = 8,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    threads: int = 2,
    precision: str = "f32",
    int8_stem: np.ndarray | None = None,
    raise_on_failure: bool = True,
) -> OpenVINOExportReport:
    """Load or build a model, export it to OpenVINO IR, compile it and check it against Keras.

    ``bnnzoo export MODEL --format openvino`` is this function. The IR is written before the
    checks, so a failed check leaves it for inspection; with ``raise_on_failure`` it then raises
    ``VerificationError``, as it does when a binary layer does not execute as
    ``BinaryConvolution``.

    Args:
        model: a Keras model, a saved model path, or a registered zoo name.
        out_path: the ``.xml`` file or a directory (``<dir>/<model name>.xml``); None writes
            nothing.
        input_shape, num_classes, weights: build options for a zoo name.
        verify: check the conversion exactly (the architecture converted again with tie-free
            weights and compiled in float32, ``exact.check_conversion``, on ``n`` random inputs)
            and the IR with the model's own weights in ``precision`` (judged for a trained
            model only).
        n, seed: number of random inputs and their seed.
        atol, rtol: tolerances of the check of the model's own weights (None: those of
            ``precision``, ``verify.tolerance``).
        threads: inference threads of the compiled model.
        precision: float precision of the float layers, ``"f32"``, ``"bf16"`` or ``"auto"``
            (bf16 where the CPU has AVX512_BF16 or AMX; ``runtime.resolve_precision``). The IR
            itself stays float32; the CPU plugin computes in this precision, and the check
            of the model's weights uses its tolerance.
        int8_stem: real images ``(n, H, W, C)``, preprocessed like the model's inputs: the
            stem runs in int8, calibrated on them (``to_openvino``). The check of the model's
            weights then runs on (up to 64 of) these images by the lossy criteria
            ``verify.tolerance("int8-stem")``; the conversion check is of the plain conversion.
        raise_on_failure: raise ``VerificationError`` when a judged check fails.

    Returns:
        An ``OpenVINOExportReport``; ``str(report)`` is the text the CLI prints.

    Example:
        >>> report = export_openvino("binary_densenet28", "export/", weights="imagenet")
        >>> report.all_binary, report.conversion.passed, report.verify.passed
        (True, True, True)
    """
    positive_int("n", n)  # checked before anything is written
    positive_int("threads", threads)
    precision = resolve_precision(precision)
    keras_model = load_or_build(
        model, input_shape=input_shape, num_classes=num_classes, weights=weights
    )
    path = ir_path(out_path, keras_model.name) if out_path is not None else None
    ov_model, stem = convert(keras_model, batch_size=1, int8_stem=int8_stem)
    if path is not None:
        save(ov_model, path)
    compiled = compile(ov_model, threads=threads, precision=precision)
    conversion = margins = check = None
    if verify:
        conversion, margins = check_conversion(
            keras_model,
            lambda m: _engine(compile(build_graph(m, 1), threads=threads)),
            n=n,
            seed=seed,
            engine_name="OpenVINO CPU (f32)",
        )
        criteria = {k: v for k, v in {"atol": atol, "rtol": rtol}.items() if v is not None}
        stem_images = int8_stem if stem is not None else None
        check = _weights_check(keras_model, compiled, stem_images, n, seed, criteria)
    report = OpenVINOExportReport(
        model_name=keras_model.name,
        path=path,
        histogram=_op_histogram(ov_model),
        binary_layers=tuple(binary_conv_layers(keras_model)),
        binary_in_runtime=binary_ops_in_runtime(compiled),
        verify=check,
        precision=precision,
        conversion=conversion,
        margins=margins,
        weights_check_judged=not looks_untrained(keras_model),
        int8_stem=stem,
    )
    _raise_unless_passed(report, raise_on_failure)
    return report


def _weights_check(model, compiled, stem_images, n, seed, criteria) -> VerifyReport:
    """The compiled IR with the model's own weights against Keras, in its precision; with an
    int8 stem on (up to 64 of) its calibration images, by int8's criteria."""
    on_images = {}
    if stem_images is not None:  # lossy: judged on the real images, by int8's criteria
        on_images = dict(
            inputs=np.asarray(stem_images, np.float32)[:STEM_CHECK_IMAGES],
            engine_name=f"OpenVINO CPU ({compiled_precision(compiled)}, int8 stem)",
            **tolerance("int8-stem").kwargs(),
        )
    return verify_openvino(
        model, compiled, n=n, seed=seed, raise_on_failure=False, **{**on_images, **criteria}
    )


def _op_histogram(ov_model: ov.Model) -> dict[str, int]:
    """How many ops of each type the IR holds (constants, parameters, results left out), the
    most frequent first."""
    histogram: dict[str, int] = {}
    for op in ov_model.get_ordered_ops():
        if op.get_type_name() not in ("Constant", "Parameter", "Result"):
            histogram[op.get_type_name()] = histogram.get(op.get_type_name(), 0) + 1
    return dict(sorted(histogram.items(), key=lambda kv: -kv[1]))


def _raise_unless_passed(report: OpenVINOExportReport, raise_on_failure: bool) -> None:
    if report.passed or not raise_on_failure:
        return
    failed = [c for c in report.judged_checks if not c.passed]
    reason = "\n".join(c.failure_message() for c in failed)
    raise VerificationError(
        f"{reason or 'A binary layer does not execute as BinaryConvolution.'}\n{report}",
        report=failed[0] if failed else report.verify,
        export_report=report,
    )


def _engine(compiled: ov.CompiledModel):
    return lambda batch: predict(compiled, batch)


def save(ov_model: ov.Model, xml_path: str | os.PathLike) -> Path:
    """Write the IR (``.xml`` + ``.bin``) with float weights kept in float32.

    ``openvino.save_model`` compresses float weights to fp16 by default, which would change
    the outputs; this keeps them exact.

    Example:
        >>> save(ov_model, "export/bdn28.xml")
        PosixPath('export/bdn28.xml')
    """
    path = Path(xml_path)
    if path.suffix != ".xml":
        raise ValueError(
            f"Expected the IR path to end in '.xml'. Received: {str(path)!r}. "
            f"Pass e.g. 'export/model.xml' (the weights go to 'export/model.bin')."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    return path


def verify_openvino(model: tf.keras.Model, compiled: ov.CompiledModel, **kwargs) -> VerifyReport:
    """Compare the compiled model with Keras through ``bnnzoo.converters.verify``, by the
    criteria of the precision it was compiled in (``verify.tolerance``).

    Keyword arguments go to ``verify.verify_engine`` (``inputs``, ``n``, ``atol``, ``rtol``,
    ``min_top1_agreement``, ``min_rounding_exact``, ``rounding_rtol``, ``seed``,
    ``raise_on_failure``) and override those criteria.

    Example:
        >>> verify_openvino(model, compile(to_openvino(model), precision="bf16"), n=8).passed
        True
    """
    precision = compiled_precision(compiled)
    engine_name = kwargs.pop("engine_name", f"OpenVINO CPU ({precision})")
    criteria = {**tolerance(precision).kwargs(), **kwargs}
    return verify_engine(
        model, lambda batch: predict(compiled, batch), engine_name=engine_name, **criteria
    )


def compiled_precision(compiled: ov.CompiledModel) -> str:
    """The float precision the CPU plugin computes in: ``"f32"`` or ``"bf16"``."""
    return "bf16" if compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.bf16 else "f32"


def ir_path(out_dir_or_xml: str | os.PathLike, model_name: str) -> Path:
    """``out_dir_or_xml`` if it ends in ``.xml``, else ``<out_dir_or_xml>/<model_name>.xml``."""
    path = Path(out_dir_or_xml)
    return path if path.suffix == ".xml" else path / f"{model_name}.xml"

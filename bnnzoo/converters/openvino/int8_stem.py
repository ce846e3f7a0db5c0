"""Post-training int8 quantization of the stem: the float convolutions that read the model's
input, calibrated on real images.

A BNN's stem is its largest float layer (BinaryDenseNet28 at 224×224: 118 M of its 202 M float
MACs, in one 7×7 convolution over 3 channels). ``quantize_stem`` puts OpenVINO
``FakeQuantize`` nodes around it, the form OpenVINO's own post-training tools write: the input
in 256 levels over the range the calibration images span, the weights in 255 levels per output
channel, symmetric around 0. The CPU plugin then runs the convolution on its int8 kernels
(``brgconv_avx512_I8`` with AVX512-VNNI or AMX) and the rest of the model as before.

Only the stem: its input is the image itself, whose range the calibration images give exactly
(8-bit images lose nothing in 256 levels); every other float layer keeps its float precision.
The accuracy this costs is measured, not assumed: ``benchmarks/openvino_int8_stem.md``.

Example:
    >>> ov_model = to_openvino(model)
    >>> quantize_stem(ov_model, calibration_images)  # (n, H, W, C) float32, like Keras
    Int8Stem(convolutions=('stem_conv',), input_range=(0.0, 1.0), images=300)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from bnnzoo._checks import finite_float32

# fewer images than this cannot be said to calibrate a range
MIN_CALIBRATION_IMAGES = 16
INPUT_LEVELS = 256  # uint8 activations
WEIGHT_LEVELS = 255  # int8 weights, symmetric: -127..127


@dataclass(frozen=True)
class Int8Stem:
    """What ``quantize_stem`` did: the convolutions it quantized (Keras layer names), the
    input range it calibrated, and on how many images."""

    convolutions: tuple[str, ...]
    input_range: tuple[float, float]
    images: int

    def __str__(self) -> str:
        low, high = self.input_range
        return (
            f"int8 stem: {', '.join(self.convolutions)} (input in {INPUT_LEVELS} levels over "
            f"[{low:.6g}, {high:.6g}] from {self.images} calibration images; weights in "
            f"{WEIGHT_LEVELS} levels per output channel)"
        )


def stem_convolutions(ov_model: ov.Model) -> list[ov.Node]:
    """The ``Convolution`` nodes with constant weights that read a model input (through the
    exporter's NHWC→NCHW ``Transpose``), by name."""
    found = {
        node.get_friendly_name(): node
        for node in _input_readers(ov_model)
        if node.get_type_name() == "Convolution"
        and node.input_value(1).get_node().get_type_name() == "Constant"
    }
    return [found[name] for name in sorted(found)]


def input_range(low: float, high: float) -> tuple[float, float]:
    """The range of the input's ``INPUT_LEVELS`` levels: the smallest that holds ``[low, high]``
    and has 0 on a level.

    The convolution pads with 0, and the CPU plugin's int8 kernels pad with the zero point: an
    integer. A range such as ``[-1, 1]`` would put 0 half-way between two levels, so it is
    widened on one side (``[-1.00787, 1]``). A range on one side of 0 extends to 0.
    """
    low, high = min(low, 0.0), max(high, 0.0)
    steps = INPUT_LEVELS - 1
    if low == 0.0 or high == 0.0:
        return low, high
    zero_point = min(max(round(-low / (high - low) * steps), 1), steps - 1)
    step = max(-low / zero_point, high / (steps - zero_point))
    return -zero_point * step, (steps - zero_point) * step


def _input_readers(ov_model: ov.Model) -> list[ov.Node]:
    """The nodes that read the model's inputs, looking through the NHWC→NCHW ``Transpose``."""
    readers = []
    for parameter in ov_model.get_parameters():
        for target in parameter.output(0).get_target_inputs():
            node = target.get_node()
            if node.get_type_name() == "Transpose":
                readers += [t.get_node() for t in node.output(0).get_target_inputs()]
            else:
                readers.append(node)
    return readers


def check_calibration(images, image_shape: tuple[int, ...]) -> np.ndarray:
    """The calibration images as float32, or a ValueError that says what was wrong.

    ``image_shape``: the model's input shape without the batch, ``(H, W, C)``.
    """
    shape = (None, *image_shape)
    expected = f"(n, {', '.join(map(str, shape[1:]))})"
    received = type(images).__name__
    try:
        images = np.asarray(images)
    except ValueError:  # ragged nested lists
        images = np.asarray(None)
    if images.dtype.kind not in "iuf":
        dtype = f" of dtype {images.dtype}" if images.dtype != object else ""
        raise ValueError(
            f"Expected calibration images as a numpy array of real numbers, shape {expected} "
            f"(NHWC, preprocessed like the model's inputs). Received: {received}{dtype}. Pass "
            f"e.g. np.asarray(images, np.float32)."
        )
    if images.ndim != len(shape) or images.shape[1:] != shape[1:]:
        raise ValueError(
            f"Expected calibration images of shape {expected} (NHWC, preprocessed like the "
            f"model's inputs). Received shape {images.shape}."
        )
    if len(images) < MIN_CALIBRATION_IMAGES:
        raise ValueError(
            f"Expected at least {MIN_CALIBRATION_IMAGES} calibration images (a few hundred real "
            f"images are best). Received {len(images)}."
        )
    images = finite_float32("The calibration images", images, "Pass real, preprocessed images.")
    if images.min() == images.max():
        raise ValueError(
            f"Every calibration value is {images.min():g}: there is no range to calibrate. "
            f"Pass real, preprocessed images."
        )
    return images


def quantize_stem(ov_model: ov.Model, images: np.ndarray) -> Int8Stem:
    """Quantize, in place, the float convolutions that read ``ov_model``'s input to int8,
    calibrated on ``images``.

    Args:
        ov_model: a model from ``to_openvino`` (one NHWC image input).
        images: at least ``MIN_CALIBRATION_IMAGES`` real images, ``(n, H, W, C)``,
            preprocessed like the model's inputs; their minimum and maximum set the input's
            range (``input_range``; values outside it are clipped at inference).

    Raises:
        ValueError: images of the wrong shape, too few, not finite or constant; or a model
            without a float convolution on its input (the message names what reads it).
    """
    return quantize_checked(ov_model, check_calibration(images, _image_shape(ov_model)))


def _image_shape(ov_model: ov.Model) -> tuple[int, ...]:
    """The shape of the model's one input without the batch; a ValueError for several."""
    if len(ov_model.inputs) != 1:
        raise ValueError(
            f"Expected a model with one image input for int8_stem. Received a model with "
            f"{len(ov_model.inputs)} inputs. Export it without int8_stem."
        )
    return tuple(d.get_length() for d in ov_model.input(0).get_partial_shape())[1:]


def quantize_checked(ov_model: ov.Model, images: np.ndarray) -> Int8Stem:
    """``quantize_stem`` on images that ``check_calibration`` returned (float32, of the model's
    input shape), for a caller that checked them before building ``ov_model``."""
    _image_shape(ov_model)  # one input
    convolutions = stem_convolutions(ov_model)
    if not convolutions:
        readers = _input_readers(ov_model)
        named = sorted({f"{node.get_type_name()} {node.get_friendly_name()!r}" for node in readers})
        kinds = {node.get_type_name() for node in readers}
        why = (
            " The model is already quantized: quantize it once."
            if "FakeQuantize" in kinds
            else " A grouped or depthwise stem is not quantized."
            if "GroupConvolution" in kinds
            else ""
        )
        raise ValueError(
            f"Expected a float convolution reading the model's input (the stem) to quantize. "
            f"Received a model whose input is read by: {', '.join(named)}.{why} Export it "
            f"without int8_stem."
        )
    low, high = input_range(float(images.min()), float(images.max()))
    x_low, x_high = np.float32(low), np.float32(high)
    for conv in convolutions:
        weights = conv.input_value(1).get_node().get_data().astype(np.float32)
        bound = np.abs(weights).reshape(len(weights), -1).max(axis=1)
        bound = np.maximum(bound, np.finfo(np.float32).tiny).reshape(-1, 1, 1, 1)
        quantized_weights = ops.fake_quantize(
            conv.input_value(1), -bound, bound, -bound, bound, WEIGHT_LEVELS
        )
        quantized_input = ops.fake_quantize(
            conv.input_value(0), x_low, x_high, x_low, x_high, INPUT_LEVELS
        )
        conv.input(0).replace_source_output(quantized_input.output(0))
        conv.input(1).replace_source_output(quantized_weights.output(0))
    ov_model.validate_nodes_and_infer_types()
    return Int8Stem(
        convolutions=tuple(c.get_friendly_name() for c in convolutions),
        input_range=(low, high),
        images=len(images),
    )

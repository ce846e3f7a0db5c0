"""The int8 stem (``to_openvino(model, int8_stem=images)``): the quantization it writes, that
OpenVINO computes exactly that quantized model, that the plugin runs it on int8 kernels, the
export's check and report, and every bad input refused before any work."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from bnnzoo._host import cpu_flags
from bnnzoo.converters import openvino as ovx
from bnnzoo.converters.openvino.int8_stem import (
    INPUT_LEVELS,
    MIN_CALIBRATION_IMAGES,
    WEIGHT_LEVELS,
    input_range,
    quantize_stem,
)
from bnnzoo.converters.verify import compare_outputs, tolerance
from tests.converters.openvino._models import CONFIGS, randomized

needs_int8 = pytest.mark.skipif(
    not {"avx512_vnni", "amx_int8"} & cpu_flags(),
    reason="the CPU has neither AVX512-VNNI nor AMX: the plugin's int8 kernels are not native",
)


@pytest.fixture(scope="module")
def digits16() -> np.ndarray:
    """scikit-learn's digits (real 8×8 images), 16×16×3 in [-1, 1] like a preprocessed input."""
    images = load_digits().images[:200] / 16.0 * 2 - 1
    big = np.kron(images, np.ones((1, 2, 2)))
    return np.repeat(big[..., None], 3, axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return randomized(CONFIGS["resnet_e"])  # 16×16×3, a float conv stem


def _fake_quantize(x, low, high, levels):
    step = (high - low) / (levels - 1)
    return np.round((np.clip(x, low, high) - low) / step) * step + low


def _stem_layer(model):
    return next(
        layer
        for layer in model.layers
        if type(layer) is tf.keras.layers.Conv2D and layer.input is model.inputs[0]
    )


def test_writes_fake_quantize_of_the_input_range_and_per_channel_weights(model, digits16):
    ov_model = ovx.to_openvino(model)
    info = quantize_stem(ov_model, digits16)
    stem = _stem_layer(model)
    assert info.convolutions == (stem.name,)
    low, high = input_range(float(digits16.min()), float(digits16.max()))
    assert info.input_range == (low, high) and low < -1.0 and high == 1.0  # 0 on a level
    assert info.images == len(digits16)
    fqs = [op for op in ov_model.get_ordered_ops() if op.get_type_name() == "FakeQuantize"]
    multi = [op for op in fqs if op.get_attributes()["levels"] != 2]  # 2 levels: binary signs
    by_levels = {op.get_attributes()["levels"]: op for op in multi}
    assert len(multi) == 2 and set(by_levels) == {INPUT_LEVELS, WEIGHT_LEVELS}
    weights = by_levels[WEIGHT_LEVELS]
    bound = weights.input_value(2).get_node().get_data().reshape(-1)
    kernel = stem.kernel.numpy()  # kh, kw, in, out
    np.testing.assert_allclose(bound, np.abs(kernel).max(axis=(0, 1, 2)), rtol=1e-6)
    inputs = by_levels[INPUT_LEVELS]
    np.testing.assert_allclose(inputs.input_value(1).get_node().get_data(), low, rtol=1e-7)
    assert float(inputs.input_value(2).get_node().get_data()) == 1.0


def test_openvino_computes_the_quantized_model(model, digits16):
    """OpenVINO with the int8 stem equals Keras running the same quantization (weights per
    channel in 255 levels, inputs in 256 over the calibrated range) to float rounding."""
    ov_model = ovx.to_openvino(model)
    low, high = quantize_stem(ov_model, digits16).input_range
    got = ovx.predict(ovx.compile(ov_model), digits16[:32])

    quantized = tf.keras.models.clone_model(model)
    quantized.set_weights(model.get_weights())
    stem = _stem_layer(quantized)
    kernel = stem.kernel.numpy()
    bound = np.abs(kernel).max(axis=(0, 1, 2))
    stem.kernel.assign(_fake_quantize(kernel, -bound, bound, WEIGHT_LEVELS))
    x = _fake_quantize(digits16[:32], low, high, INPUT_LEVELS)
    reference = quantized.predict(x, verbose=0)
    report = compare_outputs(reference, got, **tolerance("f32").kwargs())
    assert report.passed, report.failure_message()
    # and the quantization is real: the unquantized model differs by more than rounding
    plain = model.predict(digits16[:32], verbose=0)
    assert np.abs(plain - got).max() > 1e-3 * np.abs(plain).max()


@needs_int8
def test_the_stem_runs_on_an_int8_kernel_and_the_rest_stays_float(model, digits16):
    compiled = ovx.compile(ovx.to_openvino(model, int8_stem=digits16))
    kernels = {op.name: op.primitive_type for op in ovx.runtime_ops(compiled)}
    stem = [kernel for name, kernel in kernels.items() if name.startswith("stem")]
    assert any("I8" in kernel for kernel in stem), kernels
    assert set(ovx.binary_ops_in_runtime(compiled).values()) == {"jit_avx512_u1"}


def test_export_checks_on_the_images_and_reports_the_stem(model, digits16, tmp_path):
    report = ovx.export_openvino(model, tmp_path, int8_stem=digits16)
    assert report.int8_stem is not None and report.int8_stem.images == len(digits16)
    assert report.verify.engine == "OpenVINO CPU (f32, int8 stem)"
    assert report.verify.n == 64 and report.verify.rtol == tolerance("int8-stem").rtol
    assert report.conversion.passed and report.conversion.exact  # the plain conversion
    assert report.conversion.engine == "OpenVINO CPU (f32)"
    assert report.weights_check_judged  # random weights with measured BatchNorm statistics
    text = str(report)
    assert "int8 stem: stem" in text and "256 levels over [-1.00787, 1] from 200" in text
    xml = next(tmp_path.glob("*.xml")).read_text()
    assert xml.count('levels="256"') == 1 and xml.count('levels="255"') == 1


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0.0, 1.0, (0.0, 1.0)),  # already holds 0 on its first level
        (0.25, 1.0, (0.0, 1.0)),  # extended to 0
        (-2.0, -0.5, (-2.0, 0.0)),
        (-1.0, 1.0, (-128 / 127, 1.0)),  # 0 half-way between levels: widened on one side
    ],
)
def test_the_input_range_holds_the_data_and_puts_zero_on_a_level(low, high, expected):
    got = input_range(low, high)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] <= low and got[1] >= high
    zero_level = -got[0] / ((got[1] - got[0]) / (INPUT_LEVELS - 1))
    assert abs(zero_level - round(zero_level)) < 1e-9


@pytest.mark.parametrize(
    "images, expected",
    [
        (np.zeros((32, 16, 16)), r"shape \(n, 16, 16, 3\).*Received shape \(32, 16, 16\)"),
        (np.zeros((32, 8, 8, 3)), r"Received shape \(32, 8, 8, 3\)"),
        (np.zeros((MIN_CALIBRATION_IMAGES - 1, 16, 16, 3)), "at least 16 calibration images"),
        ("images.npy", r"numpy array of real numbers.*Received: str"),
        (np.ones((32, 16, 16, 3), bool), "Received: ndarray of dtype bool"),
        (np.ones((32, 16, 16, 3), complex), "Received: ndarray of dtype complex128"),
        (np.full((32, 16, 16, 3), np.nan), "24576 NaN or infinite values"),
        (np.ones((32, 16, 16, 3)), "Every calibration value is 1: there is no range"),
    ],
)
def test_bad_calibration_images_are_refused_before_any_work(model, images, expected, tmp_path):
    with pytest.raises(ValueError, match=expected):
        ovx.export_openvino(model, tmp_path, int8_stem=images)
    assert not list(tmp_path.iterdir())  # nothing written


def test_images_as_a_list_of_any_real_dtype_are_taken(model, digits16):
    from_list = quantize_stem(ovx.to_openvino(model), digits16.tolist())
    from_ints = quantize_stem(ovx.to_openvino(model), (digits16 * 100).astype(np.int16))
    assert from_list.input_range == input_range(-1.0, 1.0)
    assert from_ints.input_range == input_range(-100.0, 100.0)


def test_an_untrained_model_is_judged_by_its_plain_conversion(digits16, tmp_path):
    untrained = CONFIGS["resnet_e"]()  # BatchNorms at their initial statistics
    report = ovx.export_openvino(untrained, None, int8_stem=digits16, raise_on_failure=False)
    assert not report.weights_check_judged
    assert report.judged_checks == (report.conversion,) and report.conversion.passed
    assert "your weights is reported, not judged: the model looks untrained" in str(report)


def test_a_quantized_model_is_not_quantized_twice(model, digits16):
    ov_model = ovx.to_openvino(model, int8_stem=digits16)
    with pytest.raises(ValueError, match="already quantized: quantize it once"):
        quantize_stem(ov_model, digits16)


def test_a_model_without_a_float_conv_on_its_input_is_refused(digits16, tmp_path):
    inputs = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.BatchNormalization()(inputs)
    x = tf.keras.layers.Conv2D(8, 3)(x)
    outputs = tf.keras.layers.Dense(4)(tf.keras.layers.GlobalAveragePooling2D()(x))
    model = tf.keras.Model(inputs, outputs)
    expected = r"float convolution reading the model's input.*read by: Multiply"
    with pytest.raises(ValueError, match=expected):
        ovx.to_openvino(model, tmp_path, int8_stem=digits16)
    assert not list(tmp_path.iterdir())

"""The exact conversion check: tie-free weights leave no sign input near 0, so a correct
conversion agrees with Keras to float rounding on every input, and a wrong one fails.

The deliberately wrong conversion pads the binary convolutions with the other value (1 where
Keras pads with 0, 0 where it pads with 1): it changes only the border pixels, the kind of error
a check that tolerates sign flips on some inputs cannot see. It must fail on every model kind.
"""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import flat_layers
from bnnzoo.converters import lce_engine, to_tflite
from bnnzoo.converters.exact import (
    check_conversion,
    quantizer_inputs,
    rounding_steps,
    step_free_shift,
    widest_gap,
)
from bnnzoo.converters.verify import tolerance
from tests.zoo.test_models import FAMILY_SAMPLES, _sample

ov = pytest.importorskip("bnnzoo.converters.openvino")

SMALL = (32, 32, 3)
KINDS = sorted(FAMILY_SAMPLES) + ["quicknet", "binary_alexnet", "dorefanet"]


def _build(kind: str) -> tf.keras.Model:
    if kind in FAMILY_SAMPLES:
        return _sample(kind, input_shape=SMALL, num_classes=10)
    # larq-zoo's own layers: QuickNet (one-padding, ReLU inside the binary conv, a BatchNorm
    # without offset in the stem), BinaryAlexNet (binary convs on pooled float values) and
    # DoReFa-Net (2-bit activations, whose rounding steps are its ties)
    return zoo.create_model(kind, input_shape=(64, 64, 3), num_classes=10)


def _lce(model):
    return lce_engine(to_tflite(model))


# Wu's binary dense head, which the OpenVINO exporter refuses today, goes through LCE: it also
# shows the wrong padding failing through LCE (tests/converters/lce/test_upstream_defects.py
# shows LCE's own zero-padding defect failing the same check)
# (and DoReFa-Net, whose 2-bit activations OpenVINO's exporter refuses)
LCE_ONLY = {"wu": _lce, "dorefanet": _lce}


def _openvino(model):
    compiled = ov.compile(ov.to_openvino(model))
    return lambda batch: ov.predict(compiled, batch)


def _padded_otherwise(convert):
    """``convert`` applied while every 'same'-padded binary conv pads with the other value."""

    def run(model):
        layers = [
            layer
            for layer in flat_layers(model)
            if getattr(layer, "input_quantizer", None) is not None
            and getattr(layer, "padding", None) == "same"
            and layer.kernel_size != (1, 1)
        ]
        assert layers, "the model has no padded binary convolution to break"
        flip(layers)
        try:
            return convert(model)
        finally:
            flip(layers)

    def flip(layers):  # larq pads explicitly unless it pads with 0 (`_is_native_padding`)
        for layer in layers:
            layer.pad_values = 1.0 - float(layer.pad_values)
            layer._is_native_padding = layer.pad_values == 0.0

    return run


def test_widest_gap_centres_zero_in_the_middle_half():
    values = np.array(
        [[-10.0, -3, -1, 0, 1, 2, 3, 20], [5, 5, 5, 5, 5, 5, 6, 7], [2, 2, 2, 2, 2, 2, 2, 2]]
    ).T
    threshold, margin = widest_gap(values, window=(0.25, 0.75))
    # column 0: the widest gap with 2/8 to 6/8 of the values below it is -3 .. -1 (the wider
    # ones at the ends lie outside); column 1: one value fills the window, so the gap nearest
    # the middle, 5 .. 6; column 2: constant, every value above the threshold
    np.testing.assert_allclose(threshold, [-2.0, 5.5, 0.0])
    np.testing.assert_allclose(margin, [1.0, 0.5, 2.0])
    # the default window leaves 5 % on either side: with 8 values, every gap is inside
    threshold, _ = widest_gap(values)
    assert threshold[0] == pytest.approx(11.5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_correct_conversion_agrees_exactly_and_a_wrong_padding_fails_on_every_kind(kind):
    model = _build(kind)
    own = [w.copy() for w in model.get_weights()]
    convert = LCE_ONLY.get(kind, _openvino)
    right, margins = check_conversion(model, convert, n=2, engine_name="engine")
    assert right.passed and right.rounding_exact == 2, right
    found, _ = quantizer_inputs(model)  # sign inputs, and DoReFa's k-bit inputs
    inputs = margins.sign_inputs + margins.multibit_inputs
    assert inputs == len(found) > 0 and not margins.unadjusted, margins
    assert margins.smallest > 1e-6  # float32 rounds to ~1e-7 of the largest value
    wrong, _ = check_conversion(model, _padded_otherwise(convert), n=2)
    assert not wrong.passed and wrong.exact, wrong
    assert "conversion error" in wrong.failure_message()
    for before, after in zip(own, model.get_weights()):  # the model's own weights are back
        np.testing.assert_array_equal(before, after)


def test_the_exact_criteria_demand_rounding_on_every_input():
    exact = tolerance("exact")
    assert exact.min_rounding_exact == 1.0 and exact.min_top1_agreement == 1.0
    assert exact.rtol == exact.rounding_rtol == 1e-4


def test_step_free_shift_puts_every_rounding_step_in_the_middle_of_a_gap():
    """DoReFa's 2-bit activations round at 1/6, 1/2 and 5/6: after the shift every value in
    range lies as far from them as the widest gap between the values' phases allows."""
    values = np.random.default_rng(0).uniform(-0.2, 1.2, size=(500, 3))
    values[:5, 0] = 0.5 + 1e-7  # ties: within float rounding of a step
    steps = rounding_steps(3)
    np.testing.assert_allclose(steps, [1 / 6, 1 / 2, 5 / 6])
    shift = step_free_shift(values, 3)
    assert np.all(np.abs(shift) <= 0.5 / 3 + 1e-7)  # at most half a step either way
    before = np.abs(values[..., None] - steps).min(axis=(0, 2))
    after = np.abs((values - shift)[..., None] - steps).min(axis=(0, 2))
    assert before[0] < 1e-6 and np.all(after > 2e-4)
    # the best possible: half the widest gap between phases, on a circle of one step
    phases = np.sort(np.mod(values * 3 - 0.5, 1.0), axis=0)
    gaps = np.diff(np.concatenate([phases, phases[:1] + 1]), axis=0)
    np.testing.assert_allclose(after, gaps.max(axis=0) / 2 / 3, rtol=1e-4)


def test_a_sign_after_a_prelu_is_moved_through_the_prelus_input():
    """DWR's ResNet-18 signs the output of a PReLU after the residual add: prelu(x) is 0 only
    where x is, so the BatchNorm before the add moves x (it was left unadjusted, and LCE then
    differed from Keras on 1 of 4 inputs of dwr_resnet18_imagenet_s2 at 224)."""
    inputs = tf.keras.Input((8, 8, 8))
    x = tf.keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.PReLU(shared_axes=[1, 2], name="prelu")(tf.keras.layers.Add()([x, inputs]))
    x = lq.layers.QuantConv2D(
        8, 3, padding="same", input_quantizer="ste_sign", kernel_quantizer="ste_sign",
        use_bias=False,
    )(x)  # fmt: skip
    x = tf.keras.layers.Dense(4)(tf.keras.layers.GlobalAveragePooling2D()(x))
    model = tf.keras.Model(inputs, x)
    report, margins = check_conversion(model, _lce, n=4)
    assert margins.sign_inputs == 1 and margins.unadjusted == () and margins.smallest > 1e-6
    assert report.passed and report.rounding_exact == 4, report

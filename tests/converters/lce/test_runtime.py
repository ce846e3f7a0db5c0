"""LCE's interpreter as an engine, and verify_tflite against Keras."""

import numpy as np
import pytest

from bnnzoo import zoo
from bnnzoo.converters.lce import lce_engine, to_tflite, verify_tflite
from bnnzoo.converters.verify import (
    VerificationError,
    keras_outputs,
    random_inputs,
    randomize_weights,
)

pytestmark = pytest.mark.xdist_group("lce_runtime")  # the model is converted once


def tiny(seed: int):
    model = zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(16, 16, 3),
                              num_classes=10, classifier_activation=None)  # fmt: skip
    return randomize_weights(model, seed=seed)


@pytest.fixture(scope="module")
def pair():
    model = tiny(0)
    return model, to_tflite(model)


def test_correct_conversion_passes(pair):
    model, flatbuffer = pair
    report = verify_tflite(model, flatbuffer, n=6, seed=3, atol=1e-5, rtol=1e-5)
    assert report.passed and report.n == 6 and report.top1_agreement == 1.0
    assert report.rounding_exact == 6 and report.engine == "LCE interpreter"
    assert report.max_abs_diff <= report.atol + report.rtol * report.max_abs_reference
    assert report.max_abs_reference > 1  # logits, not a saturated softmax
    assert "passed" in str(report) and report.failure_message() == ""


def test_conversion_of_another_model_fails_loudly(pair):
    _, flatbuffer = pair
    other = tiny(1)  # same architecture, other weights
    with pytest.raises(VerificationError) as info:
        verify_tflite(other, flatbuffer, n=4)
    message = str(info.value)
    assert "LCE interpreter disagrees with the Keras model" in message
    assert "0/4 samples agree to float rounding, required 1" in message
    report = info.value.report
    assert not report.passed and report.max_abs_diff > 0.1
    assert verify_tflite(other, flatbuffer, n=4, raise_on_failure=False) == report


def test_default_tolerance_catches_a_padding_mismatch():
    """A conversion that pads with 1 where Keras pads with 0 only changes border pixels."""
    ones = zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(16, 16, 3),
                             num_classes=10, classifier_activation=None, pad_value=1.0)  # fmt: skip
    zeros = tiny(2)
    ones.set_weights(zeros.get_weights())
    with pytest.raises(VerificationError, match="0/4 samples agree to float rounding") as info:
        verify_tflite(zeros, to_tflite(ones), n=4)
    assert info.value.report.rounding_exact == 0
    assert verify_tflite(ones, to_tflite(ones), n=4).passed


def test_verify_tflite_takes_the_inputs_and_criteria_of_verify_engine(pair):
    model, flatbuffer = pair
    x = random_inputs(model, 3, seed=7)
    assert verify_tflite(model, flatbuffer, inputs=x).n == 3
    with pytest.raises(ValueError, match=r"Expected inputs of shape \(n, 16, 16, 3\)"):
        verify_tflite(model, flatbuffer, inputs=np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="atol to be a non-negative number"):
        verify_tflite(model, flatbuffer, atol=-1.0)


def test_lce_engine_runs_a_batch(pair):
    model, flatbuffer = pair
    x = random_inputs(model, 3)
    outputs = lce_engine(flatbuffer)(x)
    assert outputs.shape == (3, 10)
    np.testing.assert_allclose(outputs, keras_outputs(model, x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(n, 16, 16, 3\)"):
        lce_engine(flatbuffer)(np.zeros((1, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="Received: str"):
        lce_engine("model.tflite")

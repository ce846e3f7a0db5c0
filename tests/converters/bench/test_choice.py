"""The engine to use and the line per engine that says why, on figures given by hand."""

import numpy as np

from bnnzoo.converters.bench.choice import label, reasons, recommend
from bnnzoo.converters.bench.report import EngineTimes
from bnnzoo.converters.verify import compare_outputs, tolerance

REFERENCE = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.25], [2.0, 1.0]])
AGREES = compare_outputs(REFERENCE, REFERENCE, engine="engine")
# bf16 a few % off on every input: within 20 %, but no input within bf16's 5 % of rounding
BF16_OFF = compare_outputs(
    REFERENCE, REFERENCE * 1.1, engine="OpenVINO binary bf16", **tolerance("bf16").kwargs()
)
F32_OFF = compare_outputs(REFERENCE, REFERENCE * 1.5, engine="OpenVINO binary compiled in f32")


def times(alone: float, precision: str = "f32") -> EngineTimes:
    return EngineTimes(alone, alone, alone, alone, precision=precision)


def test_a_failed_bf16_engine_says_it_was_measured_again_in_f32():
    assert not BF16_OFF.passed and BF16_OFF.top1_agreement == 1.0
    engines = {
        "tflite": times(0.55),
        "lce": times(5.0),
        "openvino-bf16": times(0.19, "bf16"),
        "openvino-f32": times(0.25),
    }
    agreement = {"tflite": AGREES, "lce": AGREES, "openvino-bf16": BF16_OFF,
                 "openvino-f32": AGREES}  # fmt: skip
    remeasured = {"openvino-f32": "openvino-bf16"}
    assert recommend(engines, agreement) == "openvino-f32"
    why = reasons(engines, agreement, {"keras": "ValueError: odd layer"},
                  checked_on="real images", remeasured=remeasured)  # fmt: skip
    assert list(why) == ["tflite", "lce", "openvino-bf16", "openvino-f32", "keras"]
    assert why["openvino-bf16"] == (
        "openvino-bf16: not chosen, failed the check on 4 real images: top-1 4/4, 0/4 equal "
        "within rtol 0.05, required 2; measured openvino-f32 instead"
    )
    assert why["openvino-f32"] == (
        "openvino-f32: measured because openvino-bf16 failed its check in bf16; chosen, fastest "
        "alone (0.25 ms) of the engines that agree; agrees on 4 real images: top-1 4/4, 4/4 "
        "equal within rtol 0.0001, max |diff| 0.0e+00 of max |Keras|"
    )
    assert why["tflite"].startswith("tflite: not chosen, 0.55 ms alone, 2.2x openvino-f32's 0.25")
    assert why["keras"] == "keras: not available, ValueError: odd layer"


def test_ties_agreement_and_a_conversion_that_disagrees_in_f32():
    engines = {"tflite": times(1.04), "openvino": times(1.0, "bf16")}
    why = reasons(engines, {}, {}, checked_on="random inputs")
    # within 5 %: float TFLite is simpler than OpenVINO in bf16
    assert why["tflite"] == (
        "tflite: chosen, 1.04 ms alone: within 5% of the fastest (openvino, 1.00 ms) and simpler"
    )
    assert why["openvino"] == (
        "openvino (bf16): not chosen, 1.00 ms alone: within 5% of the fastest; tflite is simpler"
    )
    # the conversion itself disagrees: no point in f32, and the line says so
    failed = reasons({"openvino": times(1.0, "bf16")}, {"openvino": F32_OFF}, {},
                     checked_on="random inputs")["openvino"]  # fmt: skip
    assert failed.startswith("openvino (bf16): not chosen, failed the check on 4 random inputs: ")
    assert "an input differs by" in failed and "(its conversion compiled in f32)" in failed
    assert failed.endswith("; the conversion disagrees in f32 too")
    assert label("openvino", "f32") == "openvino (f32)" and label("lce", "f32") == "lce"

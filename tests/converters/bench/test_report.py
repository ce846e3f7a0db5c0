"""BenchReport on figures given by hand: ratios, throughput, the limit, the recommendation,
JSON and the text table."""

import dataclasses
import json

import numpy as np
import pytest

from bnnzoo.converters.bench import ENGINE_TITLES, BenchReport, EngineTimes, Limit, recommend
from bnnzoo.converters.verify import compare_outputs

REFERENCE = np.array([[1.0, 2.0], [3.0, -1.0]])
AGREES = compare_outputs(REFERENCE, REFERENCE)
NAN = compare_outputs(REFERENCE, REFERENCE * np.nan)


@pytest.fixture
def report():
    return BenchReport(
        model="tiny",
        input_shape=(8, 8, 3),
        threads=2,
        runs=5,
        warmup=1,
        block=5,
        batch=2,
        engines={
            "tflite": EngineTimes(4.0, 3.0, 5.0, 4.0, "4 XNNPACK delegate partitions"),
            "lce": EngineTimes(2.0, 1.5, 2.5, 2.0),
            "openvino": EngineTimes(1.0, 0.9, 1.2, 0.8, precision="bf16"),
        },
        unavailable={"keras": "ValueError: odd layer"},
        agreement={"tflite": AGREES, "lce": AGREES, "openvino": NAN},
        binary_macs=1_000_000_000,
        float_macs=50_000_000,
        # 2 G binary MACs per batch at 4 T/s: 0.5 ms; 0.1 G float at 200 (f32) or 400 (bf16)
        limit=Limit(4000.0, {"f32": 200.0, "bf16": 400.0}, 2, "by hand"),
        notes=("a note",),
        machine="a CPU",
        profile=(("conv", "BinaryConvolution", "jit_avx512_u1", 0.5),),
        profile_by_type={"BinaryConvolution": 0.5, "Concat": 0.25},
        profile_engine="openvino",
        macs_by_node_type={"BinaryConvolution": 1_000_000_000, "Convolution": 50_000_000},
    )


def test_ratios_throughput_and_limit_follow_the_medians(report):
    assert report.ratio_to_lce == {"tflite": 2.0, "lce": 1.0, "openvino": 0.5}
    assert report.ratio_to_float_tflite == {"tflite": 1.0, "lce": 0.5, "openvino": 0.25}
    # batch 2 over the medians alone
    assert report.images_per_s == pytest.approx({"tflite": 500, "lce": 1000, "openvino": 2500})
    assert report.limit_ms("f32") == pytest.approx(1.0) and report.limit_ms("bf16") == 0.75
    assert report.limit_ms("f16") is None
    # limit time in the engine's precision / its median alone
    assert report.percent_of_limit == pytest.approx({"tflite": 25, "lce": 50, "openvino": 93.75})
    assert report.profile_limit()["BinaryConvolution"] == (2_000_000_000, pytest.approx(0.5))
    without = dataclasses.replace(
        report, engines={"openvino": EngineTimes(1.0, 1.0, 1.0, 1.0)}, limit=None
    )
    assert without.ratio_to_lce == {} and without.ratio_to_float_tflite == {}
    assert without.percent_of_limit == {} and without.limit_ms("f32") is None


def test_recommendation_is_the_fastest_alone_that_agrees_and_the_simplest_on_a_tie(report):
    assert report.recommended_engine == "lce"  # OpenVINO is faster but disagrees with Keras

    def times(alone, precision="f32"):
        return EngineTimes(alone, alone, alone, alone, precision=precision)

    assert recommend({"tflite": times(1.04), "openvino": times(2.19)}, {}) == "tflite"
    # within 5 %: the simpler engine, OpenVINO f32 before bf16, float TFLite before both
    assert recommend({"openvino-f32": times(1.04), "openvino-bf16": times(1.0)}, {}) == (
        "openvino-f32"
    )
    assert recommend({"openvino": times(1.0, "bf16"), "tflite": times(1.049)}, {}) == "tflite"
    assert recommend({"openvino": times(1.0, "bf16"), "tflite": times(1.06)}, {}) == "openvino"
    assert recommend({"openvino": times(1.0)}, {"openvino": NAN}) is None


def test_as_dict_survives_json_without_nan(report):
    data = report.as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["engines"]["tflite"] == {
        "median_ms": 4.0, "min_ms": 3.0, "p90_ms": 5.0, "alone_median_ms": 4.0,
        "images_per_s": 500.0, "precision": "f32", "detail": "4 XNNPACK delegate partitions",
    }  # fmt: skip
    assert data["agreement"]["openvino"]["max_abs_diff"] is None
    assert data["agreement"]["lce"]["passed"] is True
    assert data["unavailable"] == {"keras": "ValueError: odd layer"}
    assert data["limit"]["time_ms"] == {"f32": pytest.approx(1.0), "bf16": 0.75}
    assert data["recommended_engine"] == "lce" and "5 %" in data["recommendation_rule"]
    assert data["reasons"] == report.reasons and set(data["reasons"]) == {
        "tflite", "lce", "openvino", "keras",
    }  # fmt: skip
    assert data["checked_on"] == "random inputs" and data["remeasured_in_f32"] == {}
    assert (data["batch"], data["block"], data["machine"]) == (2, 5, "a CPU")
    assert data["openvino_profile"] == [
        {"node": "conv", "type": "BinaryConvolution", "kernel": "jit_avx512_u1", "ms": 0.5}
    ]
    assert data["openvino_profile_by_type"]["Concat"] == {"ms": 0.25, "macs": 0, "limit_ms": None}
    assert dataclasses.replace(report, limit=None).as_dict()["limit"] is None


def test_format_is_an_aligned_table_with_what_a_reader_must_know(report):
    text = report.format()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("engine "))
    table = lines[header : header + 2 + 4]
    assert set(lines[header + 1]) == {"-", " "}
    assert len({len(line) for line in table[:-1]}) == 1  # measured rows as wide as the header
    assert table[-1].split() == ["Keras", "(TF", "graph)", "unavailable"]
    rows = {line[: len(ENGINE_TITLES["openvino"])]: line for line in table[2:]}
    assert rows["OpenVINO binary"].endswith("NO (nan)")
    assert rows["OpenVINO binary"].split()[2:9] == [
        "bf16", "1.00", "1.20", "0.80", "2,500.0", "0.500x", "0.250x",
    ]  # fmt: skip
    assert rows["LCE interpreter"].split()[2:10] == [
        "f32", "2.00", "2.50", "2.00", "1,000.0", "1.000x", "0.500x", "50.0",
    ]  # fmt: skip
    assert lines[1] == "machine: a CPU"
    assert "Keras (TF graph) unavailable: ValueError: odd layer" in text
    assert "float TFLite (XNNPACK): 4 XNNPACK delegate partitions" in text
    assert "limit: measured peaks with 2 threads: 4,000 G binary MACs/s" in text
    assert "f32 1.000 ms, bf16 0.750 ms" in text and "a note" in text
    assert "use on this machine for this model: LCE interpreter (2.00 ms alone)" in text
    why = lines.index("why, per engine:")
    assert lines[why + 1 : why + 5] == [f"  {line}" for line in report.reasons.values()]
    assert lines[why + 2].startswith("  lce: chosen, fastest alone (2.00 ms)")
    assert lines[why + 3].startswith(
        "  openvino (bf16): not chosen, failed the check on 2 random inputs: "
    )
    assert lines[why + 4] == "  keras: not available, ValueError: odd layer"
    assert "max |Keras| over 2 random inputs" in text
    assert "OpenVINO binary per-node profile (median ms per node; sum 0.75 ms)" in text
    by_type = [line.split() for line in lines]
    assert ["BinaryConvolution", "0.500", "67%", "2.000", "4,000", "0.500", "100"] in by_type
    assert ["Concat", "0.250", "33%", "-", "-", "-", "-"] in by_type

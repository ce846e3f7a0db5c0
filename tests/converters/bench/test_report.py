"""BenchReport on figures given by hand: ratios, throughput, JSON and the text table."""

import dataclasses
import json

import numpy as np
import pytest

from bnnzoo.converters.bench import ENGINE_TITLES, BenchReport, EngineTimes, Limit
from bnnzoo.converters.verify import compare_outputs


@pytest.fixture
def report():
    reference = np.array([[1.0, 2.0], [3.0, -1.0]])
    agrees = compare_outputs(reference, reference)
    nan = compare_outputs(reference, reference * np.nan)
    return BenchReport(
        model="tiny",
        input_shape=(8, 8, 3),
        threads=2,
        runs=5,
        warmup=1,
        engines={
            "tflite": EngineTimes(4.0, 3.0, 5.0, "4 XNNPACK delegate partitions"),
            "lce": EngineTimes(2.0, 1.5, 2.5),
            "openvino": EngineTimes(1.0, 0.9, 1.2),
        },
        unavailable={"keras": "ValueError: odd layer"},
        agreement={"tflite": agrees, "lce": agrees, "openvino": nan},
        binary_macs=2_000_000_000,
        limit=Limit(341, 2, 2.5, "assumed"),
        notes=("a note",),
        profile=(("conv", "BinaryConvolution", "jit_avx512_u1", 0.5),),
        profile_by_type={"BinaryConvolution": 0.5, "Concatenation": 0.25},
    )


def test_ratios_and_throughput_follow_the_medians(report):
    assert report.ratio_to_lce == {"tflite": 2.0, "lce": 1.0, "openvino": 0.5}
    assert report.ratio_to_float_tflite == {"tflite": 1.0, "lce": 0.5, "openvino": 0.25}
    assert report.binary_gmacs_per_s == pytest.approx(
        {"tflite": 500, "lce": 1000, "openvino": 2000}
    )
    assert report.percent_of_limit["lce"] == pytest.approx(100 * 1000 / (341 * 2 * 2.5))
    without = dataclasses.replace(report, engines={"openvino": EngineTimes(1.0, 1.0, 1.0)})
    assert without.ratio_to_lce == {} and without.ratio_to_float_tflite == {}


def test_as_dict_survives_json_without_nan(report):
    data = report.as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["engines"]["tflite"] == {
        "median_ms": 4.0, "min_ms": 3.0, "p90_ms": 5.0, "detail": "4 XNNPACK delegate partitions",
    }  # fmt: skip
    assert data["agreement"]["openvino"]["max_abs_diff"] is None
    assert data["agreement"]["lce"]["passed"] is True
    assert data["unavailable"] == {"keras": "ValueError: odd layer"}
    assert data["limit"]["gmacs_per_s"] == pytest.approx(1705)
    assert data["openvino_profile"] == [
        {"node": "conv", "type": "BinaryConvolution", "kernel": "jit_avx512_u1", "ms": 0.5}
    ]


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
    assert rows["LCE interpreter"].split()[2:6] == ["2.00", "1.50", "2.50", "1.000x"]
    assert "Keras (TF graph) unavailable: ValueError: odd layer" in text
    assert "float TFLite (XNNPACK): 4 XNNPACK delegate partitions" in text
    assert "limit: 341 binary MACs/cycle/core" in text and "a note" in text
    assert "OpenVINO per-node profile (median ms per node; sum 0.75 ms)" in text
    assert ["BinaryConvolution", "0.500", "67%"] in [line.split() for line in lines]

"""bench: every engine timed and checked on a small model; the report's arithmetic and JSON.

No timing thresholds: on a shared machine only the structure and the formulas are stable.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from bnnzoo.converters.bench import (
    BINARY_MACS_PER_CYCLE_PER_CORE,
    ENGINE_TITLES,
    ENGINES,
    bench,
    cpu_clock_ghz,
    time_interleaved,
)


def small() -> tf.keras.Model:
    return zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(32, 64), input_shape=(32, 32, 3), num_classes=10
    )


@pytest.fixture(scope="module")
def report():
    return bench(small(), runs=2, warmup=1, threads=2)


def test_every_engine_is_timed_and_agrees_with_keras(report):
    assert list(report.engines) == list(ENGINES) and report.unavailable == {}
    for name, times in report.engines.items():
        assert 0 < times.min_ms <= times.median_ms <= times.p90_ms, name
        assert times.detail
        assert report.agreement[name].passed, str(report.agreement[name])
        assert report.agreement[name].n == 4
    assert "100.0%" in report.engines["lce"].detail  # every binary MAC in LceBconv2d
    assert "2 of 2 binary convs run as BinaryConvolution" in report.engines["openvino"].detail
    assert (report.model, report.input_shape, report.threads, report.runs) == (
        "binary_resnet_e", (32, 32, 3), 2, 2,
    )  # fmt: skip


def test_an_untrained_model_is_benched_with_random_weights(report):
    assert report.randomized
    assert any("verify.randomize_weights" in note for note in report.notes)


def test_ratios_and_throughput_follow_the_medians(report):
    median = {name: t.median_ms for name, t in report.engines.items()}
    assert report.binary_macs == count_model(small()).binary_macs > 0
    limit = report.limit
    assert limit.per_cycle_per_core == BINARY_MACS_PER_CYCLE_PER_CORE == 341
    assert limit.cores == 2 and limit.clock_ghz > 0 and limit.clock_source
    assert limit.gmacs_per_s == pytest.approx(341 * 2 * limit.clock_ghz)
    for name in ENGINES:
        assert report.ratio_to_lce[name] == pytest.approx(median[name] / median["lce"])
        assert report.ratio_to_float_tflite[name] == pytest.approx(median[name] / median["tflite"])
        rate = report.binary_macs / (median[name] * 1e-3) / 1e9
        assert report.binary_gmacs_per_s[name] == pytest.approx(rate)
        assert report.percent_of_limit[name] == pytest.approx(
            100 * rate / (341 * 2 * limit.clock_ghz)
        )
    assert report.ratio_to_lce["lce"] == 1.0 and report.ratio_to_float_tflite["tflite"] == 1.0


def test_as_dict_survives_json(report):
    data = report.as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert {"model", "input_shape", "threads", "runs", "engines", "ratio_to_lce",
            "ratio_to_float_tflite", "binary_macs", "binary_gmacs_per_s", "percent_of_limit",
            "limit", "agreement"} <= set(data)  # fmt: skip
    assert set(data["engines"]["openvino"]) >= {"median_ms", "min_ms", "p90_ms"}
    assert data["engines"]["lce"]["median_ms"] == report.engines["lce"].median_ms
    assert data["limit"]["binary_macs_per_cycle_per_core"] == 341
    assert data["input_shape"] == [32, 32, 3] and data["randomized_weights"] is True
    assert all(entry["passed"] for entry in data["agreement"].values())


def test_format_is_an_aligned_table(report):
    text = report.format()
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("engine "))
    table = lines[header : header + 2 + len(ENGINES)]
    assert set(lines[header + 1]) == {"-", " "}
    assert len({len(line) for line in table}) == 1  # every row as wide as the header
    for name in ENGINES:
        assert any(line.startswith(ENGINE_TITLES[name]) for line in table)
    assert "% of limit" in text and "341 binary MACs/cycle/core" in text
    assert report.limit.clock_source in text and "randomize_weights" in text


def test_an_engine_that_cannot_run_is_reported_not_raised():
    inputs = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.Conv2D(8, 3, name="stem")(inputs)
    x = tf.keras.layers.LayerNormalization(name="odd_norm")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4)(x), name="odd")
    report = bench(model, engines=("keras", "openvino"), runs=1, warmup=0)
    assert list(report.engines) == ["keras"] and list(report.unavailable) == ["openvino"]
    assert "odd_norm" in report.unavailable["openvino"]
    assert "LayerNormalization" in report.unavailable["openvino"]
    assert report.ratio_to_lce == {} and report.ratio_to_float_tflite == {}
    data = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert data["unavailable"]["openvino"] == report.unavailable["openvino"]
    assert "OpenVINO binary unavailable: ValueError" in report.format()
    with pytest.raises(ValueError, match="The engine 'openvino' cannot run 'odd'.*odd_norm"):
        bench(model, engines=("openvino",), runs=1)


def test_the_callers_model_is_left_as_it_was_and_profile_lists_nodes():
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(32,), input_shape=(16, 16, 3), num_classes=4
    )
    before = [w.copy() for w in model.get_weights()]
    report = bench(model, engines=("openvino",), runs=2, warmup=0, profile=3)
    assert report.randomized
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert len(report.profile) == 3 and report.profile_by_type["BinaryConvolution"] > 0
    assert [ms for *_, ms in report.profile] == sorted(
        (ms for *_, ms in report.profile), reverse=True
    )
    assert "OpenVINO per-node profile" in report.format()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threads": 0}, "threads to be an int >= 1"),
        ({"runs": 0}, "runs to be an int >= 1"),
        ({"warmup": -1}, "warmup to be an int >= 0"),
        ({"engines": ("keras", "gpu")}, "unknown: ['gpu']"),
        ({"engines": ()}, "non-empty selection"),
    ],
)
def test_bad_arguments_are_refused_before_building(kwargs, message):
    with pytest.raises(ValueError) as info:
        bench("no_such_model", **kwargs)
    assert message in str(info.value)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="Unknown model 'no_such_model'"):
        bench("no_such_model", runs=1)


def test_time_interleaved_takes_turns():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    times = time_interleaved(calls, runs=3, warmup=1)
    assert order == list("abc" + "abc" + "bca" + "cab")
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for values in times.values() for t in values)
    order.clear()
    time_interleaved(calls, runs=3, warmup=0, block=2)
    assert order == list("aabbcc" + "bca")
    with pytest.raises(ValueError, match="runs"):
        time_interleaved(calls, runs=0)


def test_cpu_clock_is_read_or_assumed(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\ncpu MHz\t\t: 2500.000\n\nprocessor\t: 1\ncpu MHz\t: 2600.5\n"
    )
    assert cpu_clock_ghz(cpuinfo) == (pytest.approx(2.6005), f"cpu MHz from {cpuinfo}")
    cpuinfo.write_text("processor\t: 0\n")
    clock, source = cpu_clock_ghz(cpuinfo)
    assert clock == 3.0 and source.startswith("assumed")
    assert cpu_clock_ghz(tmp_path / "missing")[0] == 3.0

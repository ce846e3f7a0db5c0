"""bench(): every engine built, checked against Keras and timed on a small model.

No timing thresholds: on a shared machine only the structure and the formulas are stable. The
report's arithmetic on figures given by hand: test_report.py.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from bnnzoo.converters.bench import BINARY_MACS_PER_CYCLE_PER_CORE, ENGINE_TITLES, ENGINES, bench

# its module fixture runs a whole bench: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("bench_report")


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


def test_the_report_describes_this_run(report):
    assert report.binary_macs == count_model(small()).binary_macs > 0
    limit = report.limit
    assert limit.per_cycle_per_core == BINARY_MACS_PER_CYCLE_PER_CORE
    assert limit.cores == 2 and limit.clock_ghz > 0 and limit.clock_source
    assert report.ratio_to_lce["lce"] == 1.0 and report.ratio_to_float_tflite["tflite"] == 1.0
    assert set(report.percent_of_limit) == set(ENGINES)
    data = report.as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["input_shape"] == [32, 32, 3] and data["randomized_weights"] is True
    assert all(entry["passed"] for entry in data["agreement"].values())
    text = report.format()
    for name in ENGINES:
        assert any(line.startswith(ENGINE_TITLES[name]) for line in text.splitlines())
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

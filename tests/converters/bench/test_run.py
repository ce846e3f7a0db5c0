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
from bnnzoo.converters.bench import ENGINE_TITLES, ENGINES, bench
from bnnzoo.converters.openvino.runtime import resolve_precision

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
        assert times.alone_median_ms > 0 and times.detail
        assert report.agreement[name].passed, str(report.agreement[name])
        assert report.agreement[name].n == 4
    assert "100.0%" in report.engines["lce"].detail  # every binary MAC in LceBconv2d
    assert "2 of 2 binary convs run as BinaryConvolution" in report.engines["openvino"].detail
    assert (report.model, report.input_shape, report.threads, report.runs) == (
        "binary_resnet_e", (32, 32, 3), 2, 2,
    )  # fmt: skip
    # "auto": OpenVINO's float layers in bf16 where the CPU has it, the others in f32
    assert report.engines["openvino"].precision == resolve_precision("auto")
    assert {report.engines[name].precision for name in ("keras", "tflite", "lce")} == {"f32"}


def test_an_untrained_model_is_benched_with_random_weights(report):
    assert report.randomized
    assert any("verify.randomize_weights" in note for note in report.notes)


def test_the_report_describes_this_run(report):
    counts = count_model(small())
    assert (report.binary_macs, report.float_macs) == (counts.binary_macs, counts.float_macs)
    assert report.macs_by_node_type["BinaryConvolution"] == counts.binary_macs
    assert sum(report.macs_by_node_type.values()) == counts.binary_macs + counts.float_macs
    limit = report.limit
    assert limit.threads == 2 and limit.binary_gmacs_per_s > 0
    assert set(limit.float_gmacs_per_s) == {"f32", resolve_precision("auto")}
    assert report.ratio_to_lce["lce"] == 1.0 and report.ratio_to_float_tflite["tflite"] == 1.0
    assert set(report.percent_of_limit) == set(ENGINES)
    assert report.recommended_engine in ENGINES and report.block == 20 and report.batch == 1
    data = report.as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["input_shape"] == [32, 32, 3] and data["randomized_weights"] is True
    assert all(entry["passed"] for entry in data["agreement"].values())
    text = report.format()
    for name in ENGINES:
        assert any(line.startswith(ENGINE_TITLES[name]) for line in text.splitlines())
    assert "limit: measured peaks with 2 threads" in text and "randomize_weights" in text
    assert "use on this machine for this model: " in text and report.machine in text


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
    assert report.profile_engine == "openvino" and "OpenVINO binary per-node profile" in (
        report.format()
    )


def test_a_batch_and_both_openvino_precisions_side_by_side():
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(32,), input_shape=(16, 16, 3), num_classes=4
    )
    report = bench(model, engines="openvino-f32,openvino-bf16,tflite", batch=3, runs=2,
                   block=1, warmup=0, check_inputs=2)  # fmt: skip
    assert list(report.engines) == ["tflite", "openvino-f32", "openvino-bf16"]
    assert report.batch == 3 and report.agreement["openvino-f32"].n == 3  # 2 rounded up to 3
    assert report.engines["openvino-f32"].precision == "f32"
    assert report.engines["openvino-bf16"].precision in ("bf16", "f32")  # what the CPU runs
    for name in report.engines:
        assert report.images_per_s[name] == pytest.approx(
            3e3 / report.engines[name].alone_median_ms
        )
    assert report.agreement["openvino-f32"].passed and report.agreement["tflite"].passed
    assert "OpenVINO binary bf16" in report.format() and "batch 3" in report.format()
    if report.engines["openvino-bf16"].precision == "bf16":
        # random weights: the bf16 deviation is reported; the conversion is judged in f32
        bf16 = report.agreement["openvino-bf16"]
        assert bf16.passed and bf16.engine == "OpenVINO binary bf16 compiled in f32"
        assert any(n.startswith("OpenVINO binary bf16: in bf16 max |diff|") and
                   "the conversion, compiled in f32" in n for n in report.notes)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threads": 0}, "threads to be an int >= 1"),
        ({"runs": 0}, "runs to be an int >= 1"),
        ({"warmup": -1}, "warmup to be an int >= 0"),
        ({"engines": ("keras", "gpu")}, "unknown: ['gpu']"),
        ({"engines": ()}, "non-empty selection"),
        ({"engines": "openvino-f16"}, "unknown: ['openvino-f16']"),
        ({"block": 0}, "block to be an int >= 1"),
        ({"batch": 0}, "batch to be an int >= 1"),
        ({"precision": "fp16"}, "precision to be one of ('f32', 'bf16', 'auto')"),
    ],
)
def test_bad_arguments_are_refused_before_building(kwargs, message):
    with pytest.raises(ValueError) as info:
        bench("no_such_model", **kwargs)
    assert message in str(info.value)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="Unknown model 'no_such_model'"):
        bench("no_such_model", runs=1)

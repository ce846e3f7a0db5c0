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
from bnnzoo.converters.bench import run as run_module
from bnnzoo.converters.bench.engines import PreparedEngine
from bnnzoo.converters.openvino.runtime import resolve_precision
from bnnzoo.converters.verify import randomize_weights, tolerance

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


def test_an_untrained_model_is_benched_with_tie_free_weights(report):
    assert report.randomized
    assert any("exact.tie_free_weights" in note for note in report.notes)
    # under tie-free weights every float32 engine that converts right agrees on every input
    for name in ("keras", "tflite", "lce"):
        check = report.agreement[name]
        assert check.rounding_exact == check.n, (name, check)


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
    assert "limit: measured peaks with 2 threads" in text and "tie_free_weights" in text
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


def tiny() -> tf.keras.Model:
    return zoo.BinaryResNetE(
        blocks_per_stage=(1,), filters=(32,), input_shape=(16, 16, 3), num_classes=4
    )


def trained_tiny() -> tf.keras.Model:
    """tiny() with weights that do not look untrained: its bf16 check is judged."""
    return randomize_weights(tiny(), seed=1)


def images(n: int, shape=(16, 16, 3)) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(n, *shape)).astype(np.float32)


@pytest.fixture
def bf16_off(monkeypatch):
    """``openvino-bf16`` replaced by OpenVINO in f32 with every output 1.5 times too large (as
    if bf16 rounded far too much), its conversion checked in f32 by the real f32 engine (or,
    with ``conversion_off``, by the same wrong outputs); the engines' times fixed by hand:
    openvino-bf16 0.1 ms, openvino-f32 0.2 ms, the others 0.5 ms."""
    real_build = run_module.build_engine
    state = {"conversion_off": False}

    def build(name, model, threads, *, batch=1, precision="auto"):
        if name != "openvino-bf16":
            return real_build(name, model, threads, batch=batch, precision=precision)
        f32 = real_build("openvino-f32", model, threads, batch=batch)
        off = lambda x: f32.run(x) * 1.5  # noqa: E731
        exact = off if state["conversion_off"] else f32.run
        return PreparedEngine(off, "bf16 too far off", precision="bf16", exact=exact)

    fixed = {"openvino-bf16": 0.1, "openvino-f32": 0.2}

    def time_interleaved(calls, *, runs, **_):
        return {name: [fixed.get(name, 0.5)] * runs for name in calls}

    monkeypatch.setattr(run_module, "build_engine", build)
    monkeypatch.setattr(run_module, "time_interleaved", time_interleaved)
    return state


def test_a_bf16_check_that_fails_on_real_images_is_measured_again_in_f32(bf16_off):
    real = images(6)
    report = bench(trained_tiny(), engines=("tflite", "openvino-bf16"), runs=2, warmup=0,
                   images=real)  # fmt: skip
    assert not report.randomized and report.checked_on == "real images"
    assert list(report.engines) == ["tflite", "openvino-f32", "openvino-bf16"]
    assert report.remeasured == {"openvino-f32": "openvino-bf16"}
    bf16, f32 = report.agreement["openvino-bf16"], report.agreement["openvino-f32"]
    # bf16 judged by verify's bf16 criteria on every real image, and failing there
    assert not bf16.passed and bf16.n == 6 and bf16.engine == "OpenVINO binary bf16"
    assert bf16.rounding_rtol == tolerance("bf16").rounding_rtol
    assert f32.passed and f32.n == 6 and report.engines["openvino-f32"].precision == "f32"
    # fastest of those that agree, though openvino-bf16 alone is faster
    assert report.recommended_engine == "openvino-f32"
    why = report.reasons
    assert why["openvino-bf16"].startswith(
        "openvino-bf16: not chosen, failed the check on 6 real images: "
    ) and why["openvino-bf16"].endswith("; measured openvino-f32 instead")
    assert why["openvino-f32"].startswith(
        "openvino-f32: measured because openvino-bf16 failed its check in bf16; chosen, fastest "
        "alone (0.20 ms)"
    )
    assert "agrees on 6 real images: top-1 6/6" in why["tflite"]
    text = report.format()
    assert "use on this machine for this model: OpenVINO binary f32 (0.20 ms alone)" in text
    assert f"  {why['openvino-bf16']}" in text.splitlines()
    assert report.as_dict()["remeasured_in_f32"] == {"openvino-f32": "openvino-bf16"}


def test_no_f32_measurement_when_the_conversion_disagrees_in_f32_too(bf16_off):
    bf16_off["conversion_off"] = True
    report = bench(trained_tiny(), engines=("tflite", "openvino-bf16"), runs=1, warmup=0,
                   check_inputs=2)  # fmt: skip
    assert report.checked_on == "random inputs" and report.agreement["tflite"].n == 2
    assert list(report.engines) == ["tflite", "openvino-bf16"] and report.remeasured == {}
    assert report.agreement["openvino-bf16"].engine == "OpenVINO binary bf16 compiled in f32"
    assert report.recommended_engine == "tflite"
    assert report.reasons["openvino-bf16"].endswith("; the conversion disagrees in f32 too")


def test_an_untrained_model_is_checked_on_the_real_images_given():
    report = bench(tiny(), engines=("keras", "openvino-f32"), batch=3, runs=1, warmup=0,
                   images=images(10))  # fmt: skip
    # the first multiple of the batch: 9 of the 10 images, on every engine
    assert {name: r.n for name, r in report.agreement.items()} == {"keras": 9, "openvino-f32": 9}
    assert all(r.passed for r in report.agreement.values())
    assert report.randomized and report.checked_on == "real images"
    assert any("tie-free weights on the 9 check inputs" in note for note in report.notes)
    assert "max |Keras| over 9 real images" in report.format()


@pytest.mark.parametrize(
    "given, message",
    [
        (images(4), "Expected images of shape (n, 32, 32, 3), the input shape of"),
        (images(4, (32, 32, 3))[0], "Expected images of shape (n, 32, 32, 3)"),  # no batch axis
        (images(2, (32, 32, 3)), "with n >= batch=3. Received shape (2, 32, 32, 3)"),
    ],
)
def test_images_of_the_wrong_shape_are_refused_before_any_engine(given, message, monkeypatch):
    monkeypatch.setattr(run_module, "build_engine", None)  # never reached
    with pytest.raises(ValueError) as info:
        bench(small(), images=given, batch=3)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "given, message",
    [
        (np.array(["a", "b"]), "numpy array of real numbers"),
        (np.zeros((0, 32, 32, 3)), "Received: ndarray of dtype float64, shape (0, 32, 32, 3)"),
        (np.full((2, 32, 32, 3), np.nan), "The images contain 6144 NaN or infinite values"),
        ([[1.0], [2.0, 3.0]], "Received: list"),
    ],
)
def test_images_that_are_not_real_numbers_are_refused_before_the_model_is_loaded(given, message):
    with pytest.raises(ValueError) as info:
        bench("no_such_model", images=given)
    assert message in str(info.value)


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

"""to_tflite: what LCE makes of the zoo's layers, where the file goes, and which arguments it
refuses before converting."""

import pytest
import tensorflow as tf

from bnnzoo.converters.lce import binary_mac_report, op_histogram, to_tflite, verify_tflite
from tests.converters.lce._tiny import converted


def test_scaling_keeps_xnor_activation_scale_in_float_ops():
    _, plain = converted("resnet_e", "plain")
    _, scaled = converted("resnet_e", "scaling")
    plain_ops, scaled_ops = op_histogram(plain), op_histogram(scaled)
    assert scaled_ops["LceBconv2d"] == plain_ops["LceBconv2d"] == 2
    # K = box filter over mean |x|: ABS, MEAN over channels, a float 3x3 CONV_2D, a MUL.
    assert scaled_ops["ABS"] == 2 and "ABS" not in plain_ops
    assert scaled_ops["CONV_2D"] == plain_ops["CONV_2D"] + 2
    assert scaled_ops["MUL"] > plain_ops["MUL"]


def test_binary_maxpool_appears_with_binary_downsampling():
    _, flatbuffer = converted("densenet", "binary_downsampling")
    assert op_histogram(flatbuffer).get("LceBMaxPool2d") == 1


def test_xcore_target_leaves_binary_convs_for_xmos_tools():
    model, flatbuffer = converted("resnet_e", "plain", target="xcore")
    histogram = op_histogram(flatbuffer)
    assert "LceBconv2d" not in histogram and histogram["LceDequantize"] >= 1
    verify_tflite(model, flatbuffer, n=4)  # float, but the same function


def test_int8_is_lce_dummy_quantization_and_verify_says_how_far_off():
    model, _ = converted("resnet_e", "plain")
    flatbuffer = to_tflite(model, int8=True, int8_range=(-3.0, 3.0))
    histogram = op_histogram(flatbuffer)
    assert histogram["LceBconv2d"] == 2 and histogram["QUANTIZE"] >= 1
    assert binary_mac_report(model, flatbuffer).share_percent == pytest.approx(100.0)
    report = verify_tflite(model, flatbuffer, n=4, raise_on_failure=False)
    assert not report.passed and report.max_abs_diff > 1e-2


def test_file_is_written_atomically(tmp_path):
    model, _ = converted("densenet", "plain")
    path = tmp_path / "model.tflite"
    flatbuffer = to_tflite(model, path)
    assert path.read_bytes() == flatbuffer and path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temporary left over


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"target": "x86"},
            "Expected target to be one of ('arm', 'xcore'). Received: target='x86'.",
        ),
        ({"int8": True}, "int8=True needs int8_range=(min, max)"),
        ({"int8": "yes"}, "Expected int8 to be True or False"),
        ({"int8_range": (-3, 3)}, "int8_range is only used with int8=True"),
        ({"int8": True, "int8_range": (3, -3)}, "min < 0 < max"),
        ({"int8": True, "int8_range": "wide"}, "min < 0 < max"),
    ],
)
def test_bad_arguments_are_refused_before_converting(kwargs, message):
    model, _ = converted("resnet_e", "plain")
    with pytest.raises(ValueError) as info:
        to_tflite(model, **kwargs)
    assert message in str(info.value)


def test_bad_model_and_path(tmp_path):
    model, _ = converted("resnet_e", "plain")
    with pytest.raises(ValueError, match="Received: str"):
        to_tflite("binary_densenet28")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        to_tflite(model, tmp_path / "missing" / "m.tflite")
    with pytest.raises(ValueError, match="Received the folder"):
        to_tflite(model, tmp_path)
    free_size = tf.keras.Input((None, None, 3))
    unknown = tf.keras.Model(free_size, tf.keras.layers.Conv2D(2, 3)(free_size))
    with pytest.raises(ValueError, match="fixed input shape"):
        to_tflite(unknown)


def test_lce_gets_the_file_of_its_own_keras_path_and_falls_back_to_it(monkeypatch):
    """``to_tflite`` hands LCE a SavedModel of the model's call alone (``serving_saved_model``);
    where that SavedModel cannot be made, LCE's own ``convert_keras_model`` (which saves Keras'
    own SavedModel) converts the model, and the two files are the same bytes."""
    import larq_compute_engine as lce

    from bnnzoo.converters.lce import convert

    model, flatbuffer = converted("densenet", "plain")  # through serving_saved_model

    def cannot_save(model):
        raise RuntimeError("no SavedModel")

    calls = []
    keras_path = lce.convert_keras_model
    monkeypatch.setattr(convert, "serving_saved_model", cannot_save)
    monkeypatch.setattr(
        lce, "convert_keras_model", lambda m, **kw: calls.append(m) or keras_path(m, **kw)
    )
    assert to_tflite(model) == flatbuffer and len(calls) == 1

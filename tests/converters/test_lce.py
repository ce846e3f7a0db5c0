"""LCE conversion: op histogram, binary-MAC share in LceBconv2d, size, arguments, export.

Models are tiny and get random weights with BatchNorm statistics measured on data
(``randomize_weights``), so values fed to ``sign`` are O(1) and never exactly zero, as in a trained
model; logits (no softmax) keep the numeric check from hiding behind a saturated softmax.
"""

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from bnnzoo.converters import (
    VerificationError,
    binary_mac_report,
    export_tflite,
    load_or_build,
    op_histogram,
    randomize_weights,
    read_ops,
    size_report,
    to_tflite,
    verify_tflite,
)

TINY = {
    "densenet": lambda **kw: zoo.BinaryDenseNet(
        layers_per_stage=(1, 1), reduction=(2,), input_shape=(32, 32, 3), num_classes=10,
        classifier_activation=None, **kw,
    ),
    "resnet_e": lambda **kw: zoo.BinaryResNetE(
        blocks_per_stage=(1, 1), filters=(16, 32), input_shape=(32, 32, 3), num_classes=10,
        classifier_activation=None, **kw,
    ),
}  # fmt: skip
VARIANTS = {
    "plain": {},
    "binary_downsampling": {"downsampling": "binary"},
    "scaling": {"scaling": True},
    "pad_value_1": {"pad_value": 1.0},
}
_CACHE = {}


def converted(family: str, variant: str, target: str = "arm"):
    """(model, flatbuffer) for a tiny zoo configuration, converted once per test session."""
    key = (family, variant, target)
    if key not in _CACHE:
        model = TINY[family](**VARIANTS[variant])
        randomize_weights(model, seed=len(_CACHE))
        _CACHE[key] = (model, to_tflite(model, target=target))
    return _CACHE[key]


@pytest.mark.parametrize(
    "family, variant",
    [("densenet", v) for v in ("plain", "binary_downsampling", "scaling")]
    + [("resnet_e", v) for v in VARIANTS],
)
def test_every_binary_mac_of_tiny_zoo_models_runs_in_lce_bconv2d(family, variant):
    model, flatbuffer = converted(family, variant)
    binary_layers = [l for l in count_model(model).layers if l.binary_macs]
    histogram = op_histogram(flatbuffer)
    assert histogram["LceBconv2d"] == len(binary_layers)
    report = binary_mac_report(model, flatbuffer)
    assert report.keras_binary_macs == count_model(model).binary_macs > 0
    assert report.bconv_macs == report.keras_binary_macs
    assert report.share_percent == pytest.approx(100.0)
    assert report.unfused == () and report.unmatched_bconvs == ()
    assert report.fully_fused
    # The numbers behind the share come from the flatbuffer's tensors, not from Keras.
    assert sorted(b.macs for b in report.bconvs) == sorted(l.binary_macs for l in binary_layers)
    # Tiny models agree to float rounding; the default tolerance is looser (see verify.py).
    verify_tflite(model, flatbuffer, n=4, atol=1e-4, rtol=1e-4)


def test_scaling_keeps_xnor_activation_scale_in_float_ops():
    _, plain = converted("resnet_e", "plain")
    _, scaled = converted("resnet_e", "scaling")
    plain_ops, scaled_ops = op_histogram(plain), op_histogram(scaled)
    assert scaled_ops["LceBconv2d"] == plain_ops["LceBconv2d"] == 2
    # K = box filter over mean |x|: ABS, MEAN over channels, a float 3x3 CONV_2D, a MUL.
    assert scaled_ops["ABS"] == 2 and "ABS" not in plain_ops
    assert scaled_ops["CONV_2D"] == plain_ops["CONV_2D"] + 2
    assert scaled_ops["MUL"] > plain_ops["MUL"]


def test_pad_values_end_up_in_the_bconv_options():
    for variant, expected in (("plain", 0), ("pad_value_1", 1)):
        _, flatbuffer = converted("resnet_e", variant)
        bconvs = [op for op in read_ops(flatbuffer) if op.name == "LceBconv2d"]
        assert {op.options["pad_values"] for op in bconvs} == {expected}


def test_binary_maxpool_appears_with_binary_downsampling():
    _, flatbuffer = converted("densenet", "binary_downsampling")
    assert op_histogram(flatbuffer).get("LceBMaxPool2d") == 1


def test_xcore_target_leaves_binary_convs_for_xmos_tools():
    model, flatbuffer = converted("resnet_e", "plain", target="xcore")
    histogram = op_histogram(flatbuffer)
    assert "LceBconv2d" not in histogram and histogram["LceDequantize"] >= 1
    report = binary_mac_report(model, flatbuffer)
    assert report.share_percent == 0.0 and not report.fully_fused
    assert [(u.name, u.carried_by) for u in report.unfused] == [
        ("stage1_block1_conv", "CONV_2D"),
        ("stage2_block1_conv", "CONV_2D"),
    ]
    verify_tflite(model, flatbuffer, n=4)  # float, but the same function


def test_layers_lce_cannot_fuse_are_named_with_the_op_that_carries_them():
    sign = {"input_quantizer": "ste_sign", "use_bias": False}
    x = tf.keras.Input((8, 8, 16))
    y = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=0.5, kernel_quantizer="ste_sign",
                              name="half_pad", **sign)(x)  # fmt: skip
    y = tf.keras.layers.BatchNormalization(name="bn1")(y)
    y = lq.layers.QuantConv2D(32, 3, kernel_quantizer="ste_sign", name="fused", **sign)(y)
    y = tf.keras.layers.BatchNormalization(name="bn2")(y)
    y = lq.layers.QuantDepthwiseConv2D(3, depthwise_quantizer="ste_sign", name="dw", **sign)(y)
    y = tf.keras.layers.Flatten()(y)
    y = lq.layers.QuantDense(10, kernel_quantizer="ste_sign", name="dense", **sign)(y)
    model = tf.keras.Model(x, y)
    randomize_weights(model, seed=1)
    flatbuffer = to_tflite(model)
    report = binary_mac_report(model, flatbuffer)
    counts = {l.name: l.binary_macs for l in count_model(model).layers}
    assert [b.macs for b in report.bconvs] == [counts["fused"]]
    assert [(u.name, u.kind, u.carried_by) for u in report.unfused] == [
        ("half_pad", "QuantConv2D", "CONV_2D"),
        ("dw", "QuantDepthwiseConv2D", "DEPTHWISE_CONV_2D"),
        ("dense", "QuantDense", "FULLY_CONNECTED"),
    ]
    assert [u.binary_macs for u in report.unfused] == [
        counts[n] for n in ("half_pad", "dw", "dense")
    ]
    assert report.share_percent == pytest.approx(100 * counts["fused"] / sum(counts.values()))
    assert "half_pad (QuantConv2D -> CONV_2D)" in str(report)


def test_grouped_binary_conv_fuses_and_runs():
    """LCE groups a bconv when each group has a multiple of 32 input channels."""
    x = tf.keras.Input((8, 8, 64))
    y = lq.layers.QuantConv2D(64, 3, groups=2, padding="same", input_quantizer="ste_sign",
                              kernel_quantizer="ste_sign", use_bias=False)(x)  # fmt: skip
    model = randomize_weights(tf.keras.Model(x, tf.keras.layers.BatchNormalization()(y)), seed=0)
    flatbuffer = to_tflite(model)
    report = binary_mac_report(model, flatbuffer)
    assert [(b.groups, b.macs) for b in report.bconvs] == [(2, 8 * 8 * 3 * 3 * 32 * 64)]
    assert report.share_percent == pytest.approx(100.0) and report.unfused == ()
    assert verify_tflite(model, flatbuffer, n=2, atol=1e-4, rtol=1e-4).passed


def test_float_model_has_no_share():
    x = tf.keras.Input((8, 8, 3))
    model = tf.keras.Model(x, tf.keras.layers.Conv2D(4, 3)(x))
    report = binary_mac_report(model, to_tflite(model))
    assert report.share_percent is None and report.bconvs == () and report.fully_fused


def test_file_is_written_atomically_and_close_to_the_one_bit_figure(tmp_path):
    model, _ = converted("densenet", "plain")
    path = tmp_path / "model.tflite"
    flatbuffer = to_tflite(model, path)
    assert path.read_bytes() == flatbuffer and path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temporary left over
    size = size_report(model, flatbuffer)
    counts = count_model(model)
    assert size.file_bytes == len(flatbuffer) and size.one_bit_bytes == counts.size_bytes
    # Stated factor: within 1.0-1.3x of the 1-bit figure (binary weights packed 32 per int32;
    # overhead: per-channel multipliers, tensor metadata), far below float32 weights.
    assert 1.0 <= size.ratio <= 1.3
    assert size.file_bytes < 0.2 * counts.params * 4


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


def test_bad_model_path_and_flatbuffer(tmp_path):
    model, flatbuffer = converted("resnet_e", "plain")
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
    with pytest.raises(ValueError, match="TFL3"):
        op_histogram(b"not a flatbuffer")
    with pytest.raises(ValueError, match="Received a path"):
        op_histogram(str(tmp_path / "m.tflite"))
    assert op_histogram(flatbuffer)  # the bytes themselves are fine


def test_int8_is_lce_dummy_quantization_and_verify_says_how_far_off():
    model, _ = converted("resnet_e", "plain")
    flatbuffer = to_tflite(model, int8=True, int8_range=(-3.0, 3.0))
    histogram = op_histogram(flatbuffer)
    assert histogram["LceBconv2d"] == 2 and histogram["QUANTIZE"] >= 1
    assert binary_mac_report(model, flatbuffer).share_percent == pytest.approx(100.0)
    report = verify_tflite(model, flatbuffer, n=4, raise_on_failure=False)
    assert not report.passed and report.max_abs_diff > 1e-2


def test_export_from_a_saved_model_file(tmp_path):
    model, _ = converted("resnet_e", "plain")
    saved = tmp_path / "tiny.keras"
    model.save(saved)
    out = tmp_path / "tiny.tflite"
    report = export_tflite(saved, out, n=2)
    assert out.read_bytes()[4:8] == b"TFL3"
    assert report.macs.share_percent == pytest.approx(100.0)
    assert report.histogram["LceBconv2d"] == 2 and report.verify.passed
    assert report.size.file_bytes == out.stat().st_size
    text = str(report)
    assert "LceBconv2d 2" in text and "(100.0%)" in text and "passed" in text


def test_export_fails_loudly_but_keeps_the_file_when_verify_disagrees(tmp_path, monkeypatch):
    from bnnzoo.converters import verify as verify_lib

    model, _ = converted("resnet_e", "plain")
    real = verify_lib.lce_engine
    monkeypatch.setattr(verify_lib, "lce_engine", lambda fb, **kw: lambda x: real(fb)(x) + 100)
    out = tmp_path / "tiny.tflite"
    with pytest.raises(VerificationError, match="disagrees with the Keras model") as info:
        export_tflite(model, out, n=2)
    assert out.exists()
    report = info.value.export_report
    assert report.macs.share_percent == pytest.approx(100.0) and report.path == out
    assert not report.verify.passed and report.verify.max_abs_diff == pytest.approx(100, rel=1e-3)
    assert "FAILED" in str(info.value)


def test_export_skips_the_numeric_check_of_an_untrained_model():
    report = export_tflite(TINY["resnet_e"](), None)
    assert report.verify is None and report.macs.share_percent == pytest.approx(100.0)
    assert "numeric check skipped: the model is untrained" in str(report)


def test_load_or_build_sources(tmp_path):
    model = load_or_build("binary_resnet_e18", input_shape=(32, 32, 3), num_classes=10)
    assert model.name == "binary_resnet_e18" and model.output_shape == (None, 10)
    with pytest.raises(ValueError, match="Unknown model 'binary_resnet_e81'"):
        load_or_build("binary_resnet_e81")
    with pytest.raises(FileNotFoundError, match="No saved model"):
        load_or_build(str(tmp_path / "nothing.keras"))
    with pytest.raises(ValueError, match="is a TFLite flatbuffer already"):
        load_or_build("model.tflite")
    with pytest.raises(ValueError, match="only apply when building a zoo model by name"):
        load_or_build(model, input_shape=(32, 32, 3))


def test_load_or_build_with_logits_drops_the_softmax_of_zoo_names_only():
    from bnnzoo.converters import load_or_build

    name = "binary_resnet_e18"
    assert load_or_build(name, input_shape=(32, 32, 3)).layers[-1].name == "head_softmax"
    logits = load_or_build(name, input_shape=(32, 32, 3), logits=True)
    assert logits.layers[-1].name == "head_dense"
    x = tf.keras.Input((4, 4, 1))
    model = tf.keras.Model(x, tf.keras.layers.Softmax()(x))
    assert load_or_build(model, logits=True) is model

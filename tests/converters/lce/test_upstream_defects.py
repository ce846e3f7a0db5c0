"""upstream: LCE 0.16 computes a same-zero binary conv on an input smaller than its kernel
wrongly; to_tflite rewrites such layers exactly and leaves every other model alone.

If ``test_lce_computes_small_input_zero_padded_convs_wrongly`` fails, LCE has fixed the defect:
check the fixed version, then drop the rewrite and pin that version.
"""

import larq as lq
import larq_compute_engine as lce
import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.converters import randomize_weights
from bnnzoo.converters.exact import check_conversion
from bnnzoo.converters.lce import binary_mac_report, lce_engine, op_histogram, to_tflite
from bnnzoo.converters.lce.upstream import avoid_upstream_defects, zero_padding_defects
from bnnzoo.converters.verify import verify_engine


def binary_conv(filters=8, kernel=3, *, strides=1, dilation=1, pad_value=0.0, name=None):
    return lq.layers.QuantConv2D(
        filters, kernel, strides=strides, dilation_rate=dilation, padding="same",
        pad_values=pad_value, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip", use_bias=False, name=name,
    )  # fmt: skip


def one_conv(size, kernel=3, *, channels=8, **options):
    inputs = tf.keras.Input((*size, channels))
    model = tf.keras.Model(inputs, binary_conv(channels, kernel, **options)(inputs))
    return randomize_weights(model, seed=0)


def max_diff_per_input(model, flatbuffer, n=4):
    inputs = np.random.default_rng(1).normal(size=(n, *model.input_shape[1:])).astype("float32")
    diff = lce_engine(flatbuffer)(inputs) - model.predict(inputs, verbose=0)
    return np.abs(diff).reshape(n, -1).max(axis=1)


def assert_exact(model, flatbuffer, n=4):
    """Agreement to float rounding on every input (rule 3 of verify.py for all of them)."""
    report = verify_engine(model, lce_engine(flatbuffer), n=n, rtol=1e-4, min_rounding_exact=1.0)
    assert report.passed and report.max_abs_diff < 1e-3


# (input size, kernel, strides, dilation): LCE wrong iff the input is below the dilated kernel
# in height or width (exactly so for strides 1 and 2).
CASES = [
    ((2, 2), 3, 1, 1, True),
    ((1, 1), 3, 1, 1, True),
    ((2, 4), 3, 1, 1, True),
    ((4, 2), 3, 1, 1, True),
    ((3, 3), 3, 1, 1, False),
    ((2, 2), 3, 2, 1, True),
    ((3, 3), 3, 2, 1, False),
    ((4, 4), 5, 1, 1, True),
    ((5, 5), 5, 1, 1, False),
    ((4, 4), 3, 1, 2, True),
    ((5, 5), 3, 1, 2, False),
]


@pytest.mark.parametrize("size, kernel, strides, dilation, wrong", CASES)
def test_lce_computes_small_input_zero_padded_convs_wrongly(size, kernel, strides, dilation, wrong):
    model = one_conv(size, kernel, strides=strides, dilation=dilation)
    raw = lce.convert_keras_model(model)  # LCE itself, without bnnzoo's rewrite
    diff = max_diff_per_input(model, raw)
    assert bool(zero_padding_defects(model)) == wrong
    if wrong:  # off by integers on every input: the border correction depends on the kernel only
        assert diff.min() >= 1.0
    else:
        assert diff.max() == 0.0


def test_pad_value_one_is_not_affected():
    model = one_conv((2, 2), pad_value=1.0)
    assert zero_padding_defects(model) == []
    assert max_diff_per_input(model, lce.convert_keras_model(model)).max() == 0.0


def _conv_bn_conv(size, channels, kernel_quantizer="ste_sign"):
    inputs = tf.keras.Input((*size, channels))
    x = lq.layers.QuantConv2D(
        channels, 3, padding="same", input_quantizer="ste_sign", kernel_quantizer=kernel_quantizer,
        kernel_constraint="weight_clip", use_bias=False, name="first",
    )(inputs)  # fmt: skip
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = binary_conv(channels, name="second")(x)  # a sign after the BatchNorm
    x = tf.keras.layers.BatchNormalization()(x)
    return randomize_weights(tf.keras.Model(inputs, x), seed=0)


@pytest.mark.parametrize(
    "size, channels, kernel_quantizer",
    [((2, 2), 8, "ste_sign"), ((1, 1), 8, "ste_sign"), ((2, 3), 7, "magnitude_aware_sign")],
)
def test_to_tflite_rewrites_affected_convs_exactly(size, channels, kernel_quantizer):
    model = _conv_bn_conv(size, channels, kernel_quantizer)
    assert [d.layer for d in zero_padding_defects(model)] == ["first", "second"]
    flatbuffer = to_tflite(model)
    assert op_histogram(flatbuffer)["LceBconv2d"] == 2  # still binary
    assert binary_mac_report(model, flatbuffer).share_percent == pytest.approx(100.0)
    assert_exact(model, flatbuffer)
    assert max_diff_per_input(model, lce.convert_keras_model(model)).min() >= 1e-2  # raw: wrong


def test_rewrite_reaches_nested_and_sequential_models_and_leaves_the_original_alone():
    inner = tf.keras.Sequential(
        [tf.keras.Input((2, 2, 8)), binary_conv(name="inner_conv")], name="inner"
    )
    inputs = tf.keras.Input((4, 4, 8))
    x = binary_conv(name="outer_conv")(inputs)  # 4x4: not affected
    x = tf.keras.layers.MaxPool2D(2)(x)
    outputs = tf.keras.layers.BatchNormalization()(inner(x))
    model = randomize_weights(tf.keras.Model(inputs, outputs), seed=0)
    assert [d.layer for d in zero_padding_defects(model)] == ["inner/inner_conv"]

    rewritten = avoid_upstream_defects(model)
    assert rewritten is not model and zero_padding_defects(rewritten) == []
    assert [w.name for w in rewritten.weights if "border" not in w.name] == [
        w.name for w in model.weights
    ]
    kept = [w for w in rewritten.weights if "border" not in w.name]
    assert all(np.array_equal(a, b) for a, b in zip(kept, model.weights))
    assert model.get_layer("inner").get_layer("inner_conv").pad_values == 0.0  # untouched
    assert zero_padding_defects(model) != []
    assert_exact(model, to_tflite(model))


def test_a_resnet_e_whose_last_stage_is_2x2_converts_exactly():
    # as BinaryResNetE18 built at 64x64 (its last stage is 2x2), on a two-stage one at 4x4
    model = zoo.BinaryResNetE(
        blocks_per_stage=(1, 2), filters=(16, 32), input_shape=(4, 4, 3), num_classes=10,
        classifier_activation=None,
    )  # fmt: skip
    defects = zero_padding_defects(model)
    assert {d.input_size for d in defects} == {(2, 2)} and len(defects) == 1
    report, _ = check_conversion(model, lambda m: lce_engine(to_tflite(m)), n=4)
    assert report.passed and report.rounding_exact == 4, report
    raw, _ = check_conversion(model, lambda m: lce_engine(lce.convert_keras_model(m)), n=4)
    assert not raw.passed  # the same check sees LCE's own conversion fail


def test_model_without_the_defect_is_converted_unchanged():
    model = one_conv((3, 3))
    assert avoid_upstream_defects(model) is model
    assert to_tflite(model) == lce.convert_keras_model(model)


def test_xcore_target_is_not_rewritten():
    model = one_conv((2, 2))  # LCE leaves binary convs in float for xcore: right as it is
    flatbuffer = to_tflite(model, target="xcore")
    assert flatbuffer == lce.convert_keras_model(model, target="xcore")
    assert max_diff_per_input(model, flatbuffer).max() == 0.0


def test_layer_called_on_two_input_sizes_is_refused_before_writing(tmp_path):
    conv = binary_conv(name="shared")
    inputs = tf.keras.Input((2, 2, 8))
    pooled = tf.keras.layers.MaxPool2D(2)(inputs)
    outputs = tf.keras.layers.Add()(
        [
            tf.keras.layers.GlobalAveragePooling2D()(conv(inputs)),
            tf.keras.layers.GlobalAveragePooling2D()(conv(pooled)),
        ]
    )
    model = tf.keras.Model(inputs, outputs)
    path = tmp_path / "model.tflite"
    with pytest.raises(ValueError) as error:
        to_tflite(model, path)
    message = str(error.value)
    assert "conv 'shared' correctly: it has a 1x1 input, smaller than its 3x3 kernel" in message
    assert "called on several input sizes" in message and "pad_value=1.0" in message
    assert "\n" not in message and not path.exists()

"""upstream: LCE 0.16 computes a same-zero binary conv on an input smaller than its kernel
wrongly, and crashes on a large quantized kernel of a layer it computes in float; to_tflite
rewrites such layers exactly and leaves every other model alone.

If ``test_lce_computes_small_input_zero_padded_convs_wrongly`` fails, LCE has fixed the defect:
check the fixed version, then drop the rewrite and pin that version. The crash on large kernels
is too costly for a test (seconds and gigabytes); ``benchmarks/lce_defects.py`` shows it.
"""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from larq_zoo.literature.dorefanet import magnitude_aware_sign_unclipped
from larq_zoo.literature.xnornet import xnor_weight_scale

from bnnzoo import zoo
from bnnzoo.converters import randomize_weights
from bnnzoo.converters.exact import check_conversion
from bnnzoo.converters.lce import binary_mac_report, lce_engine, op_histogram, to_tflite
from bnnzoo.converters.lce.upstream import avoid_upstream_defects, zero_padding_defects
from bnnzoo.converters.lce.upstream_kernels import quantized_kernels
from bnnzoo.converters.verify import keras_outputs, verify_engine
from tests.converters.lce._tiny import lce_alone


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
    diff = lce_engine(flatbuffer)(inputs) - keras_outputs(model, inputs)
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
    raw = lce_alone(model)  # LCE itself, without bnnzoo's rewrite
    diff = max_diff_per_input(model, raw)
    assert bool(zero_padding_defects(model)) == wrong
    if wrong:  # off by integers on every input: the border correction depends on the kernel only
        assert diff.min() >= 1.0
    else:
        assert diff.max() == 0.0


def test_pad_value_one_is_not_affected():
    model = one_conv((2, 2), pad_value=1.0)
    assert zero_padding_defects(model) == []
    assert max_diff_per_input(model, lce_alone(model)).max() == 0.0


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
    assert max_diff_per_input(model, lce_alone(model)).min() >= 1e-2  # raw: wrong


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
    folded = {"outer_conv/kernel:0"}  # its kernel quantizer folded in (upstream_kernels)
    for new, old in zip(kept, model.weights):
        expected = np.where(old.numpy() >= 0, 1.0, -1.0) if old.name in folded else old.numpy()
        np.testing.assert_array_equal(new.numpy(), expected, err_msg=old.name)
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
    raw, _ = check_conversion(model, lambda m: lce_engine(lce_alone(m)), n=4)
    assert not raw.passed  # the same check sees LCE's own conversion fail


def test_model_without_the_padding_defect_converts_as_lce_alone_converts_it():
    # its kernel is folded (upstream_kernels), which LCE does itself at this size
    model = one_conv((3, 3))
    flatbuffer, raw = to_tflite(model), lce_alone(model)
    assert op_histogram(flatbuffer) == op_histogram(raw) == {"LceBconv2d": 1, "LceQuantize": 1}
    assert abs(len(flatbuffer) - len(raw)) < 64  # the same constants but for their names
    assert max_diff_per_input(model, flatbuffer).max() == 0.0


def test_xcore_target_is_not_rewritten():
    model = one_conv((2, 2))  # LCE leaves binary convs in float for xcore: right as it is
    flatbuffer = to_tflite(model, target="xcore")
    assert flatbuffer == lce_alone(model, target="xcore")
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


# -- quantized kernels of layers LCE computes in float (upstream_kernels) --------------------


def dorefa():
    return lq.quantizers.DoReFaQuantizer(k_bit=2)


def _float_kernel_model():
    """Every kind of layer whose kernel is folded, a binary conv among them."""
    inputs = tf.keras.Input((4, 4, 8))
    x = lq.layers.QuantConv2D(
        8, 3, padding="same", input_quantizer=dorefa(),
        kernel_quantizer=magnitude_aware_sign_unclipped, use_bias=False, name="dorefa_conv",
    )(inputs)  # fmt: skip
    x = tf.keras.layers.BatchNormalization()(x)
    x = binary_conv(8, name="binary_conv")(x)  # sign input: folded, still an LceBconv2d
    # XNOR-Net's kind (larq-zoo's xnornet): a sign input and a per-filter scaled sign kernel,
    # which LCE leaves in float above its folding limit (its 6x6 conv of 4,096 filters)
    x = lq.layers.QuantConv2D(
        8, 3, padding="same", input_quantizer="ste_sign", kernel_quantizer=xnor_weight_scale,
        use_bias=False, name="xnor_conv",
    )(x)  # fmt: skip
    x = lq.layers.QuantDepthwiseConv2D(
        3, depthwise_quantizer="ste_sign", depthwise_constraint="weight_clip", use_bias=False,
        name="depthwise",
    )(x)  # fmt: skip
    x = tf.keras.layers.BatchNormalization()(tf.keras.layers.Flatten()(x))
    x = lq.layers.QuantDense(
        16, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip", name="binary_dense",
    )(x)  # fmt: skip
    x = lq.layers.QuantDense(
        10, input_quantizer=dorefa(), kernel_quantizer=magnitude_aware_sign_unclipped,
        name="dorefa_dense",
    )(x)  # fmt: skip
    return randomize_weights(tf.keras.Model(inputs, x), seed=0)


FOLDED = ["dorefa_conv", "binary_conv", "xnor_conv", "depthwise", "binary_dense", "dorefa_dense"]


@pytest.fixture(scope="module")
def float_kernel_model():
    return _float_kernel_model()  # shared: neither test changes it for good


def test_folding_quantized_kernels_is_bit_exact(float_kernel_model):
    model = float_kernel_model
    assert [k.layer for k in quantized_kernels(model)] == FOLDED
    assert [k.layer for k in quantized_kernels(model, binary_convs=False)] == [
        name for name in FOLDED if name not in ("binary_conv", "xnor_conv")
    ]
    rewritten = avoid_upstream_defects(model)
    assert quantized_kernels(rewritten) == []
    assert rewritten.get_layer("dorefa_dense").input_quantizer is not None  # input kept
    conv, new_conv = model.get_layer("binary_conv"), rewritten.get_layer("binary_conv")
    assert new_conv.input_quantizer is not None and new_conv.kernel_quantizer is None
    latent = conv.get_weights()[0]
    assert np.array_equal(new_conv.get_weights()[0], np.where(latent >= 0, 1.0, -1.0))
    xnor, new_xnor = model.get_layer("xnor_conv"), rewritten.get_layer("xnor_conv")
    assert new_xnor.input_quantizer is not None and new_xnor.kernel_quantizer is None
    scaled = xnor_weight_scale(xnor.kernel).numpy()
    assert len(np.unique(np.abs(scaled))) == 8  # one scale per filter, not a plain sign
    assert np.array_equal(new_xnor.get_weights()[0], scaled)
    assert model.get_layer("depthwise").depthwise_quantizer is not None  # original untouched
    inputs = np.random.default_rng(1).normal(size=(4, 4, 4, 8)).astype("float32")
    expected = keras_outputs(model, inputs)
    assert np.array_equal(keras_outputs(rewritten, inputs), expected)  # bit for bit


def test_folded_model_converts_exactly_with_lce_and_keeps_its_lce_bconv2d(float_kernel_model):
    model = float_kernel_model
    files = []

    def convert(m):
        files.append(to_tflite(m))
        return lce_engine(files[-1])

    report, _ = check_conversion(model, convert, n=4)
    assert report.passed and report.rounding_exact == 4, report
    ops = op_histogram(files[0])
    # the two binary convs (XNOR-Net's scaled kernel too), and the binary dense layer as a 1x1
    # binary conv
    assert ops["LceBconv2d"] == 3 and ops["CONV_2D"] == ops["DEPTHWISE_CONV_2D"] == 1
    assert ops["FULLY_CONNECTED"] == 1 and "SIGN" not in ops and "ABS" not in ops
    report = binary_mac_report(model, files[0])
    assert report.share_percent == 100.0 and not report.unfused


def test_lce_folds_small_quantized_kernels_itself():
    # why folding every such kernel changes nothing below LCE's limit (see upstream_kernels)
    inputs = tf.keras.Input((4, 4, 8))
    x = lq.layers.QuantConv2D(
        8, 3, input_quantizer=dorefa(), kernel_quantizer=magnitude_aware_sign_unclipped
    )(inputs)  # fmt: skip
    x = tf.keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(16, kernel_quantizer="ste_sign", kernel_constraint="weight_clip")(x)
    x = lq.layers.QuantDense(8, kernel_quantizer=magnitude_aware_sign_unclipped)(x)
    model = randomize_weights(tf.keras.Model(inputs, x), seed=0)
    assert len(quantized_kernels(model)) == 3
    flatbuffer, raw = to_tflite(model), lce_alone(model)
    assert op_histogram(raw) == op_histogram(flatbuffer)  # no SIGN, no ABS: folded
    assert abs(len(flatbuffer) - len(raw)) < 64  # the same constants but for their names


def test_a_dorefa_conv_on_an_input_smaller_than_its_kernel_is_a_float_conv():
    # not an LceBconv2d, so not LCE's zero-padding defect: folded, and exact as a plain CONV_2D
    inputs = tf.keras.Input((2, 2, 8))
    conv = lq.layers.QuantConv2D(
        8, 3, padding="same", input_quantizer=dorefa(), kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip", use_bias=False, name="dorefa_conv",
    )  # fmt: skip
    model = randomize_weights(tf.keras.Model(inputs, conv(inputs)), seed=0)
    assert zero_padding_defects(model) == []
    assert [k.layer for k in quantized_kernels(model)] == ["dorefa_conv"]
    assert_exact(model, to_tflite(model))


def test_model_without_quantized_kernels_is_returned_unchanged():
    inputs = tf.keras.Input((4, 4, 8))
    x = lq.layers.QuantConv2D(8, 3, input_quantizer="ste_sign")(inputs)  # float kernel
    x = lq.layers.QuantConv2D(8, 1, input_quantizer=dorefa())(x)  # no kernel quantizer
    x = tf.keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(4, input_quantizer="ste_sign")(x)  # no kernel quantizer
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(x))
    assert quantized_kernels(model) == [] and zero_padding_defects(model) == []
    assert avoid_upstream_defects(model) is model
    # for xcore, binary convs keep their quantizers: a binary model is left as it is
    binary = tf.keras.Model(inputs, binary_conv(name="binary")(inputs))
    assert avoid_upstream_defects(binary, target="xcore") is binary


def test_xcore_target_folds_kernels_but_leaves_zero_padded_convs():
    inputs = tf.keras.Input((2, 2, 8))
    x = tf.keras.layers.Flatten()(binary_conv(name="small")(inputs))  # a defect on arm only
    x = lq.layers.QuantDense(4, kernel_quantizer="ste_sign", kernel_constraint="weight_clip")(x)
    model = tf.keras.Model(inputs, x)
    rewritten = avoid_upstream_defects(model, target="xcore")
    assert quantized_kernels(rewritten, binary_convs=False) == []
    assert [d.layer for d in zero_padding_defects(rewritten)] == ["small"]

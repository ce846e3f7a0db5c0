"""Bi-Real ResNets from a spec: published complexity, shortcuts, uneven widths, LCE fusion."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from bnnzoo.converters.lce import binary_mac_report, to_tflite
from bnnzoo.converters.verify import randomize_weights
from bnnzoo.zoo.bireal import DWR_BINARIZATION, BiRealSpec, ChannelPadShortcut

TINY = BiRealSpec(((8, 8), (16, 12)), stem="cifar", stem_width=8)


@pytest.mark.parametrize(
    "name, mbit, gops, params",
    [
        ("bireal_resnet18", 33.21, 0.164, 11_699_112),  # Zhu et al. 2022 Table 1; larq-zoo
        ("bireal_resnet34", 43.31, 0.193, None),
    ],
)
def test_imagenet_complexity_is_the_published_one(name, mbit, gops, params):
    model = zoo.create_model(name)
    counts = count_model(model)
    assert counts.storage_mbit == pytest.approx(mbit, abs=0.01)
    assert counts.ops_bops64 / 1e9 == pytest.approx(gops, abs=0.0005)
    assert params is None or model.count_params() == params
    assert model.output_shape == (None, 1000)


def test_width_scales_every_stage_and_the_stem():
    model = zoo.BiRealResNet18(width=32, input_shape=(64, 64, 3), num_classes=5)
    assert model.get_layer("stem_conv").filters == 32
    assert [model.get_layer(f"stage{i}_conv1").filters for i in (1, 2, 3, 4)] == [32, 64, 128, 256]
    assert len([layer for layer in model.layers if layer.name.endswith("_add")]) == 16


def test_a_shortcut_around_every_binary_conv_and_conv_shortcuts_where_shapes_change():
    model = zoo.BiRealResNet(spec=TINY, input_shape=(16, 16, 3), num_classes=3)
    adds = [layer.name for layer in model.layers if isinstance(layer, tf.keras.layers.Add)]
    assert adds == ["stage1_conv1_add", "stage1_conv2_add", "stage2_conv1_add", "stage2_conv2_add"]
    # stage 2 halves the resolution (pool → 1×1 → BN), then 16 → 12 changes the width (1×1 → BN)
    assert model.get_layer("stage2_conv1_shortcut_pool").pool_size == (2, 2)
    assert model.get_layer("stage2_conv2_shortcut_conv").filters == 12
    assert "stage2_conv2_shortcut_pool" not in [layer.name for layer in model.layers]
    assert model.output_shape == (None, 3)


def test_pad_shortcut_subsamples_and_zero_pads_without_parameters(rng):
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    y = ChannelPadShortcut(5, 2)(x).numpy()
    assert y.shape == (2, 3, 3, 5)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    assert not y[..., 3:].any()
    assert ChannelPadShortcut(2, 1)(x).shape == (2, 6, 6, 2)  # narrower: the first channels
    spec = TINY.replace(shortcut="pad")
    model = zoo.BiRealResNet(spec=spec, input_shape=(16, 16, 3), num_classes=3)
    assert not any("shortcut_conv" in layer.name for layer in model.layers)
    assert (
        model.count_params() < zoo.BiRealResNet(spec=TINY, input_shape=(16, 16, 3)).count_params()
    )


def test_alignment_prelu_and_head_bn_are_where_the_spec_puts_them():
    spec = TINY.replace(align=8, prelu=True, head_bn=True)
    model = zoo.BiRealResNet(spec=spec, input_shape=(16, 16, 3), num_classes=3)
    names = [layer.name for layer in model.layers]
    assert model.get_layer("align_conv").filters == 8
    assert names.index("align_bn") < names.index("head_pool") < names.index("head_bn")
    assert model.get_layer("stage1_conv1_prelu").alpha.shape == (1, 1, 8)
    assert [name for name, _ in spec.binary_convs()][-1] == "align_conv"


def test_dwr_binarization_is_plain_sign_weights_and_approx_sign_activations():
    model = zoo.BiRealResNet(
        spec=TINY, binarization=DWR_BINARIZATION, input_shape=(16, 16, 3), num_classes=3
    )
    conv = model.get_layer("stage1_conv1")
    assert type(conv.kernel_quantizer).__name__ == "SteSign"
    assert type(conv.input_quantizer).__name__ == "ApproxSign"
    assert conv.kernel_constraint.clip_value == 1.0 and conv.pad_values == 1.0


def test_uneven_widths_and_blocks_from_the_spec():
    spec = BiRealSpec.from_blocks([1, 2], [16, 32], stem="cifar", stem_width=16)
    assert spec.stages == ((16, 16), (32, 32, 32, 32)) and spec.blocks == (1.0, 2.0)
    assert spec.widths == (16, 32)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stages": ()}, "non-empty list"),
        ({"stages": ((8, 0),)}, "stages\\[0\\]"),
        ({"stages": ((8,),), "shortcut": "binary"}, "shortcut"),
        ({"stages": ((8,),), "stem": "mnist"}, "stem"),
        ({"stages": ((8,),), "align": 0}, "align"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BiRealSpec(**kwargs)


def test_bad_arguments_are_refused_before_building():
    with pytest.raises(ValueError, match="same length"):
        BiRealSpec.from_blocks([1, 1], [8])
    with pytest.raises(ValueError, match="BiRealSpec"):
        zoo.BiRealResNet(spec={"stages": [[8]]})
    with pytest.raises(ValueError, match="No ImageNet weights"):
        zoo.BiRealResNet18(width=32, weights="imagenet")
    with pytest.raises(ValueError, match="at least 8×8"):
        zoo.BiRealResNet18(input_shape=(4, 4, 3))  # the CIFAR stem (under 50 px), 4 stages
    with pytest.raises(ValueError, match="at least 8×8"):  # stem /4, then one halving
        zoo.BiRealResNet(spec=TINY.replace(stem="imagenet"), input_shape=(6, 6, 3))


def test_pad_shortcut_model_survives_save_and_load(tmp_path, rng):
    model = zoo.BiRealResNet(
        spec=TINY.replace(shortcut="pad"), input_shape=(16, 16, 3), num_classes=3
    )
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    x = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("shortcut", ["conv", "pad"])
def test_lce_fuses_every_binary_mac(shortcut):
    spec = TINY.replace(shortcut=shortcut, align=8, prelu=True, head_bn=True)
    model = zoo.BiRealResNet(
        spec=spec,
        binarization=DWR_BINARIZATION,
        input_shape=(16, 16, 3),
        num_classes=3,
        classifier_activation=None,
    )
    randomize_weights(model, seed=0)
    report = binary_mac_report(model, to_tflite(model))
    assert report.share_percent == pytest.approx(100.0)


def test_lce_fuses_the_larq_zoo_binarization():
    # the default binarization (larq-zoo's) behind the ImageNet stem's max pool; two stages stand
    # for ResNet18's four (the same blocks and shortcuts)
    model = zoo.BiRealResNet(spec=TINY.replace(stem="imagenet"), input_shape=(32, 32, 3),
                             num_classes=3)  # fmt: skip
    randomize_weights(model, seed=0)
    assert binary_mac_report(model, to_tflite(model)).share_percent == pytest.approx(100.0)


class _AskedError(Exception):
    pass


@pytest.mark.parametrize("include_top", [True, False])
def test_weights_imagenet_asks_for_larq_zoos_birealnet_file(include_top, monkeypatch):
    from bnnzoo.zoo import weights
    from bnnzoo.zoo.pretrained import IMAGENET

    def download(url, sha256, **kwargs):
        raise _AskedError(url, sha256)

    monkeypatch.setattr(weights, "download", download)
    with pytest.raises(_AskedError) as asked:
        zoo.create_model("bireal_resnet18", weights="imagenet", include_top=include_top)
    expected = IMAGENET["BiRealNet"].file(include_top=include_top)
    assert asked.value.args == (expected.url, expected.sha256)
    assert "birealnet-v0.3.0" in expected.url

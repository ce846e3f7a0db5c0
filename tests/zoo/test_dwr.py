"""The DWR backbones and depth-width reshaping (Xue et al. 2023, §4.1, Tables 2 and 3)."""

import math

import pytest

from bnnzoo import zoo
from bnnzoo.analysis import count_model
from bnnzoo.converters.lce import binary_mac_report, to_tflite
from bnnzoo.converters.verify import randomize_weights
from bnnzoo.zoo import dwr

CIFAR = ((32, 32, 3), 10)


def test_presets_default_to_their_dataset_and_take_spec_fields():
    for name in zoo.list_models(family="dwr"):
        spec = zoo.get_model_spec(name)
        imagenet = name == "dwr_resnet18_imagenet_s2"
        assert (spec.input_shape, spec.num_classes) == (((224, 224, 3), 1000) if imagenet
                                                        else CIFAR), name  # fmt: skip
        assert spec.paper.key == "xue2023"
    model = zoo.create_model("resnet20_bireal", stages=[[8, 8], [16, 16]], align=12)
    assert model.get_layer("stage2_conv2").filters == 16
    assert model.get_layer("align_conv").filters == 12
    assert "stage3_conv1" not in [layer.name for layer in model.layers]


def test_released_presets_have_the_authors_widths():
    r20 = zoo.create_model("dwr_resnet20_s3")
    assert [r20.get_layer(f"stage{i}_conv2").filters for i in (1, 2, 3)] == [16, 78, 134]
    assert r20.get_layer("align_conv").filters == 64
    assert r20.get_layer("stage1_conv1").kernel_quantizer.__class__.__name__ == "SteSign"
    vgg = zoo.create_model("dwr_vgg11")
    assert [vgg.get_layer(f"stage{i}_conv1").filters for i in (1, 2, 3, 4)] == [144, 390, 842, 418]
    assert vgg.get_layer("stem_conv").filters == 64


@pytest.mark.parametrize(
    "spec, valid", [(dwr.RESNET20, [1, 1.5, 3]), (dwr.RESNET18_CIFAR, [1, 2]),
                    (dwr.VGG_11, [1, 2])],
)  # fmt: skip
def test_valid_s_are_those_of_table_2(spec, valid):
    assert dwr.valid_s(spec) == valid


def test_an_s_that_does_not_divide_the_blocks_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"s=2 does not divide .*\[3, 3, 3\].*1, 1.5, 3"):
        dwr.reshape_depth_width(dwr.RESNET20, 2)
    with pytest.raises(ValueError, match="Valid s for this backbone: 1, 2"):
        dwr.reshape_depth_width(dwr.RESNET18_CIFAR, 4)  # zero blocks
    with pytest.raises(ValueError, match="positive number"):
        dwr.reshape_depth_width(dwr.RESNET20, 0)
    with pytest.raises(ValueError, match="BiRealSpec or a VGGSpec"):
        dwr.reshape_depth_width("resnet20", 3)


def test_reshaping_divides_blocks_and_widens_by_root_s():
    spec = dwr.reshape_depth_width(dwr.RESNET20, 3)
    assert spec.blocks == (1, 1, 1)
    assert spec.widths == (28, 55, 111) and spec.align == 64 and spec.stem_width == 16
    wide = dwr.reshape_depth_width(dwr.RESNET20, 3, width_factor=3, align=False)
    assert wide.widths == (48, 96, 192) and wide.align is None
    vgg = dwr.reshape_depth_width(dwr.VGG_11, 2)
    assert vgg.stages == ((181,), (362,), (724,), (724,)) and vgg.align == 512


def _binary(spec):
    counts = count_model(dwr.build(spec, input_shape=CIFAR[0], num_classes=CIFAR[1]))
    layers = [layer for layer in counts.layers if layer.binary_macs]
    return sum(x.binary_macs for x in layers), sum(x.activations for x in layers)


@pytest.mark.parametrize(
    "spec, s", [(dwr.RESNET20, 1.5), (dwr.RESNET20, 3), (dwr.RESNET18_CIFAR, 2)]
)
def test_activations_fall_by_root_s_at_about_equal_ops(spec, s):
    """Table 3 on the binary convs: activations × 1/√s (measured 0.824, 0.580, 0.709 against
    0.816, 0.577, 0.707), binary OPs about equal (0.96, 0.81, 0.86: the first conv of a stage
    reads the narrower input of the previous one)."""
    bops, acts = _binary(spec)
    new_bops, new_acts = _binary(dwr.reshape_depth_width(spec, s, align=False))
    assert new_acts / acts == pytest.approx(1 / math.sqrt(s), rel=0.02)
    assert 0.8 <= new_bops / bops <= 1.0


def test_lce_fuses_every_binary_mac_of_the_dwr_vgg():
    """The DWR VGG at small widths. (The DWR ResNets' layers, pad and conv shortcuts, PReLU, the
    alignment conv and the head's BN with DWR's binarization: tests/zoo/test_bireal.py.)"""
    model = zoo.create_model("dwr_vgg_small", classifier_activation=None,
                             stages=[[16], [16, 16], [32, 32]])  # fmt: skip
    randomize_weights(model, seed=0)
    assert binary_mac_report(model, to_tflite(model)).share_percent == pytest.approx(100.0)

"""Binary VGGs from a spec: layer order, pools, alignment, LCE fusion, bad specs."""

import pytest
import tensorflow as tf

from bnnzoo.analysis import count_model
from bnnzoo.converters.lce import binary_mac_report, to_tflite
from bnnzoo.converters.verify import randomize_weights
from bnnzoo.zoo.vgg import BinaryVGG, VGGSpec

TINY = VGGSpec(((8,), (16, 12)), first=8, pool_after_first=True, align=10)


def test_every_stage_ends_in_a_pool_after_its_bn():
    model = BinaryVGG(spec=TINY, input_shape=(16, 16, 3), num_classes=4)
    names = [layer.name for layer in model.layers]
    assert names.index("first_pool") < names.index("stage1_conv1")
    assert names.index("stage2_conv2_bn") < names.index("stage2_pool") < names.index("align_conv")
    assert model.get_layer("align_conv").output_shape == (None, 2, 2, 10)
    assert [n for n, _ in TINY.binary_convs()] == [
        "stage1_conv1", "stage2_conv1", "stage2_conv2", "align_conv"
    ]  # fmt: skip
    assert model.output_shape == (None, 4)


def test_first_layer_and_classifier_are_full_precision():
    model = BinaryVGG(spec=TINY, input_shape=(16, 16, 3), num_classes=4)
    counts = {layer.name: layer for layer in count_model(model).layers}
    assert counts["stem_conv"].binary_macs == 0 and counts["stem_conv"].float_macs > 0
    assert counts["head_dense"].binary_macs == 0
    assert all(counts[n].float_macs == 0 for n, _ in TINY.binary_convs())


def test_pool_after_first_sets_the_smallest_input():
    with pytest.raises(ValueError, match="at least 8×8"):
        BinaryVGG(spec=TINY, input_shape=(4, 4, 3))
    model = BinaryVGG(spec=TINY.replace(pool_after_first=False), input_shape=(4, 4, 3))
    assert isinstance(model, tf.keras.Model)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"stages": ()}, "non-empty"), ({"stages": ((8, -1),)}, "stages\\[0\\]"),
     ({"stages": ((8,),), "first": 0}, "first"), ({"stages": ((8,),), "align": 0}, "align")],
)  # fmt: skip
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VGGSpec(**kwargs)
    with pytest.raises(ValueError, match="VGGSpec"):
        BinaryVGG(spec={"stages": [[8]]})


def test_lce_fuses_every_binary_mac():
    model = BinaryVGG(spec=TINY, input_shape=(16, 16, 3), num_classes=4, classifier_activation=None)
    randomize_weights(model, seed=0)
    assert binary_mac_report(model, to_tflite(model)).share_percent == pytest.approx(100.0)

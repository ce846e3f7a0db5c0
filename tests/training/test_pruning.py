"""Clustering pruning to an OPs budget: rows, DBSCAN, weight copying, the threshold search."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo.analysis import count_model
from bnnzoo.training import pruning
from bnnzoo.zoo import dwr
from bnnzoo.zoo.bireal import BiRealSpec
from bnnzoo.zoo.vgg import VGGSpec

SHAPE = (16, 16, 3)
RESNET = BiRealSpec.from_blocks([1, 1], [12, 24], stem_width=8, head_bn=True)
VGG = VGGSpec(((12,), (16, 24)), first=8)


def _build(spec):
    return dwr.build(spec, input_shape=SHAPE, num_classes=4, classifier_activation=None)


@pytest.fixture
def images(rng):
    return rng.normal(size=(32, *SHAPE)).astype("float32")


def test_one_row_per_channel_with_the_stage_convs_side_by_side(images):
    rows = pruning.channel_rows(_build(RESNET), RESNET, images)
    assert rows["stage1"].shape == (12, 2 * 16 * 16)  # two convs at 16×16
    assert rows["stage2"].shape == (24, 2 * 8 * 8)
    vgg_rows = pruning.channel_rows(_build(VGG), VGG, images)
    assert set(vgg_rows) == {"stage1_conv1", "stage2_conv1", "stage2_conv2"}


def test_one_channel_per_cluster_plus_every_noise_point(rng):
    centres = rng.normal(size=(3, 20))
    rows = np.concatenate([c + 0.01 * rng.normal(size=(6, 20)) for c in centres])
    rows = np.concatenate([rows, rng.normal(size=(2, 20))])  # two loners: noise
    kept = pruning.cluster_channels(rows, 0.05)
    assert len(kept) == 5 and {18, 19} <= set(kept)
    assert sorted({k // 6 for k in kept if k < 18}) == [0, 1, 2]  # one per cluster
    assert len(pruning.cluster_channels(rows, 1e-9)) == 20  # everything is noise


@pytest.mark.parametrize("spec", [RESNET, RESNET.replace(shortcut="pad", prelu=True), VGG])
def test_keeping_every_channel_copies_the_model_exactly(spec, images):
    model = _build(spec)
    for layer in model.layers:  # nonzero BN statistics everywhere
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.moving_mean.assign(tf.random.normal(layer.moving_mean.shape))
    kept = {g.name: np.arange(g.width) for g in pruning.groups(spec)}
    copy = _build(spec)
    pruning.copy_kept_weights(model, copy, pruning.channel_slices(spec, kept))
    np.testing.assert_allclose(copy(images[:4]).numpy(), model(images[:4]).numpy(), atol=1e-5)


def test_pruned_weights_are_the_kept_channels_of_the_trained_ones():
    model = _build(RESNET)
    kept = {"stage1": np.array([0, 3, 5]), "stage2": np.array([1, 2, 10, 20])}
    narrow = _build(pruning.with_widths(RESNET, {"stage1": 3, "stage2": 4}))
    pruning.copy_kept_weights(model, narrow, pruning.channel_slices(RESNET, kept))
    old = model.get_layer("stage2_conv1").get_weights()[0]
    new = narrow.get_layer("stage2_conv1").get_weights()[0]
    np.testing.assert_array_equal(new, old[:, :, [0, 3, 5], :][..., [1, 2, 10, 20]])
    old_sc = model.get_layer("stage2_conv1_shortcut_conv").get_weights()[0]
    new_sc = narrow.get_layer("stage2_conv1_shortcut_conv").get_weights()[0]
    np.testing.assert_array_equal(new_sc, old_sc[:, :, [0, 3, 5], :][..., [1, 2, 10, 20]])
    old_bn = model.get_layer("stage1_conv2_bn").get_weights()
    new_bn = narrow.get_layer("stage1_conv2_bn").get_weights()
    assert all(np.array_equal(n, o[[0, 3, 5]]) for n, o in zip(new_bn, old_bn))
    dense = model.get_layer("head_dense").get_weights()[0]
    np.testing.assert_array_equal(narrow.get_layer("head_dense").get_weights()[0],
                                  dense[[1, 2, 10, 20]])  # fmt: skip


# the tiny VGG's float first layer is most of its OPs: one channel per layer still costs 0.87×
@pytest.mark.parametrize("spec, fraction", [(RESNET, 0.7), (VGG, 0.93)])
def test_the_search_lands_at_or_under_the_budget(spec, fraction, images):
    model = _build(spec)
    full = count_model(model).ops_bops64
    budget = fraction * full
    result = pruning.prune_to_budget(model, spec, images, budget=budget, build=_build)
    assert result.ops <= budget and result.ops == count_model(result.model).ops_bops64
    assert result.unpruned_ops == full and result.budget == budget
    assert [w[1] for w in result.widths] == [g.width for g in pruning.groups(spec)]
    assert result.model.output_shape == model.output_shape
    assert "channels after" in result.report() and "of the budget" in result.report()


def test_default_budget_is_the_original_backbones_ops(images):
    wide = RESNET.replace(stages=((24, 24), (48, 48)))
    result = pruning.prune_to_budget(_build(wide), wide, images, original=RESNET, build=_build)
    assert result.budget == count_model(_build(RESNET)).ops_bops64
    assert result.ops <= result.budget


def test_a_network_already_under_budget_is_not_pruned(images):
    model = _build(VGG)
    result = pruning.prune_to_budget(model, VGG, images, budget=1e12, build=_build)
    assert result.eps == 0.0 and [w[1] for w in result.widths] == [w[2] for w in result.widths]


def test_bad_input_is_refused_with_what_would_work(images):
    model = _build(RESNET)
    with pytest.raises(ValueError, match="smallest it reaches .* is [0-9.e+]+"):
        pruning.prune_to_budget(model, RESNET, images, budget=1.0, build=_build)
    with pytest.raises(ValueError, match="non-empty batch"):
        pruning.prune_to_budget(model, RESNET, images[:0], budget=1e9, build=_build)
    with pytest.raises(ValueError, match="at least 16 calibration images.*Received: 4"):
        pruning.prune_to_budget(model, RESNET, images[:4], budget=1e9, build=_build)
    with pytest.raises(ValueError, match="the model takes"):
        pruning.prune_to_budget(model, RESNET, images[:, :8, :8], budget=1e9, build=_build)
    with pytest.raises(ValueError, match="Pass budget=OPs, or original=SPEC"):
        pruning.prune_to_budget(model, RESNET, images)
    with pytest.raises(ValueError, match="uneven widths"):
        pruning.groups(RESNET.replace(stages=((12, 8), (24, 24))))
    float_model = tf.keras.Sequential([tf.keras.Input(SHAPE), tf.keras.layers.Conv2D(4, 3)])
    with pytest.raises(ValueError, match="has no binary convs"):
        pruning.prune_to_budget(float_model, RESNET, images, budget=1e9)

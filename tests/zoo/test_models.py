"""One table-driven test over every registered model, at a small input; the published figures at
the published input."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import analysis, zoo

# larq-zoo's own models (their layers, names and minimum inputs are larq-zoo's): test_larq_zoo.py
ALL_MODELS = [n for n in zoo.list_models() if zoo.get_model_spec(n).family != "larq_zoo"]
SMALL = (32, 32, 3)  # every family builds at 32 px, with the 3×3 stride-1 small-input stem

# Writing and reading files is the slow part (seconds per model, tens of MB for the big
# presets); serialization is a property of the layers, so the smallest model of every family
# and precision goes through real files.
FILE_ROUND_TRIP = [
    "binary_densenet28",
    "binary_resnet_e18",
    "bitnet_cifar_d4_k1_n2",
    "bitnet_cifar_d4_k1_n2_binary",
    "wide_resnet_cifar_d4_k2_n6",
    "wide_resnet_cifar_d4_k2_n6_binary",
    "wu_alexnet",
    "wu_bnn13",
    "bireal_resnet18",
    "resnet20_bireal",
    "igp_resnet21",
]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model(name):
    """Built at 32×32×3 (the CIFAR presets at their defaults, which are that, with 10 classes;
    the ImageNet models with 3 classes): the small-input stem, binary work where the model is
    binary; without top: no classifier."""
    spec = zoo.get_model_spec(name)
    cifar = spec.input_shape == SMALL
    kwargs = {} if cifar else {"input_shape": SMALL, "num_classes": 3}
    model = zoo.create_model(name, **kwargs)
    assert model.input_shape == (None, *SMALL)
    assert model.output_shape == (None, spec.num_classes if cifar else 3)
    assert model.layers[-1].name == "head_softmax"
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size == (3, 3) and stem.strides == (1, 1)
    assert not any(layer.name == "stem_pool" for layer in model.layers)
    counts = analysis.count_model(model)
    if spec.binary:
        assert counts.binary_macs > 5 * counts.float_macs  # the bulk of the work is binary
    else:
        assert counts.binary_macs == 0  # a paper's full-precision network
    names = {layer.name for layer in model.layers}
    del model

    no_top = zoo.create_model(name, input_shape=SMALL, include_top=False)
    no_top_names = {layer.name for layer in no_top.layers}
    assert "head_dense" in names and not no_top_names & {"head_dense", "head_softmax"}
    assert no_top_names < names
    assert len(no_top.output_shape) in (2, 4)  # features: a vector (Wu) or a feature map


# Published counts at the published input: larq-zoo's parameter counts, and the model sizes of
# Bethge et al. 2019: Table 6 prints the BinaryDenseNets' with one decimal (~4.0, ~5.1, 7.4 MB),
# Table 2 ResNetE18's (4.0 MB with full-precision downsampling).
PUBLISHED = [name for name in ALL_MODELS if zoo.get_model_spec(name).published_params]
PUBLISHED_SIZES_MB = {
    "binary_densenet28": (4.0, 0.06),
    "binary_densenet37": (5.1, 0.06),
    "binary_densenet45": (7.4, 0.06),
    "binary_resnet_e18": (4.0, 0.005),
    # not a published size: pinned from count_model (its 33.21 Mbit of storage is Zhu et al.
    # 2022's Table 1 figure, 33.2, checked by tests/reproduce/test_igp.py)
    "bireal_resnet18": (4.0, 0.01),
}


def test_published_counts_are_those_of_larq_zoo_and_bethge_et_al():
    assert PUBLISHED == [
        "binary_densenet28",
        "binary_densenet37",
        "binary_densenet37_dilated",
        "binary_densenet45",
        "binary_resnet_e18",
        "bireal_resnet18",
    ]


@pytest.mark.parametrize("name", [n for n in PUBLISHED if n != "binary_densenet37_dilated"])
def test_published_model_at_its_defaults(name):
    """224×224×3 and 1000 classes by default, the ImageNet stem, and the published figures.
    (BinaryDenseNet37-dilated has BinaryDenseNet37's weights: its count is the same.)"""
    spec = zoo.get_model_spec(name)
    model = zoo.create_model(name)
    assert spec.input_shape == (224, 224, 3) and spec.num_classes == 1000
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert model.count_params() == spec.published_params
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size == (7, 7) and stem.strides == (2, 2)
    counts = analysis.count_model(model)
    assert counts.binary_macs > 5 * counts.float_macs
    size_mb, tolerance = PUBLISHED_SIZES_MB[name]
    assert round(counts.size_mb, 2) == pytest.approx(size_mb, abs=tolerance)


def test_dilated_model_has_the_weights_of_binary_densenet37(rng):
    shape = (64, 64, 3)  # the ImageNet stem: the published weights' layers
    dilated = zoo.BinaryDenseNet37Dilated(input_shape=shape)
    plain = zoo.BinaryDenseNet37(input_shape=shape)
    assert [w.shape for w in dilated.weights] == [w.shape for w in plain.weights]
    assert (
        dilated.count_params() == zoo.get_model_spec("binary_densenet37_dilated").published_params
    )
    assert dilated.get_layer("stage4_layer1_conv").dilation_rate == (4, 4)
    # stem /4, stage 2 /2, then dilation keeps the resolution
    assert dilated.get_layer("final_relu").output_shape[1:3] == (8, 8)
    assert plain.get_layer("final_relu").output_shape[1:3] == (2, 2)


@pytest.mark.parametrize("name", FILE_ROUND_TRIP)
def test_save_load_round_trip_through_files(name, tmp_path, rng):
    model = zoo.create_model(name, input_shape=(16, 16, 3), num_classes=10)
    x = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    for filename in ("model.keras", "model.h5"):
        model.save(tmp_path / filename)
        loaded = tf.keras.models.load_model(tmp_path / filename)  # no custom_objects needed
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)


def test_file_round_trip_covers_every_family_and_precision():
    kinds = {(zoo.get_model_spec(n).family, zoo.get_model_spec(n).binary) for n in ALL_MODELS}
    covered = {(zoo.get_model_spec(n).family, zoo.get_model_spec(n).binary)
               for n in FILE_ROUND_TRIP}  # fmt: skip
    assert covered == kinds


def test_input_tensor_is_used_as_the_model_input():
    inputs = tf.keras.Input((40, 40, 1), name="my_input")
    model = zoo.BinaryResNetE18(input_tensor=inputs, num_classes=3)
    assert model.inputs[0] is inputs
    assert model.output_shape == (None, 3)


def test_logits_head():
    model = zoo.BinaryResNetE18(input_shape=(32, 32, 3), num_classes=5, classifier_activation=None)
    assert model.layers[-1].name == "head_dense"


@pytest.mark.parametrize(
    "kwargs, exception, message",
    [
        ({"input_shape": (32, 32)}, ValueError, r"\(height, width, channels\)"),
        ({"input_shape": (0, 32, 3)}, ValueError, "positive ints"),
        ({"input_shape": "224,224,3"}, ValueError, "input_shape"),
        ({"input_shape": (4, 4, 3)}, ValueError, "at least 8×8"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"include_top": "yes"}, ValueError, "include_top"),
        ({"classifier_activation": "sigmoid"}, ValueError, "classifier_activation"),
        ({"weights": 3}, ValueError, "Expected weights"),
        ({"weights": "/nonexistent/w.h5"}, FileNotFoundError, "/nonexistent/w.h5"),
        ({"weights": "imagenet", "num_classes": 10}, ValueError, "num_classes=1000"),
        ({"weights": "imagenet", "input_shape": (32, 32, 3)}, ValueError, "at least 50×50"),
        ({"weights": "https://example.org/w.h5"}, ValueError, "#sha256="),
        ({"weights": "http://example.org/w.h5#sha256=" + "0" * 64}, ValueError, "https"),
    ],
)
def test_bad_arguments_fail_before_any_layer_is_built(kwargs, exception, message, monkeypatch):
    built = []
    monkeypatch.setattr(tf.keras.layers.Layer, "__call__", lambda *a, **k: built.append(a))
    with pytest.raises(exception, match=message):
        zoo.BinaryDenseNet28(**kwargs)
    assert built == []


def test_imagenet_weights_of_a_model_without_them_are_refused():
    with pytest.raises(ValueError, match="No ImageNet weights are published for wu_bnn13"):
        zoo.WuBNN13(weights="imagenet")
    with pytest.raises(ValueError, match="larq_zoo_name to be one of"):
        zoo.BinaryResNetE(larq_zoo_name="ResNet18")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layers_per_stage": (6, 6), "reduction": (2, 2)}, "1 reduction rates"),
        ({"layers_per_stage": (6, 0), "reduction": (2,)}, "positive ints"),
        ({"layers_per_stage": (2, 2), "reduction": (0.5,)}, "reduction rate >= 1"),
        ({"layers_per_stage": (2, 2), "reduction": (2,), "growth_rate": 0}, "growth_rate"),
        ({"layers_per_stage": (2, 2), "reduction": (2,), "downsampling": "ternary"}, "one of"),
    ],
)
def test_binary_densenet_rejects_inconsistent_architectures(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.BinaryDenseNet(input_shape=(32, 32, 3), **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"blocks_per_stage": (2, 2), "filters": (8,)}, "same length"),
        ({"blocks_per_stage": (2, 0), "filters": (8, 16)}, "blocks_per_stage"),
        ({"blocks_per_stage": (2, 2), "filters": (8, 16.0)}, "filters"),
    ],
)
def test_resnet_e_rejects_inconsistent_architectures(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.BinaryResNetE(input_shape=(32, 32, 3), **kwargs)


def test_downsampling_switch_changes_only_the_transitions():
    common = dict(layers_per_stage=(2, 2, 2), reduction=(1, 1.4), input_shape=(32, 32, 3))
    fp = zoo.BinaryDenseNet(downsampling="full_precision", **common)
    binary = zoo.BinaryDenseNet(downsampling="binary", **common)
    assert fp.count_params() == binary.count_params()
    for stage in (2, 3):
        assert not analysis.is_binary(fp.get_layer(f"stage{stage}_transition_conv"))
        assert analysis.is_binary(binary.get_layer(f"stage{stage}_transition_conv"))
    assert analysis.count_model(binary).size_mb < analysis.count_model(fp).size_mb
    assert binary.get_layer("stage2_transition_conv").kernel.shape[-1] == 64 + 2 * 64  # r = 1


def test_growth_rate_and_blocks_switch():
    model = zoo.BinaryDenseNet(
        layers_per_stage=(2, 2), reduction=(2,), growth_rate=32, input_shape=(32, 32, 3)
    )
    assert model.get_layer("stage1_layer1_conv").filters == 32
    assert model.get_layer("final_relu").output_shape[-1] == (64 + 2 * 32) // 2 // 32 * 32 + 64


# Bethge et al. 2019, Table 2: ResNetE18 model sizes with full-precision or binary downsampling
# (4.0 MB, full precision at 224×224, is checked with the published counts above).
@pytest.mark.parametrize(
    "shape, classes, downsampling, size_mb",
    [
        ((32, 32, 3), 10, "binary", 1.39),
        ((32, 32, 3), 10, "full_precision", 2.03),
        ((224, 224, 3), 1000, "binary", 3.36),
    ],
)
def test_resnet_e18_sizes_of_bethge_table_2(shape, classes, downsampling, size_mb):
    model = zoo.BinaryResNetE18(input_shape=shape, num_classes=classes, downsampling=downsampling)
    assert round(analysis.count_model(model).size_mb, 2) == pytest.approx(size_mb, abs=0.005)


def test_scaling_ablation_adds_no_parameters():
    plain = zoo.BinaryResNetE18(input_shape=(32, 32, 3), num_classes=10)
    scaled = zoo.BinaryResNetE18(input_shape=(32, 32, 3), num_classes=10, scaling=True)
    assert scaled.count_params() == plain.count_params()
    assert sum(isinstance(layer, type(scaled.get_layer("stage1_block1_conv_scaling")))
               for layer in scaled.layers) == 16  # fmt: skip


def test_scaled_model_round_trips_through_plain_load_model(tmp_path, rng):
    model = zoo.BinaryDenseNet(
        layers_per_stage=(1, 1), reduction=(2,), scaling=True, input_shape=(16, 16, 3),
        num_classes=3,
    )  # fmt: skip
    x = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    model.save(tmp_path / "scaled.keras")
    loaded = tf.keras.models.load_model(tmp_path / "scaled.keras")
    assert any(type(layer).__name__ == "XnorScaling" for layer in loaded.layers)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)

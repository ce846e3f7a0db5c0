"""One table-driven test over every registered model, at a small input; the published figures at
the published input."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import analysis, zoo
from bnnzoo.converters.verify import keras_outputs

# larq-zoo's own models (their layers, names and minimum inputs are larq-zoo's): test_larq_zoo.py
ALL_MODELS = [n for n in zoo.list_models() if zoo.get_model_spec(n).family != "larq_zoo"]
# The full-precision CIFAR BitNets of Zhang et al.'s tables are built, every one, by the
# reproduction of those tables (tests/reproduce/test_bitnet.py, which checks their parameter
# counts); here one stands for them (test_every_float_cifar_bitnet_is_a_reproduced_row).
FLOAT_CIFAR_BITNETS = [n for n in zoo.list_models("bitnet_cifar_*") if not n.endswith("_binary")]
# Their binary twins come from the same registration loop and builder with binary BitBlocks: the
# first of Table 2 and the extremes of the tree's shape stand for the 23 (k = 6 at d = 4 and
# d = 12, n = 1 and n = 6), each built here at ~3-7 s.
BINARY_CIFAR_BITNETS = [n for n in zoo.list_models("bitnet_cifar_*") if n.endswith("_binary")]
BINARY_CIFAR_SAMPLE = [
    f"bitnet_cifar_d{d}_k{k}_n{n}_binary"
    for d, k, n in ((4, 3, 4), (4, 6, 2), (12, 6, 2), (10, 4, 1), (4, 2, 6))
]
BUILT = [n for n in ALL_MODELS if n not in FLOAT_CIFAR_BITNETS[1:]
         and (n not in BINARY_CIFAR_BITNETS or n in BINARY_CIFAR_SAMPLE)]  # fmt: skip
SMALL = (32, 32, 3)  # every family builds at 32 px, with the 3×3 stride-1 small-input stem

# One model of every family goes through plain Keras training, real files and pooled features.
# Its cost grows with the layers (compiling the train step, the .keras and .h5 round trips: 24 s
# for BinaryDenseNet28's 90 layers on two cores) and, for .keras files, with the weights:
# tf-keras reads them from the zip archive slowly (17 s for WuAlexNet's 24.8 M parameters). So
# each family comes from its builder with the fewest blocks that still have every kind of layer
# and join it uses (a dense block of two layers, one block per stage with a downsampling
# shortcut), binary where the family has a float variant too (whose layers are Keras' own): the
# layer classes and their configs are what a round trip checks, not the depth.
FAMILY_SAMPLES = {
    "binary_densenet": (zoo.BinaryDenseNet, {"layers_per_stage": (2, 2), "reduction": (2,),
                                             "growth_rate": 16}),
    "resnet_e": (zoo.BinaryResNetE, {"blocks_per_stage": (1, 1), "filters": (16, 32)}),
    "bitnet": ("bitnet_cifar_d4_k1_n2_binary", {}),
    "wide_resnet": (zoo.WideResNetCifar, {"d": 1, "n": 1, "precision": "binary"}),
    "wu": ("wu_alexnet", {"dense_units": (256, 256)}),  # 4096 units: 25 M weights, slow to load
    "bireal": (zoo.BiRealResNet, {"blocks": (1, 1), "widths": (16, 32)}),
    "dwr": ("dwr_resnet20_s3", {}),  # one block per stage and the alignment conv
    "igp": (zoo.IGPResNet, {"width": 8, "columns": 2, "blocks": (1, 1)}),
    # a block that keeps its width and one that doubles it (two 1x1 convs, concatenated)
    "reactnet": (zoo.ReActNetA, {"stem_width": 8, "widths": (8, 16)}),
}  # fmt: skip


def _sample(family: str, **kwargs) -> tf.keras.Model:
    model, preset_kwargs = FAMILY_SAMPLES[family]
    if callable(model):
        return model(**preset_kwargs, **kwargs)
    return zoo.create_model(model, **preset_kwargs, **kwargs)


def test_every_float_cifar_bitnet_is_a_reproduced_row():
    from bnnzoo.reproduce.bitnet import PAPER_ROWS
    from bnnzoo.zoo import bitnet

    reproduced = {f"bitnet_cifar_d{d}_k{k}_n{n}" for r in PAPER_ROWS if r.model == "bitnet_cifar"
                  for d, k, n in [r.config]}  # fmt: skip
    assert len(FLOAT_CIFAR_BITNETS) == len(bitnet.CIFAR_BITNET_CONFIGS) == 23
    assert set(FLOAT_CIFAR_BITNETS) <= reproduced
    assert FLOAT_CIFAR_BITNETS[0] in BUILT
    assert len(BINARY_CIFAR_BITNETS) == 23 and set(BINARY_CIFAR_SAMPLE) <= set(BUILT)
    assert [n.removesuffix("_binary") for n in BINARY_CIFAR_BITNETS] == FLOAT_CIFAR_BITNETS
    assert all(zoo.get_model_spec(n).binary for n in BINARY_CIFAR_BITNETS)


@pytest.mark.parametrize("name", BUILT)
def test_every_model(name):
    """Built at 32×32×3 (the CIFAR presets at their defaults, which are that, with 10 classes;
    the ImageNet models with 3 classes): the small-input stem, binary work where the model is
    binary. (Without the top: one model per family, test_pooling_of_the_features.) Shapes and
    counts only: no random weights (what the samples' initializers give is trained below)."""
    spec = zoo.get_model_spec(name)
    cifar = spec.input_shape == SMALL
    kwargs = {} if cifar else {"input_shape": SMALL, "num_classes": 3}
    with analysis.shapes_only():
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
    assert "head_dense" in {layer.name for layer in model.layers}


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
    with analysis.shapes_only():
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
    with analysis.shapes_only():
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


def _run(model, x):
    return model(x, training=False).numpy()  # no predict(): it traces a function per model


@pytest.mark.parametrize("family", FAMILY_SAMPLES)
def test_plain_keras_compile_fit_save_and_load(family, tmp_path, rng):
    """What a Keras user does with any model: compile, fit, save, load (no custom_objects),
    the optimizer's state included."""
    model = _sample(family, input_shape=(16, 16, 3), num_classes=10)
    x = rng.normal(size=(8, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 10, size=8)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert sum(changed) > len(changed) // 2, "fit changed fewer than half of the variables"
    assert int(model.optimizer.iterations) == 2

    expected = _run(model, x)
    for filename in ("model.keras", "model.h5"):
        model.save(tmp_path / filename)
        loaded = tf.keras.models.load_model(tmp_path / filename)  # no custom_objects needed
        np.testing.assert_allclose(_run(loaded, x), expected, atol=1e-6)
        # training goes on where it stopped: step count and Adam's moments are in the file
        assert int(loaded.optimizer.iterations) == 2
        # (in order: slot names carry the uniquified names of the loaded model's variables)
        saved, restored = model.optimizer.variables, loaded.optimizer.variables
        assert len(restored) == len(saved) > 2
        for a, b in zip(saved, restored):
            np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.name)


@pytest.mark.parametrize("family", FAMILY_SAMPLES)
def test_pooling_of_the_features(family, rng):
    """Keras applications' ``pooling`` with include_top=False: None keeps the feature map,
    "avg"/"max" reduce it over height and width (no weights of their own)."""
    shape = (16, 16, 3)
    features = _sample(family, input_shape=shape, include_top=False)
    assert len(features.output_shape) == 4  # the feature map, as in Keras applications
    top = {"flatten", "head_pool", "head_bn", "head_dense", "head_softmax", "head_scaling"}
    assert not {layer.name for layer in features.layers} & top
    x = rng.normal(size=(2, *shape)).astype("float32")
    feature_map = _run(features, x)
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        pooled = _sample(family, input_shape=shape, include_top=False, pooling=pooling)
        assert pooled.output_shape == (None, features.output_shape[-1])
        assert pooled.layers[-1].name == f"{pooling}_pool"
        pooled.set_weights(features.get_weights())
        np.testing.assert_allclose(
            _run(pooled, x), reduce(feature_map, axis=(1, 2)), rtol=1e-5, atol=1e-5
        )


def test_the_samples_cover_every_family():
    """One model of each family (larq_zoo's models: test_larq_zoo.py), of that family."""
    assert set(FAMILY_SAMPLES) == {zoo.get_model_spec(n).family for n in ALL_MODELS}
    for family, (model, _) in FAMILY_SAMPLES.items():
        if not callable(model):
            assert zoo.get_model_spec(model).family == family


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
        ({"pooling": "mean", "include_top": False}, ValueError, "'avg', 'max'"),
        ({"pooling": "avg"}, ValueError, "include_top=False"),
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


# Table 2's model sizes: tests/reproduce/test_binarydensenet.py (`bnnzoo reproduce binarydensenet`)
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
    np.testing.assert_allclose(keras_outputs(loaded, x), keras_outputs(model, x), atol=1e-6)

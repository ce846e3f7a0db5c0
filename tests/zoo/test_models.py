"""One table-driven test over every registered model."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import analysis, zoo

ALL_MODELS = zoo.list_models()


# Writing and reading files is the slow part (seconds per model, tens of MB for the big
# presets); serialization is a property of the layers, so the smallest model of every family
# and precision goes through real files, every model through an in-memory config round trip.
FILE_ROUND_TRIP = [
    "binary_densenet28",
    "binary_resnet_e18",
    "bitnet_cifar_d4_k1_n2",
    "bitnet_cifar_d4_k1_n2_binary",
    "wide_resnet_cifar_d4_k2_n6",
    "wide_resnet_cifar_d4_k2_n6_binary",
    "wu_alexnet",
    "wu_bnn13",
]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_model(name, rng):
    """ImageNet shape with the published parameter count; the small-input stem with a config
    round trip that needs no custom_objects; the no-top variant without the classifier."""
    spec = zoo.get_model_spec(name)
    model = zoo.create_model(name)
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    if spec.published_params is not None:
        assert model.count_params() == spec.published_params
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size[0] >= 7 and stem.strides[0] >= 2  # not the small-input stem
    counts = analysis.count_model(model)
    if spec.binary:
        assert counts.binary_macs > 5 * counts.float_macs  # the bulk of the work is binary
    else:
        assert counts.binary_macs == 0  # a paper's full-precision network
    del model

    small = zoo.create_model(name, input_shape=(32, 32, 3), num_classes=10)
    assert small.output_shape == (None, 10)
    stem = small.get_layer("stem_conv")
    assert stem.kernel_size == (3, 3) and stem.strides == (1, 1)
    assert not any(layer.name == "stem_pool" for layer in small.layers)
    clone = tf.keras.models.model_from_json(small.to_json())
    clone.set_weights(small.get_weights())
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(clone(x).numpy(), small(x).numpy(), atol=1e-6)

    no_top = zoo.create_model(name, input_shape=(32, 32, 3), include_top=False)
    assert no_top.output_shape != small.output_shape
    assert "head_dense" in {layer.name for layer in small.layers}
    assert not {layer.name for layer in no_top.layers} & {"head_dense", "head_softmax"}
    assert len(no_top.layers) < len(small.layers)


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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layers_per_stage": (6, 6), "reduction": (2, 2)}, "1 reduction rates"),
        ({"layers_per_stage": (6, 0), "reduction": (2,)}, "positive ints"),
        ({"layers_per_stage": (2, 2), "reduction": (0.5,)}, "reduction rate >= 1"),
        ({"layers_per_stage": (2, 2), "reduction": (2,), "downsampling": "ternary"}, "one of"),
    ],
)
def test_binary_densenet_rejects_inconsistent_architectures(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.BinaryDenseNet(input_shape=(32, 32, 3), **kwargs)


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


def test_dilated_model_keeps_resolution_after_stage_two():
    model = zoo.BinaryDenseNet37Dilated(input_shape=(224, 224, 3))
    assert model.get_layer("stage4_layer1_conv").dilation_rate == (4, 4)
    assert model.get_layer("final_relu").output_shape[1:3] == (28, 28)


# Paper 003 Table 2: ResNetE18 model sizes with full-precision or binary downsampling.
@pytest.mark.parametrize(
    "shape, classes, downsampling, size_mb",
    [
        ((32, 32, 3), 10, "binary", 1.39),
        ((32, 32, 3), 10, "full_precision", 2.03),
        ((224, 224, 3), 1000, "binary", 3.36),
        ((224, 224, 3), 1000, "full_precision", 4.0),
    ],
)
def test_resnet_e18_sizes_of_paper_003_table_2(shape, classes, downsampling, size_mb):
    model = zoo.BinaryResNetE18(input_shape=shape, num_classes=classes, downsampling=downsampling)
    assert round(analysis.count_model(model).size_mb, 2) == pytest.approx(size_mb, abs=0.005)


# Paper 003 Table 6 prints the sizes with one decimal: ~4.0, ~5.1 and 7.4 MB.
@pytest.mark.parametrize(
    "name, size_mb",
    [("binary_densenet28", 4.0), ("binary_densenet37", 5.1), ("binary_densenet45", 7.4)],
)
def test_binary_densenet_sizes_of_paper_003_table_6(name, size_mb):
    size = analysis.count_model(zoo.create_model(name)).size_mb
    assert size == pytest.approx(size_mb, abs=0.06)


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

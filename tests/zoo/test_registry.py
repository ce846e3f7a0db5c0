import pytest

from bnnzoo import zoo
from bnnzoo.zoo import registry


def test_list_models_filters_by_pattern():
    assert zoo.list_models("*densenet*") == [
        "binary_densenet28",
        "binary_densenet37",
        "binary_densenet37_dilated",
        "binary_densenet45",
    ]
    assert zoo.list_models("binary_resnet_e18") == ["binary_resnet_e18"]
    assert zoo.list_models("no_such_*") == []


def test_create_model_drops_none_kwargs():
    model = zoo.create_model(
        "binary_resnet_e18", input_shape=(32, 32, 3), num_classes=None, weights=None
    )
    assert model.output_shape == (None, 1000)  # the factory's default, not None
    assert model.layers[-1].name == "head_softmax"
    # classifier_activation=None is a value: logits, as in Keras applications
    logits = zoo.create_model("binary_resnet_e18", input_shape=(32, 32, 3), num_classes=10,
                              classifier_activation=None)  # fmt: skip
    assert logits.layers[-1].name == "head_dense"


def test_training_gets_logits_from_registered_models_and_builders():
    from bnnzoo.training import loop, recipes

    for recipe in ("wu_bnn13_imagenet_quick", "resnet_e18_imagenet_quick"):
        config = recipes.resolve(recipe)
        model = loop.build_model(config, input_shape=(32, 32, 1), num_classes=10)
        activation = getattr(model.layers[-1], "activation", None)
        assert activation is None or activation.__name__ == "linear", (recipe, model.layers[-1])


def test_unknown_name_lists_the_nearest_registered_names():
    with pytest.raises(ValueError) as info:
        zoo.create_model("binary_densenet_28")
    message = str(info.value)
    assert "Unknown model 'binary_densenet_28'" in message
    assert message.index("binary_densenet28") < message.index("binary_resnet_e18")


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("binary_densenet28", family="x", paper="y")(lambda **kw: None)


def test_factories_are_keyword_only():
    with pytest.raises(TypeError):
        zoo.BinaryDenseNet28((224, 224, 3))

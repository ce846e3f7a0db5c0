import pytest

from bnnzoo import zoo
from bnnzoo.zoo import registry
from bnnzoo.zoo.papers import BETHGE_2019, WU_2016, ZHANG_2017, Paper

# the models of Bethge et al. 2019 (BinaryDenseNet), with their published ImageNet weights
BETHGE = [
    "binary_densenet28",
    "binary_densenet37",
    "binary_densenet37_dilated",
    "binary_densenet45",
    "binary_resnet_e18",
]
# "halve the growth rate, double the blocks": the baselines of Zhu et al. 2022 (IGP)
DENSENETS = sorted([*BETHGE[:4], "binary_densenet51", "binary_densenet69"])
CIFAR_FAMILIES = ("bitnet", "wide_resnet", "dwr")


def test_list_models_filters_by_pattern():
    assert zoo.list_models("binary_densenet*") == DENSENETS
    assert zoo.list_models("*densenet*") == sorted([*DENSENETS, "igp_densenet51", "igp_densenet69"])
    assert zoo.list_models("binary_resnet_e18") == ["binary_resnet_e18"]
    assert zoo.list_models("no_such_*") == []


def test_list_models_filters_by_family_and_paper():
    assert zoo.list_models(family="binary_densenet") == DENSENETS
    assert zoo.list_models(family="wu") == ["wu_alexnet", "wu_bnn13"]
    for text in ("bethge2019", "Bethge, Yang", "binarydensenet: developing"):
        assert zoo.list_models(paper=text) == sorted([*DENSENETS, "binary_resnet_e18"])
    assert zoo.list_models(paper="Bethge") == sorted(  # and MeliusNet, Bethge et al. 2020
        [*DENSENETS, "binary_resnet_e18", "meliusnet22"]
    )
    assert zoo.list_models(paper="IGP") == zoo.list_models(family="igp")
    assert zoo.list_models(paper="xue2023") == zoo.list_models(family="dwr")
    zhang = zoo.list_models(paper="BitNet")  # the paper's nickname
    assert (
        zhang
        == zoo.list_models(paper="zhang2017")
        == sorted(zoo.list_models(family="bitnet") + zoo.list_models(family="wide_resnet"))
    )
    assert zoo.list_models("*_binary", family="bitnet", paper="Zhang") == [
        n for n in zoo.list_models(family="bitnet") if n.endswith("_binary")
    ]
    assert zoo.list_models("bitnet*", family="wu") == []


def test_unknown_family_or_paper_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        zoo.list_models(family="densenet")
    assert "Unknown family 'densenet'" in str(info.value)
    families = ", ".join(zoo.list_families())  # every family, in order
    assert families.startswith("binary_densenet, bireal") and "reactnet" in families
    assert f"Expected one of: {families}." in str(info.value)
    with pytest.raises(ValueError) as info:
        zoo.list_models(paper="Hinton")
    for paper in (BETHGE_2019, WU_2016, ZHANG_2017):
        assert f"{paper.key} ({paper})" in str(info.value)


def test_families_partition_the_registry():
    families = zoo.list_families()
    assert list(families) == [
        "binary_densenet",
        "bireal",
        "bitnet",
        "dwr",
        "igp",
        "larq_zoo",
        "reactnet",
        "resnet_e",
        "wide_resnet",
        "wu",
    ]
    names = [name for family in families.values() for name in family]
    assert sorted(names) == zoo.list_models() and len(names) == 95
    assert families["bitnet"][:3] == ["bitnet26", "bitnet34", "bitnet_cifar_d4_k3_n4"]
    assert [len(families[f]) for f in ("bitnet", "wide_resnet")] == [50, 8]


def test_every_model_carries_its_defaults_paper_and_sources():
    for name in zoo.list_models():
        spec = zoo.get_model_spec(name)
        assert isinstance(spec.paper, Paper)
        cifar = (
            spec.family in CIFAR_FAMILIES
            and "imagenet" not in name
            and (spec.family == "dwr" or "cifar" in name)
        )
        assert (spec.input_shape, spec.num_classes) == (
            ((32, 32, 3), 10) if cifar else ((224, 224, 3), 1000)
        ), name
        published = name in BETHGE or name == "bireal_resnet18" or spec.family == "larq_zoo"
        assert set(spec.pretrained) == ({"imagenet"} if published else set()), name
        if spec.pretrained:
            assert spec.published_params is not None
            assert spec.pretrained["imagenet"].top.url.endswith("_weights.h5")
            assert spec.pretrained["imagenet"].no_top.url.endswith("_weights_notop.h5")


def test_paper_citation():
    assert str(ZHANG_2017) == (
        'Zhang, Ozay, Li, Okatani 2017, "Truncating Wide Networks using Binary Tree Architectures"'
    )
    assert (WU_2016.key, WU_2016.short) == ("wu2016", "Wu et al. 2016")


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})


def test_registered_defaults_apply_to_the_function_and_to_create_model(empty_registry):
    @registry.register_model("fake", family="f", paper=WU_2016, input_shape=(8, 8, 1),
                             num_classes=7)  # fmt: skip
    def fake(**kwargs):
        return kwargs

    assert fake() == {"input_shape": (8, 8, 1), "num_classes": 7}
    assert zoo.create_model("fake") == fake() == registry.get_model_spec("fake").factory()
    assert fake(input_shape=(4, 4, 1), num_classes=None) == {
        "input_shape": (4, 4, 1),
        "num_classes": 7,
    }
    tensor = object()
    assert fake(input_tensor=tensor) == {"input_tensor": tensor, "num_classes": 7}
    assert fake.__name__ == "fake" and fake.__wrapped__.__name__ == "fake"
    spec = registry.get_model_spec("fake")
    assert (spec.input_shape, spec.num_classes, dict(spec.pretrained)) == ((8, 8, 1), 7, {})


def test_create_model_drops_none_kwargs():
    model = zoo.create_model(
        "binary_resnet_e18", input_shape=(32, 32, 3), num_classes=None, weights=None
    )
    assert model.output_shape == (None, 1000)  # the registered default, not None
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
    nearest = message.split("Nearest registered names: ")[1].split(".")[0].split(", ")
    assert nearest[0] == "binary_densenet28" and all("densenet" in n for n in nearest)


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("binary_densenet28", family="x", paper=WU_2016)


def test_a_paper_must_be_a_paper(empty_registry):
    with pytest.raises(ValueError, match="Expected paper to be a bnnzoo.zoo.papers.Paper"):
        registry.register_model("fake", family="x", paper="Wu et al. 2016")


def test_factories_are_keyword_only():
    with pytest.raises(TypeError):
        zoo.BinaryDenseNet28((224, 224, 3))

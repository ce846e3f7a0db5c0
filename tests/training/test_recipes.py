import pytest

from bnnzoo.training import recipes


def test_every_recipe_has_a_quick_variant_and_resolves():
    names = recipes.list_recipes()
    for name in names:
        config = recipes.resolve(name)
        assert config["recipe"] == name
        if not name.endswith("_quick"):
            assert f"{name}_quick" in names


def test_paper_000_values():
    config = recipes.resolve("bitnet_cifar")
    assert config["optimizer"]["name"] == "sgd" and config["optimizer"]["momentum"] == 0.9
    assert config["optimizer"]["lr"] == 0.1 and config["optimizer"]["weight_decay"] == 5e-4
    assert config["schedule"]["milestones"] == [60, 120, 180] and config["schedule"]["gamma"] == 0.2
    assert (config["epochs"], config["batch_size"], config["augment"]) == (200, 128, "cifar")


def test_paper_003_values():
    bdn = recipes.resolve("binary_densenet_imagenet")
    assert bdn["optimizer"] == {**recipes.defaults()["optimizer"], "name": "adam", "lr": 1e-3}
    assert bdn["schedule"]["milestones"] == [100, 110] and bdn["schedule"]["gamma"] == 0.1
    assert bdn["epochs"] == 120 and bdn["clip_value"] == 1.3
    assert recipes.resolve("resnet_e18_imagenet")["clip_value"] == 1.25


def test_overrides_and_fields():
    config = recipes.resolve(
        "resnet_e18_imagenet_quick",
        ["optimizer.lr=0.002", "schedule.milestones=[3, 5]", "model_kwargs.filters=[8, 16]"],
        epochs=7,
        dataset=None,
    )
    assert config["optimizer"]["lr"] == 0.002
    assert config["schedule"]["milestones"] == [3, 5]
    assert config["model_kwargs"]["filters"] == [8, 16]
    assert config["epochs"] == 7 and config["dataset"] == "digits"  # None fields are ignored


def test_model_kwargs_can_be_replaced_whole_and_another_model_drops_them():
    config = recipes.resolve("resnet_e18_imagenet_quick", ['model_kwargs={"filters": [8, 16]}'])
    assert config["model_kwargs"] == {"filters": [8, 16]}
    other = recipes.resolve("resnet_e18_imagenet_quick", model="binary_densenet28")
    assert other["model_kwargs"] == {}
    with pytest.raises(ValueError, match="expects a mapping"):
        recipes.resolve("resnet_e18_imagenet_quick", ["model_kwargs=3"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.lrr=1", "unknown key 'optimizer.lrr'. Valid keys here: optimizer.bop_gamma"),
        ("nope=1", "unknown key 'nope'"),
        ("optimizer=1", "names a group"),
        ("optimizer.lr=fast", "expects a number"),
        ("xla=3", "expects true or false"),
        ("optimizer.lr", "Expected --set KEY=VALUE"),
    ],
)
def test_bad_overrides_are_refused(override, message):
    with pytest.raises(ValueError, match=message):
        recipes.resolve("resnet_e18_imagenet_quick", [override])


def test_unknown_recipe_suggests_names():
    with pytest.raises(ValueError, match="Nearest: resnet_e18_imagenet"):
        recipes.resolve("resnet_e18_imagenett")


@pytest.mark.parametrize("name", [n for n in recipes.list_recipes() if n.endswith("_quick")])
def test_every_quick_recipe_trains_on_real_data(name, tmp_path):
    from bnnzoo.training import train

    config = recipes.resolve(name, ["max_train_examples=128", "max_test_examples=64"], epochs=1)
    config["distillation"]["teacher"] = None
    result = train(config, tmp_path, verbose=0)
    assert 0.0 <= result.test_accuracy <= 1.0
    assert (tmp_path / "model.keras").is_file()
    assert result.model.output_shape[-1] == 10  # digits


def test_null_resets_keys_whose_default_is_none_only():
    config = recipes.resolve("wu_bnn13_imagenet", ["clip_value=null", "max_train_examples=None"])
    assert config["clip_value"] is None and config["max_train_examples"] is None
    with pytest.raises(ValueError, match="optimizer.lr expects a number"):
        recipes.resolve("wu_bnn13_imagenet", ["optimizer.lr=null"])

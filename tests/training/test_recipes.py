import json

import pytest

from bnnzoo.training import recipes, train
from bnnzoo.training.rundir import RunDir


def test_every_recipe_resolves_with_its_quick_variant():
    names = recipes.list_recipes()
    assert len(names) == 12 and not any(name.endswith("_quick") for name in names)
    for name in names:
        assert recipes.resolve(name)["recipe"] == name
        quick = recipes.resolve(name, quick=True)
        assert quick == recipes.resolve(f"{name}_quick")  # the name works as the CLI's --recipe
        assert quick["recipe"] == f"{name}_quick"
        assert (quick["dataset"], quick["epochs"], quick["precision"]) == ("digits", 2, "float32")
        assert f"{name}_quick" in recipes.describe(name)
        assert recipes.describe(f"{name}_quick").startswith(f"{name} shrunk")


def test_quick_variants_shrink_the_model_as_each_recipe_declares():
    bdn = recipes.resolve("binary_densenet_imagenet", quick=True)
    assert bdn["model"] == "binary_densenet" and bdn["model_kwargs"]["layers_per_stage"] == [2, 2]
    assert bdn["schedule"] == {**recipes.defaults()["schedule"], "name": "multistep",
                               "milestones": [1], "gamma": 0.1}  # fmt: skip
    assert bdn["clip_value"] == 1.3  # what the quick variant does not shrink is the recipe's
    wu = recipes.resolve("wu_bnn13_imagenet_quick")
    assert (wu["model"], wu["input_size"], wu["model_kwargs"]) == ("wu_bnn13", 16, {})
    assert wu["distillation"]["soft_epochs"] == 1 and wu["distillation"]["temperature"] == 4.0
    bitnet = recipes.resolve("bitnet_cifar", quick=True)
    assert bitnet["model_kwargs"] == {"d": 1, "k": 2, "n": 1}
    # fields and overrides come after the quick variant
    mine = recipes.resolve("dwr_cifar", ["optimizer.lr=0.5"], quick=True, epochs=5)
    assert (mine["epochs"], mine["optimizer"]["lr"], mine["max_train_examples"]) == (5, 0.5, 512)


def test_quick_names_are_reserved():
    with pytest.raises(ValueError, match="reserved for quick variants"):
        recipes.recipe("mine_quick")(lambda: {})


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


# one batch of 32 digits seen in each of three epochs at the recipe's own rate: each epoch's
# training loss is the loss on that batch, which two optimizer steps must lower
SWEEP = ["max_train_examples=32", "max_test_examples=32", "schedule.milestones=[]"]


def _quick_sweep_config(name: str) -> dict:
    return recipes.resolve(name, SWEEP, quick=True, epochs=3)


def _same_run(config: dict) -> str:
    """What `train` trains: the whole configuration but the recipe's name (only written down)."""
    return json.dumps({key: value for key, value in config.items() if key != "recipe"},
                      sort_keys=True)  # fmt: skip


def _recipes_by_run() -> list[list[str]]:
    """The recipes grouped by the run their quick variant trains (quickstart and
    resnet_e_fashion_mnist(_deep) shrink to the same ResNetE run, the two ReActNet recipes to
    the same ReActNet run): training is deterministic, so one run proves each of a group."""
    groups: dict[str, list[str]] = {}
    for name in recipes.list_recipes():
        groups.setdefault(_same_run(_quick_sweep_config(name)), []).append(name)
    return list(groups.values())


def test_the_sweep_covers_every_recipe_once():
    groups = _recipes_by_run()
    assert sorted(n for group in groups for n in group) == sorted(recipes.list_recipes())
    assert len(groups) < len(recipes.list_recipes())  # else the grouping has nothing to share


@pytest.mark.parametrize("names", _recipes_by_run(), ids="-".join)
def test_every_quick_recipe_trains_on_real_data(names, tmp_path):
    config = _quick_sweep_config(names[0])
    for other in names[1:]:  # the same run, by the configuration train() receives
        assert _same_run(_quick_sweep_config(other)) == _same_run(config)
    result = train(config, tmp_path, verbose=0)
    rows = RunDir(tmp_path).read_metrics()
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert 0.0 <= result.test_accuracy <= 1.0
    assert (tmp_path / "model.keras").is_file()
    assert result.model.output_shape[-1] == 10  # digits


def test_null_resets_keys_whose_default_is_none_only():
    config = recipes.resolve("wu_bnn13_imagenet", ["clip_value=null", "max_train_examples=None"])
    assert config["clip_value"] is None and config["max_train_examples"] is None
    with pytest.raises(ValueError, match="optimizer.lr expects a number"):
        recipes.resolve("wu_bnn13_imagenet", ["optimizer.lr=null"])

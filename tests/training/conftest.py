import pytest

QUICK = "resnet_e18_imagenet_quick"


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """One float32 run of the quick ResNetE18 recipe at lr 0.01 for two epochs: its folder and
    what ``train`` returned. Three tests train exactly this run: test_loop.py checks what it
    writes, test_precision.py compares a mixed_bfloat16 run with it and test_distillation.py
    distills from it. They are in the xdist group "quick_run", so one worker trains it once; a
    test that changes the run works on a copy."""
    from bnnzoo.training import recipes, train

    out = tmp_path_factory.mktemp("quick_run") / "run"
    result = train(recipes.resolve(QUICK, ["optimizer.lr=0.01"], epochs=2), out, verbose=0,
                   command="test")  # fmt: skip
    return out, result

import larq as lq
import pytest
import tensorflow as tf

from bnnzoo.training import recipes
from bnnzoo.training.optimizers import (
    WarmupSchedule,
    current_lr,
    make_optimizer,
    make_schedule,
)


def _rates(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_multistep_and_cosine_schedules():
    multistep = {"name": "multistep", "milestones": [2, 1], "gamma": 0.5}
    # the optimizer's step counter is the number of steps taken: step 11 is in epoch 2
    rates = _rates(make_schedule(0.8, multistep, steps_per_epoch=10), (0, 10, 11, 20, 21, 99))
    assert rates == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2, 0.2])  # milestones sorted
    cosine = make_schedule(0.8, {"name": "cosine"}, steps_per_epoch=10, total_steps=40)
    assert _rates(cosine, (0, 20, 40)) == pytest.approx([0.8, 0.4, 0.0], abs=1e-6)
    assert make_schedule(0.8, {"name": "constant"}, 10) == 0.8
    assert make_schedule(0.8, {"name": "multistep", "milestones": [], "gamma": 0.1}, 10) == 0.8


def test_warmup_ramps_any_schedule_including_a_constant_rate():
    for sched in ({"name": "constant"}, {"name": "cosine"}):
        schedule = make_schedule(0.1, {**sched, "warmup_epochs": 1}, 10, total_steps=1000)
        assert isinstance(schedule, WarmupSchedule)
        assert _rates(schedule, (0, 4, 9)) == pytest.approx([0.01, 0.05, 0.1], rel=1e-2)


def test_optimizers_of_a_config_and_their_current_rate():
    adam = make_optimizer(recipes.resolve("resnet_e18_imagenet_quick"), steps_per_epoch=16)
    assert isinstance(adam, tf.keras.optimizers.Adam) and current_lr(adam) == pytest.approx(1e-3)
    sgd = make_optimizer(recipes.resolve("bitnet_cifar_quick"), steps_per_epoch=16)
    assert isinstance(sgd, tf.keras.optimizers.SGD) and float(sgd.momentum) == 0.9
    variable = tf.Variable(1.0)
    for _ in range(32):  # two epochs: after the quick variant's milestone, ×0.2
        sgd.apply_gradients([(tf.constant(0.0), variable)])
    assert current_lr(sgd) == pytest.approx(0.1 * 0.2)
    bop = make_optimizer(
        recipes.resolve("resnet_e18_imagenet_quick", ["optimizer.name=bop"]), steps_per_epoch=16
    )
    assert isinstance(bop, lq.optimizers.CaseOptimizer)
    assert current_lr(bop) == pytest.approx(1e-3)  # the rate of its Adam


@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.name=rmsprop", r"optimizer.name to be one of \('adam', 'sgd', 'bop'\)"),
        ("schedule.name=exponential", r"schedule.name to be one of \('constant', 'multistep'"),
    ],
)
def test_unknown_optimizer_or_schedule_is_refused(override, message):
    config = recipes.resolve("resnet_e18_imagenet_quick", [override])
    with pytest.raises(ValueError, match=message):
        make_optimizer(config, steps_per_epoch=16)

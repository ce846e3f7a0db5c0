"""Optimizers and learning-rate schedules of a config: Adam, SGD or larq's Bop; constant,
multistep, cosine or linear, with an optional linear warm-up."""

from __future__ import annotations

import tensorflow as tf

from bnnzoo._checks import one_of

OPTIMIZERS = ("adam", "sgd", "bop")
SCHEDULES = ("constant", "multistep", "cosine", "linear")


def make_optimizer(config: dict, steps_per_epoch: int) -> tf.keras.optimizers.Optimizer:
    """The optimizer of ``config["optimizer"]`` on the schedule of ``config["schedule"]``.

    ``bop`` trains the binary weights with larq's Bop and every other variable with Adam on the
    schedule. Weight decay is not part of the optimizer: the train step adds it to the gradient.
    """
    opt, sched = config["optimizer"], config["schedule"]
    name = one_of("optimizer.name", opt["name"], OPTIMIZERS, hint="Use --set optimizer.name=adam.")
    total = steps_per_epoch * int(config["epochs"])
    lr = make_schedule(opt["lr"], sched, steps_per_epoch, total)
    if name == "adam":
        return tf.keras.optimizers.Adam(lr)
    if name == "sgd":
        return tf.keras.optimizers.SGD(lr, momentum=opt["momentum"])
    import larq as lq

    return lq.optimizers.CaseOptimizer(
        (
            lq.optimizers.Bop.is_binary_variable,
            lq.optimizers.Bop(threshold=opt["bop_threshold"], gamma=opt["bop_gamma"]),
        ),
        default_optimizer=tf.keras.optimizers.legacy.Adam(lr),
    )


def make_schedule(lr: float, sched: dict, steps_per_epoch: int, total_steps: int = 1):
    """The learning rate over steps: constant, ×gamma at milestone epochs, or cosine or linear
    decay to 0 at the end of training (linear: ReActNet's schedule, Liu, Shen, Savvides, Cheng
    2020, "ReActNet: Towards Precise Binary Neural Network with Generalized Activation
    Functions"); ``warmup_epochs`` ramps it up linearly first.

    Example:
        >>> multistep = {"name": "multistep", "milestones": [2], "gamma": 0.1}
        >>> round(float(make_schedule(0.1, multistep, steps_per_epoch=10)(25)), 6)
        0.01
    """
    name = one_of(
        "schedule.name", sched["name"], SCHEDULES, hint="Use --set schedule.name=constant."
    )
    warmup = int(sched.get("warmup_epochs", 0) * steps_per_epoch)
    if name == "constant":
        schedule = lr
    elif name == "multistep":
        milestones = sorted(int(m) for m in sched["milestones"])
        boundaries = [m * steps_per_epoch for m in milestones]
        values = [lr * sched["gamma"] ** i for i in range(len(milestones) + 1)]
        schedule = (
            tf.keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
            if boundaries
            else lr
        )
    elif name == "cosine":
        schedule = tf.keras.optimizers.schedules.CosineDecay(lr, max(total_steps, 1))
    else:  # a straight line from lr at the first step to 0 after the last
        schedule = tf.keras.optimizers.schedules.PolynomialDecay(
            lr, max(total_steps, 1), end_learning_rate=0.0, power=1.0
        )
    return WarmupSchedule(schedule, warmup) if warmup else schedule


class WarmupSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` (a schedule or a constant rate) scaled by a linear ramp from 1/``steps``
    to 1 over the first ``steps``."""

    def __init__(self, schedule, steps: int):
        self.schedule, self.steps = schedule, steps

    def __call__(self, step):
        ramp = tf.minimum(1.0, tf.cast(step + 1, tf.float32) / self.steps)
        rate = self.schedule(step) if callable(self.schedule) else self.schedule
        return ramp * rate

    def get_config(self):
        return {"steps": self.steps}


def current_lr(optimizer) -> float:
    """The learning rate of ``optimizer`` at its latest step (for Bop, that of its Adam)."""
    lr = getattr(optimizer, "learning_rate", None) if not hasattr(optimizer, "default") else None
    if lr is None:  # larq's CaseOptimizer (Bop): the rate of its default optimizer
        lr = optimizer.default.learning_rate
    if isinstance(lr, tf.keras.optimizers.schedules.LearningRateSchedule):
        return float(lr(optimizer.iterations))
    return float(tf.keras.backend.get_value(lr))

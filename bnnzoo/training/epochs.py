"""One epoch of a run (timm's ``train_one_epoch``): its batches through the compiled train step,
its evaluation, its row of metrics and its records, and the checkpoint at its end.

``loop.train`` builds a ``Fit`` (what every epoch uses) and calls ``train_epochs``; this module
never builds a model or reads a config. Data order and augmentation depend only on (seed, epoch,
position), so an epoch resumed at step ``skip`` feeds the batches an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import tensorflow as tf

from bnnzoo.training import data as data_lib
from bnnzoo.training.checkpoints import RunCheckpoints
from bnnzoo.training.distillation import distillation_stage
from bnnzoo.training.monitors import LatentWeights
from bnnzoo.training.optimizers import current_lr
from bnnzoo.training.rundir import RunDir, TrainingError
from bnnzoo.training.steps import evaluate_model

# examples per evaluation batch (at least the training batch)
EVAL_BATCH = 512


class PhaseTimer:
    """Seconds spent in each named phase of a run (``with timer("eval"): ...``)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - start
            self.seconds[phase] = self.seconds.get(phase, 0.0) + spent


@dataclass
class Position:
    """Where the run is, for a message about a lost worker."""

    text: str = "the start"


@dataclass
class TrainingData:
    """The run's dataset, how its images become inputs, and how it is cut into batches."""

    source: data_lib.Source
    preprocessing: data_lib.Preprocessing
    seed: int
    batch_size: int  # the global batch, split across the replicas
    replicas: int
    steps_per_epoch: int

    @property
    def model_shape(self) -> dict:
        """The ``input_shape`` and ``num_classes`` a model of this data is built with."""
        p = self.preprocessing
        return dict(input_shape=(p.size, p.size, p.channels), num_classes=self.source.num_classes)

    @property
    def eval_batch(self) -> int:
        """Evaluation has no gradients to hold: larger batches, fewer calls (a whole multiple of
        the training batch, so that it splits across the replicas as that one does)."""
        return self.batch_size * max(1, EVAL_BATCH // self.batch_size)

    def epoch_batches(self, strategy: tf.distribute.Strategy, epoch: int, skip: int):
        """An iterator over the distributed batches of ``epoch`` from batch ``skip`` on."""

        def epoch_data(context: tf.distribute.InputContext):
            """This worker's slice of every global batch of the epoch (one device: all)."""
            return data_lib.pipeline(
                self.source.train_elements(epoch), self.preprocessing,
                batch_size=self.batch_size, training=True, seed=self.seed, epoch=epoch,
                skip_batches=skip, num_batches=self.steps_per_epoch,
                shard=(context.num_input_pipelines, context.input_pipeline_id),
                replicas=self.replicas // context.num_input_pipelines,
            )  # fmt: skip

        return iter(strategy.distribute_datasets_from_function(epoch_data))


@dataclass
class Trainee:
    """The model being trained, its float32 twin for evaluation, and what trains it."""

    model: tf.keras.Model
    # a mixed-precision model is evaluated and saved as its float32 twin: what is deployed
    eval_model: tf.keras.Model
    optimizer: tf.keras.optimizers.Optimizer
    teacher: tf.keras.Model | None
    distill: dict  # the config's distillation settings
    # the weights of soft and hard targets in the current distillation stage
    soft_weight: tf.Variable
    hard_weight: tf.Variable
    grad_index: int | None  # the first conv's kernel among the gradients, when monitored


@dataclass
class Fit:
    """Everything the epochs of a run use, built once by ``loop.train``."""

    run: RunDir
    chief: bool  # whether this worker writes the run directory
    strategy: tf.distribute.Strategy
    data: TrainingData
    trainee: Trainee
    train_step: Callable
    eval_step: Callable
    checkpoints: RunCheckpoints
    latent: LatentWeights
    writer: tf.summary.SummaryWriter
    epochs: int
    every: int  # a mid-epoch checkpoint every this many steps; 0: none
    verbose: int
    position: Position
    timer: PhaseTimer = field(default_factory=PhaseTimer)

    def evaluate(self) -> tuple[float, float]:
        """The trained weights evaluated in float32 (copied into the twin first, if any)."""
        trainee, data = self.trainee, self.data
        if trainee.eval_model is not trainee.model:
            trainee.eval_model.set_weights(trainee.model.get_weights())
        return evaluate_model(
            trainee.eval_model, data.source, data.preprocessing, data.eval_batch, self.strategy,
            self.eval_step,
        )  # fmt: skip


@dataclass
class EpochTotals:
    """Sums over the steps of an epoch that this process ran (a resumed one: from ``skip``)."""

    skip: int
    step: int  # the number of steps done in the epoch, the skipped ones included
    loss_sum: float = 0.0
    correct: float = 0.0
    seen: float = 0.0
    grad_sum: float = 0.0

    def add(self, loss: float, correct: float, examples: int) -> None:
        """Count one step of ``examples`` examples, its mean ``loss`` and ``correct`` hits."""
        self.step += 1
        self.loss_sum += loss * examples
        self.correct += correct
        self.seen += examples


def train_epochs(fit: Fit) -> tuple[float | None, float | None]:
    """Train from the checkpointed position to the last epoch; the last epoch's (test loss,
    test accuracy), or (None, None) when no epoch was left."""
    test_loss = test_acc = None  # the last epoch's evaluation is the run's final one
    for epoch in range(int(fit.checkpoints.epoch), fit.epochs):
        test_loss, test_acc = train_one_epoch(fit, epoch)
    return test_loss, test_acc


def train_one_epoch(fit: Fit, epoch: int) -> tuple[float, float]:
    """Train epoch ``epoch`` (from the checkpointed step), evaluate, record it and checkpoint
    its end; its (test loss, test accuracy)."""
    skip = int(fit.checkpoints.step)
    # a redrawn bar in a terminal; one line per epoch (below) in a file or a pipe
    bar = bool(fit.verbose) and redraws(sys.stdout)
    progress = tf.keras.utils.Progbar(
        fit.data.steps_per_epoch, verbose=int(bar), stateful_metrics=["loss", "accuracy", "img/s"]
    )
    if bar:
        print(f"Epoch {epoch + 1}/{fit.epochs}")
    soft = _set_distillation_stage(fit.trainee, epoch)
    epoch_start = time.time()
    totals = _run_steps(fit, epoch, skip, progress, epoch_start)
    train_seconds = time.time() - epoch_start
    with fit.timer("eval"):
        test_loss, test_acc = fit.evaluate()
    seconds = time.time() - epoch_start
    row = _metrics_row(fit, epoch, totals, soft, test_loss, test_acc, seconds, train_seconds)
    _record(fit, epoch, row)
    fit.checkpoints.epoch.assign(epoch + 1)
    fit.checkpoints.step.assign(0)
    with fit.timer("checkpoint"):
        fit.checkpoints.save((epoch + 1) * fit.data.steps_per_epoch)
    _report(fit, row, bar)
    return test_loss, test_acc


def _set_distillation_stage(trainee: Trainee, epoch: int) -> float:
    """Set the weights of soft and hard targets for ``epoch``; the soft one."""
    if trainee.teacher is not None:
        soft, hard = distillation_stage(trainee.distill, epoch)
    else:
        soft, hard = (0.0, 1.0)
    trainee.soft_weight.assign(soft)
    trainee.hard_weight.assign(hard)
    return soft


def _run_steps(fit: Fit, epoch: int, skip: int, progress, epoch_start: float) -> EpochTotals:
    """The train steps of ``epoch`` from step ``skip``, with the progress bar and the mid-epoch
    checkpoints (Keras's ``train_function`` loop); a loss that is not finite stops the run."""
    timer, data = fit.timer, fit.data
    totals = EpochTotals(skip=skip, step=skip)
    batches = data.epoch_batches(fit.strategy, epoch, skip)
    while True:
        with timer("input"):
            batch = next(batches, None)
        if batch is None:
            return totals
        x, y = batch
        fit.position.text = f"epoch {epoch + 1}, step {totals.step + 1}"
        with timer("step"):
            batch_loss, batch_correct, grad_norm = fit.train_step(x, y)
            batch_loss = float(batch_loss)
        totals.grad_sum += float(grad_norm)
        if not math.isfinite(batch_loss):
            raise _non_finite_loss(fit.run, batch_loss, epoch, totals.step)
        totals.add(batch_loss, float(batch_correct), data.batch_size)
        rate = totals.seen / max(time.time() - epoch_start, 1e-9)
        with timer("record"):
            values = [
                ("loss", totals.loss_sum / totals.seen),
                ("accuracy", totals.correct / totals.seen),
            ]
            progress.update(totals.step, [*values, ("img/s", rate)])
        step = totals.step
        if fit.every and step % fit.every == 0 and step < data.steps_per_epoch:
            fit.checkpoints.step.assign(step)
            with timer("checkpoint"):
                fit.checkpoints.save(epoch * data.steps_per_epoch + step)


def _non_finite_loss(run: RunDir, loss: float, epoch: int, step: int) -> TrainingError:
    """The error that stops a run whose loss at (0-based) ``epoch``, ``step`` is not finite."""
    return TrainingError(
        f"The loss became {loss} at epoch {epoch + 1}, step {step + 1}. "
        f"The run stopped; the last good checkpoint in {run.checkpoints} is kept. "
        f"Lower the learning rate (--set optimizer.lr=...) and resume with "
        f"--resume {run.path}."
    )


def _metrics_row(
    fit: Fit, epoch: int, totals: EpochTotals, soft: float, test_loss: float, test_acc: float,
    seconds: float, train_seconds: float,
) -> dict:  # fmt: skip
    """The epoch's row of ``metrics.csv`` (and of the TensorBoard summaries)."""
    seen = totals.seen
    row = {
        "epoch": epoch + 1,
        "train_loss": totals.loss_sum / max(seen, 1),
        "train_accuracy": totals.correct / max(seen, 1),
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "lr": current_lr(fit.trainee.optimizer),
        # the epoch's images over the whole epoch, evaluation included
        "images_per_second": seen / max(seconds, 1e-9),
        "seconds": seconds,
        # the training part alone (input, steps, records, mid-epoch checkpoints)
        "train_images_per_second": seen / max(train_seconds, 1e-9),
        "eval_seconds": seconds - train_seconds,
    }
    if fit.trainee.grad_index is not None:
        row["first_conv_grad_norm"] = totals.grad_sum / max(totals.step - totals.skip, 1)
    if fit.trainee.teacher is not None:
        row["soft_target_weight"] = soft
    return row


def _record(fit: Fit, epoch: int, row: dict) -> None:
    """The epoch's row in ``metrics.csv`` (the chief's), latent-weight histograms, summaries."""
    with fit.timer("record"):
        if fit.chief:
            fit.run.append_metrics(row)
        fit.latent.record(epoch + 1)
        with fit.writer.as_default(step=epoch + 1):
            for key, value in row.items():
                if key != "epoch":
                    tf.summary.scalar(key, value)


def _report(fit: Fit, row: dict, bar: bool) -> None:
    """The epoch's result under its progress bar, or as one line in a file or a pipe."""
    test_loss, test_acc = row["test_loss"], row["test_accuracy"]
    if bar:
        print(f"  test accuracy {test_acc:.4f}, test loss {test_loss:.4f}")
    elif fit.verbose:
        print(f"Epoch {row['epoch']}/{fit.epochs}: loss {row['train_loss']:.4f}, accuracy "
              f"{row['train_accuracy']:.4f}, {row['train_images_per_second']:.0f} img/s "
              f"training, {row['seconds']:.0f} s with evaluation ({row['eval_seconds']:.0f} s); "
              f"test accuracy {test_acc:.4f}, test loss {test_loss:.4f}",
              flush=True)  # fmt: skip


def redraws(stream) -> bool:
    """Whether a progress bar on ``stream`` can redraw itself: a terminal or a notebook, not a
    file or a pipe (Keras's ``Progbar`` redraws with carriage returns wherever it runs on POSIX,
    which leaves a log with dozens of updates per epoch on one line)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules

"""The checkpoints of a run: its position counters, the restore, and a save that fails clearly.

A checkpoint holds the model, the optimizer state (the schedule's position included), the epoch
and the step within the epoch. TensorFlow's CheckpointManager writes the checkpoint files first
and then replaces its index file atomically, so a run killed at any moment resumes from the last
complete checkpoint. Which checkpoint a resume starts from is ``RunDir.resume_checkpoint``'s
choice (a damaged one is named and set aside); this module restores it and writes new ones.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import tensorflow as tf

from bnnzoo.training.rundir import RunDir, TrainingError, first_line


class RunCheckpoints:
    """The checkpoints of one run: model, optimizer, epoch and step within the epoch.

    Create it outside the strategy's scope: the position counters are plain variables, not
    mirrored ones.

    Args:
        run: the run directory, for its metrics and for the messages.
        model: the model being trained.
        optimizer: its optimizer.
        directory: where the checkpoints go: ``run.checkpoints`` for the chief, a temporary
            directory for another worker (TensorFlow needs every worker in a save; only the
            chief's counts).
        keep: how many checkpoints to keep (``keep_checkpoints``).
        chief: whether this worker writes the run directory.
        passthrough: errors a failed save raises unchanged, for the caller to report (a peer
            worker that is gone).
    """

    def __init__(
        self,
        run: RunDir,
        model: tf.keras.Model,
        optimizer: tf.keras.optimizers.Optimizer,
        *,
        directory: str | os.PathLike,
        keep: int,
        chief: bool,
        passthrough: tuple[type[BaseException], ...] = (),
    ):
        self.run = run
        self.chief = chief
        self.passthrough = passthrough
        # position counters live outside the strategy: plain variables, not mirrored ones
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=self.epoch, step_in_epoch=self.step
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(Path(directory)), max_to_keep=keep
        )

    def restore(self, path: str, *, verbose: int) -> None:
        """Restore checkpoint ``path`` and drop the metrics of the epochs after it.

        Raises:
            TrainingError: the checkpoint does not fit the run's model.
        """
        run = self.run
        try:
            self.checkpoint.restore(path).expect_partial()
        except (tf.errors.OpError, ValueError, AssertionError) as err:
            raise TrainingError(
                f"Checkpoint {path} does not fit the run's model ({first_line(err)}). "
                f"Was {run.config_path} edited? Restore it, or start a new run directory."
            ) from None
        if self.chief:
            run.keep_metrics(int(self.epoch))  # epochs after the checkpoint are trained again
        if verbose:
            print(f"Resumed {run.path} at epoch {int(self.epoch) + 1}, step {int(self.step)}.")

    def save(self, number: int) -> None:
        """Write checkpoint ``number``; a failed write stops the run, the previous one kept.

        Raises:
            TrainingError: the checkpoint could not be written (its partial files are removed).
        """
        run = self.run
        try:
            self.manager.save(checkpoint_number=number)
        except (OSError, tf.errors.OpError) as err:
            latest = self.manager.latest_checkpoint
            if self.chief and not (latest or "").endswith(f"ckpt-{number}"):  # partial files
                run.remove_partial_checkpoint(number)
            if isinstance(err, self.passthrough):
                raise
            kept = os.path.basename(latest) if latest else "the start"
            full = getattr(err, "errno", None) == errno.ENOSPC or "No space left" in str(err)
            raise TrainingError(
                f"Could not write checkpoint ckpt-{number} in {str(run.checkpoints)!r}: "
                f"{first_line(err)}. "
                + ("The disk is full: free space" if full else "Free space or fix permissions")
                + f", then continue with `bnnzoo train --resume {run.path}` (from "
                f"{kept})."
            ) from None

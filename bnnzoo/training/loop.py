"""The training loop: one function that turns a resolved config into a trained, saved model.

Nothing is lost: a checkpoint (model, optimizer state, schedule position, epoch and step within
the epoch) is written at the end of every epoch and, when asked, every N steps. TensorFlow's
CheckpointManager writes the checkpoint files first and then replaces its index file atomically,
so a run killed at any moment (SIGKILL included) resumes from the last complete checkpoint with
``train(..., resume=True)``. Data order and augmentation are functions of (seed, epoch, position)
and TensorFlow's op determinism is on (``deterministic``, the default), so a resumed run ends at
the same weights as an uninterrupted one, bit for bit. With ``xla=true`` determinism has to be
off (XLA has no deterministic MaxPool gradient); a resumed run then matches to float tolerance.

A loss that is not finite stops the run with a message; the checkpoint it keeps is the last one
written before the loss went bad.

Nothing is written before every input is checked: the config's values (``recipes.check``), the
teacher file, the dataset, the model and the optimizer are all in hand before the run directory
and its ``config.json`` are created, so a refused run leaves nothing that blocks a retry. A
resume starts from the newest complete checkpoint (``RunDir.resume_checkpoint``: a damaged one
is named and skipped). A checkpoint or final model that cannot be written (a full disk) stops
the run with a ``TrainingError`` and leaves the previous checkpoint in place.

Under ``MultiWorkerMirroredStrategy`` (``TF_CONFIG`` naming several workers, every worker given
the same ``--out``) only the chief, worker 0, writes the run directory; the other workers save
their share of each checkpoint (TensorFlow needs every worker in a save) and the final model in
a temporary directory that is removed, and on ``--resume`` they read the chief's config and
checkpoints without changing them. Each worker feeds its own contiguous slice of every global
batch (``data.pipeline``). A worker that loses its peers stops with a ``TrainingError``.

``precision`` picks the Keras dtype policy of training: ``mixed_bfloat16`` (or ``mixed_float16``
with loss scaling) computes activations and convolutions in 16 bits while the latent weights,
the optimizer and the loss stay float32. The test accuracy of every epoch and the saved model
come from a float32 twin that receives the trained weights, so what is reported is what is
deployed. ``precision=auto`` on bfloat16 hardware times a few steps of the run's model in both
float32 and mixed_bfloat16 before training and trains in the faster; ``config.json`` saves the
choice (and both rates), so a resume trains the same way without measuring again. Several
workers do not measure (they could disagree): there ``auto`` is mixed_bfloat16 on bfloat16
hardware.

``TrainResult.phases`` says where the run's time went: waiting for input, train steps,
evaluation, checkpoints, records (metrics, summaries, progress).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.training import data as data_lib
from bnnzoo.training import recipes
from bnnzoo.training.distillation import check_teacher, distillation_stage, load_teacher
from bnnzoo.training.distribute import make_strategy, synchronize_batch_norm, worker_position
from bnnzoo.training.monitors import LatentWeights, first_conv_kernel_index
from bnnzoo.training.optimizers import current_lr, make_optimizer
from bnnzoo.training.precision import (
    check_precision,
    detect_hardware,
    dtype_policy,
    fastest,
    measure_rates,
    slow_precision_warning,
)
from bnnzoo.training.rundir import (
    CONFIG_FILE,
    RunDir,
    TrainingError,
    check_output_dir,
    first_line,
)
from bnnzoo.training.steps import evaluate_model, make_eval_step, make_train_step
from bnnzoo.zoo.loading import load_saved_model

# what a collective raises when a peer worker is gone (a heartbeat or a timeout ran out)
PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)

CAUSE = re.compile(r"heartbeat|timed? ?out|deadline|unavailable|connect|socket|preempt|abort|down",
                   re.IGNORECASE)  # fmt: skip
# examples per evaluation batch (at least the training batch)
EVAL_BATCH = 512
# family builders a recipe may name instead of a registered preset, with model_kwargs
BUILDERS = {
    "binary_densenet": zoo.BinaryDenseNet,
    "binary_resnet_e": zoo.BinaryResNetE,
    "bitnet_cifar": zoo.BitNetCifar,
    "wide_resnet_cifar": zoo.WideResNetCifar,
}


@dataclass
class TrainResult:
    """What ``train`` returns: the run directory, its length, the final float32 evaluation,
    the wall time of training, and the trained float32 model."""

    out_dir: Path
    epochs: int
    test_accuracy: float
    test_loss: float
    seconds: float
    model: tf.keras.Model
    # seconds of the run spent waiting for input, in train steps, evaluating, writing
    # checkpoints and recording (metrics, summaries, progress), for benchmarks
    phases: dict = field(default_factory=dict)


def build_model(config: dict, *, input_shape, num_classes: int) -> tf.keras.Model:
    """The config's model with logits output, from the registry or a family builder."""
    kwargs = dict(config.get("model_kwargs") or {})
    if config.get("clip_value") is not None:
        kwargs["clip_value"] = config["clip_value"]
    kwargs.update(input_shape=tuple(input_shape), num_classes=num_classes)
    kwargs["classifier_activation"] = None
    name = config["model"]
    try:
        if name in BUILDERS:
            kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
            return BUILDERS[name](**kwargs)
        return zoo.create_model(name, **kwargs)
    except TypeError as err:  # an argument the builder does not take
        raise ValueError(
            f"model_kwargs do not fit {name!r}: {first_line(err)}. Received: "
            f"{config.get('model_kwargs')}. Fix or drop them (--set model_kwargs={{}})."
        ) from None


def train(
    config: dict,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    verbose: int = 1,
    command: str | None = None,
) -> TrainResult:
    """Train the model of a resolved config into ``out_dir``; resume if asked.

    Args:
        config: a config from ``recipes.resolve`` (ignored when resuming: the saved one is used).
        out_dir: the run directory: config, checkpoints, metrics, logs, plots, model, card.
        resume: continue the run in ``out_dir`` from its last checkpoint.
        verbose: 1 for a progress bar (redrawn in a terminal; in a file or a pipe, one line
            per epoch), 0 for silence.
        command: the command line that started the run, for the model card.
    """
    run = RunDir(out_dir)
    restore_from = None
    if resume:
        if not run.has_config():
            raise FileNotFoundError(
                f"Nothing to resume in {str(run.path)!r}: it has no {CONFIG_FILE}. Start the run "
                f"with `bnnzoo train --recipe R --out {run.path}`."
            )
        config = run.read_config()
        try:
            recipes.check(config)
        except ValueError as err:
            raise ValueError(
                f"{str(run.config_path)!r} does not hold a usable config: {err} With --resume, "
                f"fix the file itself (--set does not apply), or start a new run directory."
            ) from None
    else:
        recipes.check(config)
    # a multi-worker strategy must exist before TensorFlow runs its first operation
    strategy = make_strategy(config.get("strategy", "auto"))
    worker, workers = worker_position(strategy)
    chief = worker == 0
    if resume:
        # the other workers read the chief's checkpoints; only the chief sets damaged ones aside
        restore_from = run.resume_checkpoint(read_only=not chief)
        if restore_from is None and chief:
            print(f"{run.path} has no checkpoint yet (it stopped before the first one): the run "
                  f"starts from epoch 1.", file=sys.stderr)  # fmt: skip
    elif chief:
        _check_new_run_directory(run)
    check_teacher(config.get("distillation", {}))
    seed = int(config["seed"])
    tf.keras.utils.set_random_seed(seed)
    hardware = detect_hardware()
    precision = check_precision(config, hardware)
    slow = slow_precision_warning(precision, *hardware)
    if slow:
        warnings.warn(slow, stacklevel=2)
    if config.get("deterministic", True):
        if config.get("xla"):
            raise ValueError(
                "xla=true cannot run deterministically: XLA has no deterministic MaxPool "
                "gradient. Add --set deterministic=false (a resumed run then matches an "
                "uninterrupted one to float tolerance instead of bit for bit), or leave xla off."
            )
        tf.config.experimental.enable_op_determinism()

    source, preprocessing = _load_data(config, seed)
    batch_size = int(config["batch_size"])
    replicas = strategy.num_replicas_in_sync
    steps_per_epoch = _steps_per_epoch(batch_size, replicas, source.num_train, workers)

    shape = dict(
        input_shape=(preprocessing.size, preprocessing.size, preprocessing.channels),
        num_classes=source.num_classes,
    )
    rates = None
    # "auto" on bfloat16 hardware: the faster of float32 and bfloat16 for this model and batch
    # (a resume reads the saved choice: config["precision"] is no longer "auto")
    if config.get("precision") == "auto" and precision != "float32" and workers == 1:
        rates = measure_rates(
            lambda: build_model(config, **shape), config,
            (batch_size, *shape["input_shape"]), source.num_classes,
        )  # fmt: skip
        precision = fastest(rates)
        tf.keras.utils.set_random_seed(seed)  # the model starts as it would unmeasured
        if verbose:
            measured = ", ".join(f"{name} {rate:.0f} images/s" for name, rate in rates.items())
            print(f"precision=auto: {measured} (train steps of this model and batch): "
                  f"training in {precision}.", flush=True)  # fmt: skip
    # "auto" is saved as what it chose, with the rates it measured
    config = {**config, "precision": precision}
    if rates:
        config["precision_auto_rates"] = {name: round(rate, 1) for name, rate in rates.items()}
    with strategy.scope():
        with dtype_policy(precision):
            model = build_model(config, **shape)
        # a mixed-precision model is evaluated and saved as its float32 twin: what is deployed
        eval_model = model if precision == "float32" else build_model(config, **shape)
        optimizer = make_optimizer(config, steps_per_epoch)
        if precision == "mixed_float16":
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        sync = config.get("sync_batch_norm", "auto")
        if sync is True or (sync == "auto" and strategy.num_replicas_in_sync > 1):
            synchronize_batch_norm(model)
        distill = config.get("distillation", {})
        teacher = load_teacher(distill, model)
        # the weights of soft and hard targets in the current distillation stage
        soft_weight = tf.Variable(0.0, trainable=False)
        hard_weight = tf.Variable(1.0, trainable=False)
    monitor = config.get("monitor", {})
    grad_index = first_conv_kernel_index(model) if monitor.get("first_conv_gradient") else None
    # the chief writes the run directory; another worker's files go to a temporary directory
    scratch = None if chief else Path(tempfile.mkdtemp(prefix=f"bnnzoo-worker{worker}-"))
    where = "the start"  # where the run is, for a message about a lost worker
    try:
        latent = LatentWeights(model, monitor.get("latent_weights", []), scratch or run.path)
        # every input is valid: only now is the run directory created
        if not resume and chief:
            run.write_config({**config, "preprocessing": preprocessing.__dict__,
                              "num_classes": source.num_classes,
                              "class_names": list(source.class_names)})  # fmt: skip
        # position counters live outside the strategy: plain variables, not mirrored ones
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=epoch_var, step_in_epoch=step_var
        )
        # every worker takes part in a save (TensorFlow's collectives); only the chief's counts
        manager = tf.train.CheckpointManager(
            checkpoint, str(scratch / "checkpoints" if scratch else run.checkpoints),
            max_to_keep=int(config["keep_checkpoints"]),
        )  # fmt: skip
        if restore_from is not None:
            try:
                checkpoint.restore(restore_from).expect_partial()
            except (tf.errors.OpError, ValueError, AssertionError) as err:
                raise TrainingError(
                    f"Checkpoint {restore_from} does not fit the run's model ({first_line(err)}). "
                    f"Was {run.config_path} edited? Restore it, or start a new run directory."
                ) from None
            if chief:
                run.keep_metrics(int(epoch_var))  # epochs after the checkpoint are trained again
            if verbose:
                print(f"Resumed {run.path} at epoch {int(epoch_var) + 1}, step {int(step_var)}.")

        def save_checkpoint(number: int) -> None:
            """Write checkpoint ``number``; a failed write stops the run, the previous one kept."""
            try:
                manager.save(checkpoint_number=number)
            except (OSError, tf.errors.OpError) as err:
                latest = manager.latest_checkpoint
                if chief and not (latest or "").endswith(f"ckpt-{number}"):  # partial files
                    run.remove_partial_checkpoint(number)
                if workers > 1 and isinstance(err, PEER_ERRORS):
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

        train_step = make_train_step(
            model,
            optimizer,
            global_batch=batch_size,
            strategy=strategy,
            weight_decay=float(config["optimizer"].get("weight_decay", 0.0)),
            xla=bool(config.get("xla")),
            teacher=teacher,
            temperature=float(distill.get("temperature", 1.0)),
            distill_weights=(soft_weight, hard_weight),
            grad_index=grad_index,
            label_smoothing=float(config.get("label_smoothing") or 0.0),
        )
        eval_step = make_eval_step(eval_model, strategy)
        # evaluation has no gradients to hold: larger batches, fewer calls (a whole multiple of
        # the training batch, so that it splits across the replicas as that one does)
        eval_batch = batch_size * max(1, EVAL_BATCH // batch_size)

        def evaluate():
            """The trained weights evaluated in float32 (copied into the twin first, if any)."""
            if eval_model is not model:
                eval_model.set_weights(model.get_weights())
            return evaluate_model(
                eval_model, source, preprocessing, eval_batch, strategy, eval_step
            )

        if chief:
            writer = tf.summary.create_file_writer(str(run.tensorboard))
        else:
            writer = tf.summary.create_noop_writer()
        every = int(config.get("checkpoint_every_steps") or 0)
        epochs = int(config["epochs"])
        timer = PhaseTimer()
        started = time.time()
        test_loss = test_acc = None  # the last epoch's evaluation is the run's final one

        for epoch in range(int(epoch_var), epochs):
            skip = int(step_var)

            def epoch_data(context: tf.distribute.InputContext, epoch=epoch, skip=skip):
                """This worker's slice of every global batch of the epoch (one device: all)."""
                return data_lib.pipeline(
                    source.train_elements(epoch), preprocessing, batch_size=batch_size,
                    training=True, seed=seed, epoch=epoch, skip_batches=skip,
                    num_batches=steps_per_epoch,
                    shard=(context.num_input_pipelines, context.input_pipeline_id),
                    replicas=replicas // context.num_input_pipelines,
                )  # fmt: skip

            # a redrawn bar in a terminal; one line per epoch (below) in a file or a pipe
            bar = bool(verbose) and redraws(sys.stdout)
            progress = tf.keras.utils.Progbar(
                steps_per_epoch, verbose=int(bar), stateful_metrics=["loss", "accuracy", "img/s"]
            )
            if bar:
                print(f"Epoch {epoch + 1}/{epochs}")
            soft, hard = distillation_stage(distill, epoch) if teacher is not None else (0.0, 1.0)
            soft_weight.assign(soft)
            hard_weight.assign(hard)
            loss_sum = correct = seen = grad_sum = 0.0
            epoch_start = time.time()
            step = skip
            batches = iter(strategy.distribute_datasets_from_function(epoch_data))
            while True:
                with timer("input"):
                    batch = next(batches, None)
                if batch is None:
                    break
                x, y = batch
                where = f"epoch {epoch + 1}, step {step + 1}"
                with timer("step"):
                    batch_loss, batch_correct, grad_norm = train_step(x, y)
                    batch_loss = float(batch_loss)
                grad_sum += float(grad_norm)
                if not math.isfinite(batch_loss):
                    raise TrainingError(
                        f"The loss became {batch_loss} at epoch {epoch + 1}, step {step + 1}. "
                        f"The run stopped; the last good checkpoint in {run.checkpoints} is kept. "
                        f"Lower the learning rate (--set optimizer.lr=...) and resume with "
                        f"--resume {run.path}."
                    )
                step += 1
                loss_sum += batch_loss * batch_size
                correct += float(batch_correct)
                seen += batch_size
                rate = seen / max(time.time() - epoch_start, 1e-9)
                with timer("record"):
                    values = [("loss", loss_sum / seen), ("accuracy", correct / seen)]
                    progress.update(step, [*values, ("img/s", rate)])
                if every and step % every == 0 and step < steps_per_epoch:
                    step_var.assign(step)
                    with timer("checkpoint"):
                        save_checkpoint(epoch * steps_per_epoch + step)
            train_seconds = time.time() - epoch_start
            with timer("eval"):
                test_loss, test_acc = evaluate()
            seconds = time.time() - epoch_start
            row = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / max(seen, 1),
                "train_accuracy": correct / max(seen, 1),
                "test_loss": test_loss,
                "test_accuracy": test_acc,
                "lr": current_lr(optimizer),
                # the epoch's images over the whole epoch, evaluation included
                "images_per_second": seen / max(seconds, 1e-9),
                "seconds": seconds,
                # the training part alone (input, steps, records, mid-epoch checkpoints)
                "train_images_per_second": seen / max(train_seconds, 1e-9),
                "eval_seconds": seconds - train_seconds,
            }
            if grad_index is not None:
                row["first_conv_grad_norm"] = grad_sum / max(step - skip, 1)
            if teacher is not None:
                row["soft_target_weight"] = soft
            with timer("record"):
                if chief:
                    run.append_metrics(row)
                latent.record(epoch + 1)
                with writer.as_default(step=epoch + 1):
                    for key, value in row.items():
                        if key != "epoch":
                            tf.summary.scalar(key, value)
            epoch_var.assign(epoch + 1)
            step_var.assign(0)
            with timer("checkpoint"):
                save_checkpoint((epoch + 1) * steps_per_epoch)
            if bar:
                print(f"  test accuracy {test_acc:.4f}, test loss {test_loss:.4f}")
            elif verbose:
                print(f"Epoch {epoch + 1}/{epochs}: loss {row['train_loss']:.4f}, accuracy "
                      f"{row['train_accuracy']:.4f}, {row['train_images_per_second']:.0f} img/s "
                      f"training, {seconds:.0f} s with evaluation ({row['eval_seconds']:.0f} s); "
                      f"test accuracy {test_acc:.4f}, test loss {test_loss:.4f}",
                      flush=True)  # fmt: skip

        if test_acc is None:  # a run resumed after its last epoch: nothing was evaluated yet
            test_loss, test_acc = evaluate()
        seconds = time.time() - started
        if chief:
            run.finish(eval_model, test_loss=test_loss, test_accuracy=test_acc, seconds=seconds,
                       command=command)  # fmt: skip
        else:  # the same saves, for the collectives that read BatchNorm's statistics
            eval_model.save(str(scratch / "model.keras"))
            eval_model.save_weights(str(scratch / "model.weights.h5"))
        return TrainResult(
            run.path, epochs, test_acc, test_loss, seconds, eval_model, dict(timer.seconds)
        )
    except PEER_ERRORS as err:
        if workers == 1:
            raise
        kept = tf.train.latest_checkpoint(str(run.checkpoints))
        raise TrainingError(
            f"Worker {worker} of {workers} lost contact with the other workers at {where} "
            f"({_peer_cause(err)}): a worker stopped or the network failed. The run stopped; "
            f"its last checkpoint is {os.path.basename(kept) if kept else 'none yet'} in "
            f"{str(run.checkpoints)!r}. Restart every worker with `bnnzoo train --resume "
            f"{run.path}`."
        ) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


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


def _peer_cause(err: BaseException) -> str:
    """The line of a collective's error that says why the peer is gone (TensorFlow's first line
    is often just "Graph execution error:")."""
    for line in str(err).splitlines():
        if CAUSE.search(line) and not line.startswith("Graph execution"):
            return line.strip()[:300]
    return first_line(err)


def _check_new_run_directory(run: RunDir) -> None:
    """Refuse an ``--out`` that holds a run, is a file, or cannot be created."""
    if run.has_config():
        raise TrainingError(
            f"{str(run.path)!r} already holds a run. Resume it with `bnnzoo train --resume "
            f"{run.path}`, or pass another --out directory."
        )
    check_output_dir(run.path)


def redraws(stream) -> bool:
    """Whether a progress bar on ``stream`` can redraw itself: a terminal or a notebook, not a
    file or a pipe (Keras's ``Progbar`` redraws with carriage returns wherever it runs on POSIX,
    which leaves a log with dozens of updates per epoch on one line)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def _load_data(config: dict, seed: int) -> tuple[data_lib.Source, data_lib.Preprocessing]:
    """The config's dataset and the preprocessing that turns its images into model inputs."""
    source = data_lib.load_dataset(
        config["dataset"],
        data_dir=config.get("data_dir"),
        download=config.get("download", False),
        seed=seed,
        max_train=config.get("max_train_examples"),
        max_test=config.get("max_test_examples"),
    )
    preprocessing = data_lib.Preprocessing.for_source(
        source,
        size=int(config["input_size"]),
        channels=config.get("channels"),
        augment=config["augment"],
    )
    return source, preprocessing


def _steps_per_epoch(batch_size: int, replicas: int, num_train: int, workers: int = 1) -> int:
    """Full batches per epoch; refused when the batch does not split across the replicas (of
    every worker) or is larger than the training set."""
    if batch_size % replicas:
        across = f" ({workers} workers)" if workers > 1 else ""
        raise ValueError(
            f"batch_size={batch_size} does not split across {replicas} replicas{across}. Use a "
            f"multiple of {replicas}, e.g. {batch_size - batch_size % replicas or replicas}."
        )
    if batch_size > num_train:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {num_train} training examples."
        )
    return num_train // batch_size


def evaluate_run(
    run_dir: str | os.PathLike, dataset: str | None = None, *, data_dir=None, batch_size: int = 256
) -> tuple[float, float]:
    """(loss, accuracy) of a finished run's saved model, on its dataset's test split or on
    another dataset's."""
    run = RunDir(run_dir)
    if not run.model_path.is_file():
        raise FileNotFoundError(
            f"No trained model in {str(run.path)!r} (expected model.keras from `bnnzoo train`)."
        )
    saved = run.read_config()
    if dataset is not None:
        data_lib.check_dataset_name(dataset)  # before the model is loaded
    model = load_saved_model(run.model_path)
    same = dataset is None or dataset == saved["dataset"]
    source = data_lib.load_dataset(
        dataset or saved["dataset"],
        data_dir=data_dir or saved.get("data_dir"),
        max_test=saved.get("max_test_examples") if same else None,
    )
    if source.num_classes > model.output_shape[-1]:
        raise ValueError(
            f"{source.name} has {source.num_classes} classes; the model in {run.path} predicts "
            f"{model.output_shape[-1]}."
        )
    preprocessing = data_lib.Preprocessing.from_dict(saved["preprocessing"])
    return evaluate_model(model, source, preprocessing, batch_size)

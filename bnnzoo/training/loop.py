"""The training loop: one function that turns a resolved config into a trained, saved model.

``train`` is a short sequence of named steps, as Keras's ``Model.fit`` and timm's ``train.py``
are: check the config, pick the strategy, start or resume the run directory, set up TensorFlow
(seed, determinism, precision), load the data, build the model and optimizer, restore the
checkpoint and compile the steps, train the epochs (``epochs.train_one_epoch``), finish.
Checkpoints are ``checkpoints.RunCheckpoints``; one epoch is ``epochs``.

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
from bnnzoo.training.checkpoints import RunCheckpoints
from bnnzoo.training.distillation import check_teacher, load_teacher
from bnnzoo.training.distribute import make_strategy, synchronize_batch_norm, worker_position
from bnnzoo.training.epochs import Fit, Position, Trainee, TrainingData, redraws, train_epochs
from bnnzoo.training.monitors import LatentWeights, first_conv_kernel_index
from bnnzoo.training.optimizers import make_optimizer
from bnnzoo.training.precision import (
    check_precision,
    detect_hardware,
    dtype_policy,
    fastest,
    measure_rates,
    slow_precision_warning,
)
from bnnzoo.training.real_weights import real_weights
from bnnzoo.training.rundir import (
    CONFIG_FILE,
    RunDir,
    TrainingError,
    check_output_dir,
    first_line,
)
from bnnzoo.training.steps import evaluate_model, make_eval_step, make_train_step
from bnnzoo.zoo.loading import load_saved_model

__all__ = ["TrainResult", "TrainingError", "build_model", "evaluate_run", "redraws", "train"]

# what a collective raises when a peer worker is gone (a heartbeat or a timeout ran out)
PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)

CAUSE = re.compile(r"heartbeat|timed? ?out|deadline|unavailable|connect|socket|preempt|abort|down",
                   re.IGNORECASE)  # fmt: skip
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
    """The config's model with logits output, from the registry or a family builder; with
    ``binary_weights`` false, its binary layers train real weights (``real_weights``)."""
    kwargs = dict(config.get("model_kwargs") or {})
    if config.get("clip_value") is not None:
        kwargs["clip_value"] = config["clip_value"]
    kwargs.update(input_shape=tuple(input_shape), num_classes=num_classes)
    kwargs["classifier_activation"] = None
    name = config["model"]
    try:
        if name in BUILDERS:
            kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
            model = BUILDERS[name](**kwargs)
        else:
            model = zoo.create_model(name, **kwargs)
    except TypeError as err:  # an argument the builder does not take
        raise ValueError(
            f"model_kwargs do not fit {name!r}: {first_line(err)}. Received: "
            f"{config.get('model_kwargs')}. Fix or drop them (--set model_kwargs={{}})."
        ) from None
    return model if config.get("binary_weights", True) else real_weights(model)


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

    Returns:
        The run directory, the final float32 evaluation, the wall time and the float32 model.

    Raises:
        ValueError: a config value, the teacher, the dataset or the model is refused.
        FileNotFoundError: nothing to resume in ``out_dir``, or a missing file.
        TrainingError: the run cannot start or stopped (a run directory in the way, a damaged
            checkpoint, a loss that is not finite, a full disk, a lost worker).
    """
    run = RunDir(out_dir)
    config = _checked_config(run, config, resume=resume)
    # a multi-worker strategy must exist before TensorFlow runs its first operation
    strategy = make_strategy(config.get("strategy", "auto"))
    worker, workers = worker_position(strategy)
    restore_from = _start_or_resume(run, resume=resume, chief=worker == 0)
    precision = _set_up_tensorflow(config)
    data = _training_data(config, strategy.num_replicas_in_sync, workers)
    config = _choose_precision(config, precision, data, workers=workers, verbose=verbose)
    trainee = _build_trainee(config, strategy, data)
    # the chief writes the run directory; another worker's files go to a temporary directory
    scratch = None if worker == 0 else Path(tempfile.mkdtemp(prefix=f"bnnzoo-worker{worker}-"))
    position = Position()  # where the run is, for a message about a lost worker
    try:
        fit = _prepare_fit(config, run, strategy, data, trainee, workers=workers, scratch=scratch,
                           resume=resume, restore_from=restore_from, verbose=verbose,
                           position=position)  # fmt: skip
        started = time.time()
        test_loss, test_acc = train_epochs(fit)
        return _finish(fit, test_loss, test_acc, started, scratch=scratch, command=command)
    except PEER_ERRORS as err:
        if workers == 1:
            raise
        raise _lost_peer_error(err, run, worker, workers, position) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _checked_config(run: RunDir, config: dict, *, resume: bool) -> dict:
    """The config to run, checked: ``config`` itself, or on a resume the run's saved one."""
    if not resume:
        recipes.check(config)
        return config
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
    return config


def _start_or_resume(run: RunDir, *, resume: bool, chief: bool) -> str | None:
    """The checkpoint a resume starts from (None: the start); a new run's directory checked."""
    if not resume:
        if chief:
            _check_new_run_directory(run)
        return None
    # the other workers read the chief's checkpoints; only the chief sets damaged ones aside
    restore_from = run.resume_checkpoint(read_only=not chief)
    if restore_from is None and chief:
        print(f"{run.path} has no checkpoint yet (it stopped before the first one): the run "
              f"starts from epoch 1.", file=sys.stderr)  # fmt: skip
    return restore_from


def _set_up_tensorflow(config: dict) -> str:
    """Check the teacher, seed every generator, turn op determinism on; the precision the
    hardware allows (``auto`` still to be decided by ``_choose_precision``)."""
    check_teacher(config.get("distillation", {}))
    tf.keras.utils.set_random_seed(int(config["seed"]))
    hardware = detect_hardware()
    precision = check_precision(config, hardware)
    slow = slow_precision_warning(precision, *hardware)
    if slow:
        warnings.warn(slow, stacklevel=3)  # at the caller of train
    if config.get("deterministic", True):
        if config.get("xla"):
            raise ValueError(
                "xla=true cannot run deterministically: XLA has no deterministic MaxPool "
                "gradient. Add --set deterministic=false (a resumed run then matches an "
                "uninterrupted one to float tolerance instead of bit for bit), or leave xla off."
            )
        tf.config.experimental.enable_op_determinism()
    return precision


def _training_data(config: dict, replicas: int, workers: int) -> TrainingData:
    """The config's dataset, its preprocessing and its batches per epoch."""
    seed = int(config["seed"])
    source, preprocessing = _load_data(config, seed)
    batch_size = int(config["batch_size"])
    steps_per_epoch = _steps_per_epoch(batch_size, replicas, source.num_train, workers)
    return TrainingData(source, preprocessing, seed, batch_size, replicas, steps_per_epoch)


def _choose_precision(
    config: dict, precision: str, data: TrainingData, *, workers: int, verbose: int
) -> dict:
    """The config with ``precision`` resolved: "auto" on bfloat16 hardware is the faster of
    float32 and bfloat16 for this model and batch, saved with the rates it measured (a resume
    reads the saved choice: its config["precision"] is no longer "auto")."""
    rates = None
    if config.get("precision") == "auto" and precision != "float32" and workers == 1:
        shape = data.model_shape
        rates = measure_rates(
            lambda: build_model(config, **shape), config,
            (data.batch_size, *shape["input_shape"]), data.source.num_classes,
        )  # fmt: skip
        precision = fastest(rates)
        tf.keras.utils.set_random_seed(data.seed)  # the model starts as it would unmeasured
        if verbose:
            measured = ", ".join(f"{name} {rate:.0f} images/s" for name, rate in rates.items())
            print(f"precision=auto: {measured} (train steps of this model and batch): "
                  f"training in {precision}.", flush=True)  # fmt: skip
    # "auto" is saved as what it chose, with the rates it measured
    config = {**config, "precision": precision}
    if rates:
        config["precision_auto_rates"] = {name: round(rate, 1) for name, rate in rates.items()}
    return config


def _build_trainee(config: dict, strategy: tf.distribute.Strategy, data: TrainingData) -> Trainee:
    """The model in the config's precision, its float32 twin, the optimizer and the teacher,
    built in the strategy's scope (Keras's ``compile``)."""
    precision, shape = config["precision"], data.model_shape
    with strategy.scope():
        with dtype_policy(precision):
            model = build_model(config, **shape)
        # a mixed-precision model is evaluated and saved as its float32 twin: what is deployed
        eval_model = model if precision == "float32" else build_model(config, **shape)
        optimizer = make_optimizer(config, data.steps_per_epoch)
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
    return Trainee(model, eval_model, optimizer, teacher, distill, soft_weight, hard_weight,
                   grad_index)  # fmt: skip


def _prepare_fit(
    config: dict,
    run: RunDir,
    strategy: tf.distribute.Strategy,
    data: TrainingData,
    trainee: Trainee,
    *,
    workers: int,
    scratch: Path | None,
    resume: bool,
    restore_from: str | None,
    verbose: int,
    position: Position,
) -> Fit:
    """Write the new run's config, restore the checkpoint, compile the steps (Keras's
    ``make_train_function``): everything the epochs use."""
    chief = scratch is None
    monitor = config.get("monitor", {})
    latent = LatentWeights(trainee.model, monitor.get("latent_weights", []), scratch or run.path)
    # every input is valid: only now is the run directory created
    if not resume and chief:
        run.write_config({**config, "preprocessing": data.preprocessing.__dict__,
                          "num_classes": data.source.num_classes,
                          "class_names": list(data.source.class_names)})  # fmt: skip
    # every worker takes part in a save (TensorFlow's collectives); only the chief's counts
    checkpoints = RunCheckpoints(
        run, trainee.model, trainee.optimizer,
        directory=scratch / "checkpoints" if scratch else run.checkpoints,
        keep=int(config["keep_checkpoints"]), chief=chief,
        passthrough=PEER_ERRORS if workers > 1 else (),
    )  # fmt: skip
    if restore_from is not None:
        checkpoints.restore(restore_from, verbose=verbose)
    train_step = _make_train_step(config, strategy, data, trainee)
    eval_step = make_eval_step(trainee.eval_model, strategy)
    if chief:
        writer = tf.summary.create_file_writer(str(run.tensorboard))
    else:
        writer = tf.summary.create_noop_writer()
    return Fit(
        run, chief, strategy, data, trainee, train_step, eval_step, checkpoints, latent, writer,
        epochs=int(config["epochs"]), every=int(config.get("checkpoint_every_steps") or 0),
        verbose=verbose, position=position,
    )  # fmt: skip


def _make_train_step(
    config: dict, strategy: tf.distribute.Strategy, data: TrainingData, trainee: Trainee
):
    """The compiled train step of the config: loss, distillation, weight decay, monitors."""
    distill = trainee.distill
    return make_train_step(
        trainee.model,
        trainee.optimizer,
        global_batch=data.batch_size,
        strategy=strategy,
        weight_decay=float(config["optimizer"].get("weight_decay", 0.0)),
        xla=bool(config.get("xla")),
        teacher=trainee.teacher,
        temperature=float(distill.get("temperature", 1.0)),
        distill_weights=(trainee.soft_weight, trainee.hard_weight),
        grad_index=trainee.grad_index,
        label_smoothing=float(config.get("label_smoothing") or 0.0),
    )


def _finish(
    fit: Fit,
    test_loss: float | None,
    test_acc: float | None,
    started: float,
    *,
    scratch: Path | None,
    command: str | None,
) -> TrainResult:
    """Save the trained float32 model (the chief: with its card and plots) and say how it did."""
    model = fit.trainee.eval_model
    if test_acc is None:  # a run resumed after its last epoch: nothing was evaluated yet
        test_loss, test_acc = fit.evaluate()
    seconds = time.time() - started
    if fit.chief:
        fit.run.finish(model, test_loss=test_loss, test_accuracy=test_acc, seconds=seconds,
                       command=command)  # fmt: skip
    else:  # the same saves, for the collectives that read BatchNorm's statistics
        model.save(str(scratch / "model.keras"))
        model.save_weights(str(scratch / "model.weights.h5"))
    return TrainResult(
        fit.run.path, fit.epochs, test_acc, test_loss, seconds, model, dict(fit.timer.seconds)
    )


def _lost_peer_error(
    err: BaseException, run: RunDir, worker: int, workers: int, position: Position
) -> TrainingError:
    """The error of a worker that lost contact with the others, with the run's last checkpoint."""
    kept = tf.train.latest_checkpoint(str(run.checkpoints))
    return TrainingError(
        f"Worker {worker} of {workers} lost contact with the other workers at {position.text} "
        f"({_peer_cause(err)}): a worker stopped or the network failed. The run stopped; "
        f"its last checkpoint is {os.path.basename(kept) if kept else 'none yet'} in "
        f"{str(run.checkpoints)!r}. Restart every worker with `bnnzoo train --resume "
        f"{run.path}`."
    )


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

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

``precision`` picks the Keras dtype policy of training: ``mixed_bfloat16`` (or ``mixed_float16``
with loss scaling) computes activations and convolutions in 16 bits while the latent weights,
the optimizer and the loss stay float32. The test accuracy of every epoch and the saved model
come from a float32 twin that receives the trained weights, so what is reported is what is
deployed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.analysis import count_model, is_binary
from bnnzoo.training import data as data_lib
from bnnzoo.training.distribute import make_strategy

# family builders a recipe may name instead of a registered preset, with model_kwargs
BUILDERS = {
    "binary_densenet": zoo.BinaryDenseNet,
    "binary_resnet_e": zoo.BinaryResNetE,
    "bitnet_cifar": zoo.BitNetCifar,
    "wide_resnet_cifar": zoo.WideResNetCifar,
}
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
# Keras dtype policies a run may train in (the latent weights are float32 in all of them), and
# "auto": mixed_bfloat16 where the hardware computes in bfloat16, float32 elsewhere
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, a run directory in the way...)."""


@dataclass
class TrainResult:
    out_dir: Path
    epochs: int
    test_accuracy: float
    test_loss: float
    seconds: float
    model: tf.keras.Model


def build_model(config: dict, *, input_shape, num_classes: int) -> tf.keras.Model:
    """The config's model with logits output, from the registry or a family builder."""
    kwargs = dict(config.get("model_kwargs") or {})
    if config.get("clip_value") is not None:
        kwargs["clip_value"] = config["clip_value"]
    kwargs.update(input_shape=tuple(input_shape), num_classes=num_classes)
    kwargs["classifier_activation"] = None
    name = config["model"]
    if name in BUILDERS:
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        return BUILDERS[name](**kwargs)
    return zoo.create_model(name, **kwargs)


def check_precision(config: dict, hardware=None) -> str:
    """The Keras dtype policy the config's ``precision`` asks for on this machine ("auto"
    resolved), refused with the valid values when it is not one of them.

    ``hardware`` is ``(gpu_capabilities, cpu_flags)``; by default it is read off this machine.
    """
    precision = config.get("precision", "float32")
    if precision not in PRECISIONS:
        raise ValueError(
            f"Expected precision to be one of {', '.join(PRECISIONS)}. Received: {precision!r}. "
            f"Use --set precision=mixed_bfloat16 on CPUs with AVX512_BF16 or AMX and on "
            f"recent GPUs, mixed_float16 on older GPUs, or auto to choose by the hardware."
        )
    if precision == "auto":
        precision = "mixed_bfloat16" if has_bfloat16(*(hardware or _hardware())) else "float32"
    if precision == "mixed_float16" and config["optimizer"]["name"] == "bop":
        raise ValueError(
            "precision=mixed_float16 needs loss scaling, which larq's Bop (a CaseOptimizer) "
            "does not support. Use --set precision=mixed_bfloat16 (no loss scaling needed) or "
            "precision=float32 with Bop."
        )
    return precision


def has_bfloat16(gpu_capabilities, cpu_flags: set[str]) -> bool:
    """Whether this hardware computes in bfloat16 rather than emulating it: NVIDIA GPUs of
    compute capability 8.0 (Ampere) and later (an unknown capability counts as able), or,
    without a GPU, a CPU with AVX512_BF16 or AMX."""
    if gpu_capabilities:
        return all(c is None or tuple(c) >= (8, 0) for c in gpu_capabilities)
    return bool(set(cpu_flags) & {"avx512_bf16", "amx_bf16"})


def slow_precision_warning(precision: str, gpu_capabilities, cpu_flags: set[str]) -> str | None:
    """Why ``precision`` will likely train slower than float32 on this hardware, or None.

    16-bit training is fast where the hardware computes in 16 bits; elsewhere TensorFlow
    emulates it. Measured on a 2-core AVX-512 CPU without float16 support: 2 epochs of
    ``quickstart_quick`` took 67 s in mixed_float16 against 8 s in float32.
    """
    if precision == "mixed_float16" and not gpu_capabilities:
        return (
            "precision=mixed_float16 without a GPU: TensorFlow emulates float16 on CPUs, which "
            "trains many times slower than float32. Use --set precision=auto (bfloat16 where "
            "the CPU has it, else float32)."
        )
    if precision == "mixed_bfloat16" and not has_bfloat16(gpu_capabilities, cpu_flags):
        where = "CPU without AVX512_BF16 or AMX"
        if gpu_capabilities:
            where = "GPU older than compute capability 8.0"
        return (
            f"precision=mixed_bfloat16 on a {where}: TensorFlow emulates bfloat16 here, which "
            f"is usually slower than float32. Use --set precision=auto or float32."
        )
    return None


def _hardware() -> tuple[list, set[str]]:
    """(compute capability of each GPU, None where unknown; the CPU's feature flags)."""
    gpus = [
        tf.config.experimental.get_device_details(gpu).get("compute_capability")
        for gpu in tf.config.list_physical_devices("GPU")
    ]
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:  # not Linux: the flags are unknown
        pass
    return gpus, flags


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Build layers under the Keras dtype policy ``precision``; the global policy is restored
    afterwards (layers keep the policy they were built with)."""
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)


def synchronize_batch_norm(model: tf.keras.Model) -> int:
    """Make every BatchNorm of ``model`` use the statistics of the global batch.

    Under a multi-replica strategy each replica sees a slice of the batch; with synchronized
    statistics a mirrored run computes what one device computes with the whole batch. Returns
    the number of layers changed.
    """
    changed = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            changed += synchronize_batch_norm(layer)
        elif isinstance(layer, tf.keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            layer.fused = False
            changed += 1
    return changed


def make_optimizer(config: dict, steps_per_epoch: int) -> tf.keras.optimizers.Optimizer:
    opt, sched = config["optimizer"], config["schedule"]
    total = steps_per_epoch * int(config["epochs"])
    lr = make_schedule(opt["lr"], sched, steps_per_epoch, total)
    name = opt["name"]
    if name == "adam":
        return tf.keras.optimizers.Adam(lr)
    if name == "sgd":
        return tf.keras.optimizers.SGD(lr, momentum=opt["momentum"])
    if name == "bop":
        import larq as lq

        return lq.optimizers.CaseOptimizer(
            (
                lq.optimizers.Bop.is_binary_variable,
                lq.optimizers.Bop(threshold=opt["bop_threshold"], gamma=opt["bop_gamma"]),
            ),
            default_optimizer=tf.keras.optimizers.legacy.Adam(lr),
        )
    raise ValueError(f"Expected optimizer.name to be adam, sgd or bop. Received: {name!r}.")


def make_schedule(lr: float, sched: dict, steps_per_epoch: int, total_steps: int = 1):
    """The learning rate over steps: constant, ×gamma at milestone epochs, or cosine decay to 0
    at the end of training; ``warmup_epochs`` ramps it up linearly first."""
    name = sched["name"]
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
    else:
        raise ValueError(
            f"Expected schedule.name to be constant, multistep or cosine. Received: {name!r}."
        )
    if warmup and not isinstance(schedule, float):
        return _Warmup(schedule, warmup)
    return schedule


class _Warmup(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, schedule, steps):
        self.schedule, self.steps = schedule, steps

    def __call__(self, step):
        ramp = tf.cast(step + 1, tf.float32) / self.steps
        return tf.minimum(1.0, ramp) * self.schedule(step)

    def get_config(self):
        return {"steps": self.steps}


def current_lr(optimizer) -> float:
    lr = getattr(optimizer, "learning_rate", None) if not hasattr(optimizer, "default") else None
    if lr is None:  # larq's CaseOptimizer (Bop): the rate of its default optimizer
        lr = optimizer.default.learning_rate
    if isinstance(lr, tf.keras.optimizers.schedules.LearningRateSchedule):
        return float(lr(optimizer.iterations))
    return float(tf.keras.backend.get_value(lr))


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
        verbose: 1 for a progress bar, 0 for silence.
        command: the command line that started the run, for the model card.
    """
    out = Path(out_dir)
    config_path = out / CONFIG_FILE
    if resume:
        if not config_path.is_file():
            raise FileNotFoundError(
                f"Nothing to resume in {str(out)!r}: it has no {CONFIG_FILE}. Start the run with "
                f"`bnnzoo train --recipe R --out {out}`."
            )
        config = json.loads(config_path.read_text())
    elif config_path.exists():
        raise TrainingError(
            f"{str(out)!r} already holds a run. Resume it with `bnnzoo train --resume {out}`, or "
            f"pass another --out directory."
        )
    out.mkdir(parents=True, exist_ok=True)
    seed = int(config["seed"])
    tf.keras.utils.set_random_seed(seed)
    deterministic = config.get("deterministic", True)
    hardware = _hardware()
    precision = check_precision(config, hardware)
    slow = slow_precision_warning(precision, *hardware)
    if slow:
        warnings.warn(slow, stacklevel=2)
    config = {**config, "precision": precision}  # "auto" is saved as what it chose
    if deterministic and config.get("xla"):
        raise ValueError(
            "xla=true cannot run deterministically: XLA has no deterministic MaxPool gradient. "
            "Add --set deterministic=false (a resumed run then matches an uninterrupted one to "
            "float tolerance instead of bit for bit), or leave xla off."
        )
    if deterministic:
        tf.config.experimental.enable_op_determinism()

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
    strategy = make_strategy(config.get("strategy", "auto"))
    batch_size = int(config["batch_size"])
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"batch_size={batch_size} does not split across {replicas} replicas. Use a multiple "
            f"of {replicas}, e.g. {batch_size - batch_size % replicas or replicas}."
        )
    steps_per_epoch = source.num_train // batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {source.num_train} training examples."
        )
    if not resume:
        saved = {
            **config,
            "preprocessing": preprocessing.__dict__,
            "num_classes": source.num_classes,
            "class_names": list(source.class_names),
        }
        _atomic_write(config_path, json.dumps(saved, indent=2, default=list))

    shape = dict(
        input_shape=(preprocessing.size, preprocessing.size, preprocessing.channels),
        num_classes=source.num_classes,
    )
    with strategy.scope():
        with dtype_policy(precision):
            model = build_model(config, **shape)
        # a mixed-precision model is evaluated and saved as its float32 twin: what is deployed
        eval_model = model if precision == "float32" else build_model(config, **shape)
        optimizer = make_optimizer(config, steps_per_epoch)
        if precision == "mixed_float16":
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        sync = config.get("sync_batch_norm", "auto")
        if sync is True or (sync == "auto" and replicas > 1):
            synchronize_batch_norm(model)
        teacher = load_teacher(config.get("distillation", {}), model)
        # the weights of soft and hard targets in the current distillation stage
        soft_weight = tf.Variable(0.0, trainable=False)
        hard_weight = tf.Variable(1.0, trainable=False)
    # position counters live outside the strategy: plain variables, not mirrored ones
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, epoch=epoch_var, step_in_epoch=step_var
    )
    manager = tf.train.CheckpointManager(
        checkpoint, str(out / "checkpoints"), max_to_keep=int(config["keep_checkpoints"])
    )
    if resume and manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        if verbose:
            print(f"Resumed {out} at epoch {int(epoch_var) + 1}, step {int(step_var)}.")

    # the decay term is added on every replica and the gradients are summed across them
    weight_decay = float(config["optimizer"].get("weight_decay", 0.0)) / replicas
    decayed = [v for v in model.trainable_variables if "kernel" in v.name]
    monitor = config.get("monitor", {})
    grad_index = first_conv_kernel_index(model) if monitor.get("first_conv_gradient") else None
    latent = LatentWeights(model, monitor.get("latent_weights", []), out)
    distill = config.get("distillation", {})
    train_step = _make_train_step(
        model,
        optimizer,
        strategy,
        batch_size,
        weight_decay,
        decayed,
        bool(config.get("xla")),
        teacher=teacher,
        temperature=float(distill.get("temperature", 1.0)),
        weights=(soft_weight, hard_weight),
        grad_index=grad_index,
    )
    eval_step = _make_eval_step(eval_model, strategy)
    writer = tf.summary.create_file_writer(str(out / "tensorboard"))
    every = int(config.get("checkpoint_every_steps") or 0)
    epochs = int(config["epochs"])
    started = time.time()
    test_loss = test_acc = None  # the last epoch's evaluation is the run's final one

    for epoch in range(int(epoch_var), epochs):
        skip = int(step_var)
        ds = data_lib.pipeline(
            source.train_elements(epoch),
            preprocessing,
            batch_size=batch_size,
            training=True,
            seed=seed,
            epoch=epoch,
            skip_batches=skip,
        )
        progress = tf.keras.utils.Progbar(
            steps_per_epoch, verbose=verbose, stateful_metrics=["loss", "accuracy", "img/s"]
        )
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        soft, hard = distillation_stage(distill, epoch) if teacher is not None else (0.0, 1.0)
        soft_weight.assign(soft)
        hard_weight.assign(hard)
        loss_sum = correct = seen = grad_sum = 0.0
        epoch_start = time.time()
        step = skip
        for x, y in strategy.experimental_distribute_dataset(ds):
            batch_loss, batch_correct, grad_norm = train_step(x, y)
            batch_loss = float(batch_loss)
            grad_sum += float(grad_norm)
            if not math.isfinite(batch_loss):
                raise TrainingError(
                    f"The loss became {batch_loss} at epoch {epoch + 1}, step {step + 1}. The run "
                    f"stopped; the last good checkpoint in {out / 'checkpoints'} is kept. Lower "
                    f"the learning rate (--set optimizer.lr=...) and resume with --resume {out}."
                )
            step += 1
            loss_sum += batch_loss * batch_size
            correct += float(batch_correct)
            seen += batch_size
            rate = seen / max(time.time() - epoch_start, 1e-9)
            progress.update(
                step, [("loss", loss_sum / seen), ("accuracy", correct / seen), ("img/s", rate)]
            )
            if every and step % every == 0 and step < steps_per_epoch:
                step_var.assign(step)
                manager.save(checkpoint_number=epoch * steps_per_epoch + step)
        test_loss, test_acc = _evaluate_float32(
            model, eval_model, source, preprocessing, batch_size, strategy, eval_step
        )
        seconds = time.time() - epoch_start
        row = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / max(seen, 1),
            "train_accuracy": correct / max(seen, 1),
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "lr": current_lr(optimizer),
            "images_per_second": seen / max(seconds, 1e-9),
            "seconds": seconds,
        }
        if grad_index is not None:
            row["first_conv_grad_norm"] = grad_sum / max(step - skip, 1)
        if teacher is not None:
            row["soft_target_weight"] = soft
        _append_metrics(out / METRICS_FILE, row)
        latent.record(epoch + 1)
        with writer.as_default(step=epoch + 1):
            for key, value in row.items():
                if key != "epoch":
                    tf.summary.scalar(key, value)
        epoch_var.assign(epoch + 1)
        step_var.assign(0)
        manager.save(checkpoint_number=(epoch + 1) * steps_per_epoch)
        if verbose:
            print(f"  test accuracy {test_acc:.4f}, test loss {test_loss:.4f}")

    if test_acc is None:  # a run resumed after its last epoch: nothing was evaluated yet
        test_loss, test_acc = _evaluate_float32(
            model, eval_model, source, preprocessing, batch_size, strategy, eval_step
        )
    seconds = time.time() - started
    _finish_run(out, eval_model, config, test_loss, test_acc, seconds, command)
    return TrainResult(out, epochs, test_acc, test_loss, seconds, eval_model)


def _evaluate_float32(model, eval_model, *args):
    """Evaluate the trained weights in float32: ``eval_model`` is ``model`` itself, or the
    float32 twin of a mixed-precision ``model``, which first receives its weights."""
    if eval_model is not model:
        eval_model.set_weights(model.get_weights())
    return evaluate_model(eval_model, *args)


def _make_train_step(
    model,
    optimizer,
    strategy,
    global_batch,
    weight_decay,
    decayed,
    xla,
    *,
    teacher=None,
    temperature=1.0,
    weights=None,
    grad_index=None,
):
    """One optimizer step, run on every replica: (summed loss, correct count, gradient norm).

    With a teacher the per-example loss is ``soft_weight * soft + hard_weight * hard``; the two
    weights are variables, so the distillation stage changes without retracing.
    """
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=tf.keras.losses.Reduction.NONE
    )
    decayed_ids = {id(v) for v in decayed}

    scaling = isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            # under a mixed policy the logits are float16/bfloat16: the loss is taken in float32
            logits = tf.cast(model(x, training=True), tf.float32)
            per_example = loss_fn(y, logits)
            if teacher is not None:
                soft_weight, hard_weight = weights
                soft = soft_target_loss(teacher(x, training=False), logits, temperature)
                per_example = soft_weight * soft + hard_weight * per_example
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            if model.losses:
                penalties = [tf.cast(penalty, tf.float32) for penalty in model.losses]
                loss += tf.nn.scale_regularization_loss(tf.add_n(penalties))
            scaled = optimizer.get_scaled_loss(loss) if scaling else loss
        variables = model.trainable_variables
        grads = tape.gradient(scaled, variables)
        if scaling:
            grads = optimizer.get_unscaled_gradients(grads)
        # the loss gradient (paper 000 Fig. 2), measured before the weight-decay term is added
        grad_norm = tf.norm(grads[grad_index]) if grad_index is not None else tf.constant(0.0)
        if weight_decay:
            grads = [
                g + weight_decay * v if id(v) in decayed_ids else g
                for g, v in zip(grads, variables)
            ]
        optimizer.apply_gradients(zip(grads, variables))
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int64), tf.cast(y, tf.int64))
        return loss, tf.reduce_sum(tf.cast(hits, tf.float32)), grad_norm

    if xla:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def step(x, y):
        loss, correct, grad_norm = strategy.run(replica_step, args=(x, y))
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.MEAN, grad_norm, axis=None),
        )

    return step


def soft_target_loss(teacher_logits, student_logits, temperature: float):
    """Hinton et al.'s distillation loss per example: T² · KL(teacher_T ‖ student_T)."""
    t = tf.nn.softmax(teacher_logits / temperature)
    log_t = tf.nn.log_softmax(teacher_logits / temperature)
    log_s = tf.nn.log_softmax(student_logits / temperature)
    return temperature**2 * tf.reduce_sum(t * (log_t - log_s), axis=-1)


def distillation_stage(distill: dict, epoch: int) -> tuple[float, float]:
    """(soft weight, hard weight) of an epoch: soft targets only for the first ``soft_epochs``,
    then ``alpha`` soft + ``1 - alpha`` hard (paper 004 §2.3)."""
    if epoch < int(distill.get("soft_epochs", 0)):
        return 1.0, 0.0
    alpha = float(distill.get("alpha", 0.5))
    return alpha, 1.0 - alpha


def load_teacher(distill: dict, student: tf.keras.Model) -> tf.keras.Model | None:
    """The teacher of a distillation config as a logits model, or None without one."""
    path = distill.get("teacher")
    if not path:
        return None
    if not Path(path).exists():
        raise FileNotFoundError(
            f"Teacher model not found: {str(path)!r}. Pass a model saved with model.save() "
            f"(e.g. RUN_DIR/model.keras of an earlier `bnnzoo train`)."
        )
    teacher = tf.keras.models.load_model(path, compile=False)
    if teacher.input_shape[1:] != student.input_shape[1:]:
        raise ValueError(
            f"The teacher expects inputs {teacher.input_shape[1:]}, the student "
            f"{student.input_shape[1:]}; train both on the same input size and channels."
        )
    if teacher.output_shape[-1] != student.output_shape[-1]:
        raise ValueError(
            f"The teacher predicts {teacher.output_shape[-1]} classes, the student "
            f"{student.output_shape[-1]}."
        )
    if getattr(teacher.layers[-1], "activation", None) is tf.keras.activations.softmax:
        # probabilities: their logarithm is a valid set of logits for the tempered softmax
        teacher = tf.keras.Model(
            teacher.inputs, tf.math.log(teacher.output + 1e-12), name="teacher_logits"
        )
    teacher.trainable = False
    return teacher


def first_conv_kernel_index(model: tf.keras.Model) -> int:
    """Index in ``model.trainable_variables`` of the first convolution's kernel."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            for i, variable in enumerate(model.trainable_variables):
                if variable is layer.kernel:
                    return i
    raise ValueError(f"Model {model.name!r} has no convolution whose gradient could be recorded.")


class LatentWeights:
    """Histograms of chosen layers' latent (real-valued) weights after every epoch.

    Paper 004 (Figure 1 A/C) shows that a high learning rate pushes latent weights to the clip
    values ±1, where they flip without accumulating evidence, while a low one keeps them spread
    out. ``record`` appends one histogram per layer to ``latent_weights.npz`` and redraws
    ``latent_weights.png``.
    """

    BINS = 60

    def __init__(self, model: tf.keras.Model, layer_names, out_dir: Path):
        self.layers = []
        for name in layer_names:
            try:
                layer = model.get_layer(name)
            except ValueError:
                binary = [lay.name for lay in model.layers if is_binary(lay)]
                raise ValueError(
                    f"monitor.latent_weights names {name!r}, which {model.name} does not have. "
                    f"Its binary layers include: {', '.join(binary[:12])}."
                ) from None
            if not hasattr(layer, "kernel"):
                raise ValueError(f"monitor.latent_weights: layer {name!r} has no kernel.")
            self.layers.append(layer)
        self.path = Path(out_dir) / "latent_weights.npz"

    def record(self, epoch: int) -> None:
        if not self.layers:
            return
        stored = dict(np.load(self.path)) if self.path.exists() else {}
        for layer in self.layers:
            kernel = layer.kernel.numpy().ravel()
            clip = float(getattr(layer.kernel_constraint, "clip_value", 0) or np.abs(kernel).max())
            counts, edges = np.histogram(kernel, bins=self.BINS, range=(-clip, clip))
            key = layer.name
            previous = stored.get(f"{key}/counts", np.zeros((0, self.BINS)))
            stored[f"{key}/counts"] = np.vstack([previous, counts[None]])
            stored[f"{key}/edges"] = edges
            stored[f"{key}/epochs"] = np.append(stored.get(f"{key}/epochs", []), epoch)
        partial = self.path.with_name("latent_weights.partial.npz")
        np.savez(partial, **stored)
        os.replace(partial, self.path)
        plot_latent_weights(self.path)


def plot_latent_weights(npz_path: Path) -> Path:
    """One panel per layer: the latent-weight distribution after each recorded epoch."""
    plt = _pyplot()
    data = np.load(npz_path)
    names = sorted({key.rsplit("/", 1)[0] for key in data.files})
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.6 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        edges, counts = data[f"{name}/edges"], data[f"{name}/counts"]
        centers = (edges[:-1] + edges[1:]) / 2
        for epoch, row in zip(data[f"{name}/epochs"], counts):
            ax.plot(centers, row / max(row.sum(), 1), label=f"epoch {int(epoch)}")
        ax.set(title=f"latent weights of {name}", xlabel="weight", ylabel="fraction")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(npz_path).with_suffix(".png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_gradient_norms(run_dirs, out_png: str | os.PathLike, labels=None) -> Path:
    """Paper 000 Figure 2 for several runs side by side: the first conv's mean gradient L2 norm
    per epoch, from runs trained with ``monitor.first_conv_gradient=true``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, run in enumerate(run_dirs):
        rows = read_metrics(run)
        if not rows or "first_conv_grad_norm" not in rows[0]:
            raise ValueError(
                f"{run} has no first_conv_grad_norm column; train it with "
                f"--set monitor.first_conv_gradient=true."
            )
        label = labels[i] if labels else Path(run).name
        ax.plot([r["epoch"] for r in rows], [r["first_conv_grad_norm"] for r in rows],
                marker="o", label=label)  # fmt: skip
    ax.set(xlabel="epoch", ylabel="mean L2 norm of the gradient", yscale="log",
           title="gradient of the first convolution")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _make_eval_step(model, strategy):
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=tf.keras.losses.Reduction.NONE
    )

    def replica_step(x, y):
        logits = model(x, training=False)
        hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int64), tf.cast(y, tf.int64))
        return tf.reduce_sum(loss_fn(y, logits)), tf.reduce_sum(tf.cast(hits, tf.float32))

    @tf.function
    def step(x, y):
        loss, correct = strategy.run(replica_step, args=(x, y))
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
        )

    return step


def evaluate_model(model, source, preprocessing, batch_size, strategy=None, eval_step=None):
    """(mean loss, accuracy) of ``model`` on the test split of ``source``."""
    strategy = strategy or tf.distribute.get_strategy()
    eval_step = eval_step or _make_eval_step(model, strategy)
    ds = data_lib.pipeline(
        source.test_elements(), preprocessing, batch_size=batch_size, training=False
    )
    loss = correct = 0.0
    for x, y in strategy.experimental_distribute_dataset(ds):
        batch_loss, batch_correct = eval_step(x, y)
        loss += float(batch_loss)
        correct += float(batch_correct)
    return loss / source.num_test, correct / source.num_test


def _append_metrics(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def read_metrics(out_dir: str | os.PathLike) -> list[dict]:
    with open(Path(out_dir) / METRICS_FILE) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _finish_run(out, model, config, test_loss, test_acc, seconds, command):
    model.save(out / "model.keras")
    model.save_weights(str(out / "model.weights.h5"))
    results = {"test_accuracy": test_acc, "test_loss": test_loss, "train_seconds": seconds}
    _atomic_write(out / "results.json", json.dumps(results, indent=2))
    plot_curves(out)
    counts = count_model(model)
    saved = json.loads((out / CONFIG_FILE).read_text())
    pre = saved["preprocessing"]
    card = f"""# Model card: {config["model"]}

- recipe: `{config["recipe"]}`; command: `{command or " ".join(sys.argv)}`
- architecture: `{config["model"]}` with {json.dumps(config.get("model_kwargs") or {})}, input \
{pre["size"]}×{pre["size"]}×{pre["channels"]}, {saved["num_classes"]} classes (logits output)
- parameters: {counts.params:,} ({counts.binary_params:,} binary)
- MACs: {counts.binary_macs:,} binary, {counts.float_macs:,} float
- size: {counts.size_mb:.3f} MiB (binary weights at 1 bit)
- data: `{config["dataset"]}`, augmentation `{config["augment"]}`, {config["epochs"]} epochs, \
batch {config["batch_size"]}, optimizer {json.dumps(config["optimizer"])}, trained in \
{config.get("precision", "float32")} (evaluated and saved in float32)
- test accuracy: {test_acc:.4f} (test loss {test_loss:.4f})
- training time: {seconds:.1f} s
"""
    _atomic_write(out / "model_card.md", card)


def plot_curves(out_dir: str | os.PathLike) -> Path:
    """PNG of loss and accuracy per epoch from a run's metrics."""
    plt = _pyplot()
    rows = read_metrics(out_dir)
    epochs = [r["epoch"] for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "test"):
        ax_loss.plot(epochs, [r[f"{split}_loss"] for r in rows], marker="o", label=split)
        ax_acc.plot(epochs, [r[f"{split}_accuracy"] for r in rows], marker="o", label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = Path(out_dir) / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def evaluate_run(
    run_dir: str | os.PathLike, dataset: str | None = None, *, data_dir=None, batch_size: int = 256
) -> tuple[float, float]:
    """Accuracy of a finished run's saved model, on its dataset's test split or another one."""
    run = Path(run_dir)
    if not (run / "model.keras").is_file():
        raise FileNotFoundError(
            f"No trained model in {str(run)!r} (expected model.keras from `bnnzoo train`)."
        )
    saved = json.loads((run / CONFIG_FILE).read_text())
    model = tf.keras.models.load_model(run / "model.keras")
    same = dataset is None or dataset == saved["dataset"]
    source = data_lib.load_dataset(
        dataset or saved["dataset"],
        data_dir=data_dir or saved.get("data_dir"),
        max_test=saved.get("max_test_examples") if same else None,
    )
    if source.num_classes > model.output_shape[-1]:
        raise ValueError(
            f"{source.name} has {source.num_classes} classes; the model in {run} predicts "
            f"{model.output_shape[-1]}."
        )
    preprocessing = data_lib.Preprocessing.from_dict(saved["preprocessing"])
    return evaluate_model(model, source, preprocessing, batch_size)

"""The compiled train and eval steps, run on every replica of a ``tf.distribute`` strategy, and
the evaluation of a model on a dataset's test split."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from bnnzoo.training import data as data_lib
from bnnzoo.training.distillation import soft_target_loss


def _per_example_loss():
    return tf.keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=tf.keras.losses.Reduction.NONE
    )


def _smoothed_loss(epsilon: float):
    """Per-example cross-entropy against labels smoothed by ``epsilon`` (Szegedy et al. 2016,
    "Rethinking the Inception Architecture", §7): the target is ``1 - epsilon`` on the label
    plus ``epsilon`` spread evenly over all classes."""
    hard = _per_example_loss()
    if not epsilon:
        return hard

    def loss(labels, logits):
        uniform = -tf.reduce_mean(tf.nn.log_softmax(logits, axis=-1), axis=-1)
        return (1.0 - epsilon) * hard(labels, logits) + epsilon * uniform

    return loss


def _correct(logits, labels):
    hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int64), tf.cast(labels, tf.int64))
    return tf.reduce_sum(tf.cast(hits, tf.float32))


def make_train_step(
    model: tf.keras.Model,
    optimizer,
    *,
    global_batch: int,
    strategy: tf.distribute.Strategy | None = None,
    weight_decay: float = 0.0,
    decayed: Sequence[tf.Variable] | None = None,
    xla: bool = False,
    teacher: tf.keras.Model | None = None,
    temperature: float = 1.0,
    distill_weights: tuple[tf.Variable, tf.Variable] | None = None,
    grad_index: int | None = None,
    label_smoothing: float = 0.0,
):
    """One optimizer step on a (distributed) batch: ``step(x, y)`` returns the mean loss, the
    number of correct predictions and the gradient norm of ``grad_index`` (0 without one).

    Args:
        model: a logits model; under a mixed policy its logits are cast to float32 for the loss.
        optimizer: a Keras optimizer; a ``LossScaleOptimizer`` gets its loss scaled and its
            gradients unscaled.
        global_batch: examples per step across all replicas (the loss is their mean).
        strategy: the strategy ``model`` was built under; the current one by default.
        weight_decay: L2 coefficient added to the gradient of ``decayed`` (coupled, as in Torch).
        decayed: the variables that decay; by default every trainable kernel of ``model``.
        xla: compile the replica step with XLA.
        teacher: a logits model whose tempered outputs are soft targets (distillation).
        temperature: the softmax temperature of the soft targets.
        distill_weights: (soft weight, hard weight) variables: with a teacher the per-example
            loss is ``soft_weight * soft + hard_weight * hard``; being variables, the
            distillation stage changes without retracing.
        grad_index: index in ``model.trainable_variables`` whose loss-gradient norm is returned
            (measured before weight decay is added).
        label_smoothing: ``epsilon`` of the training targets (the hard term of a distillation
            too); 0 trains on the labels as they are. Evaluation is always on plain labels.

    Example:
        >>> step = make_train_step(model, tf.keras.optimizers.Adam(1e-3), global_batch=32)
        >>> loss, correct, _ = step(x, y)
    """
    strategy = strategy or tf.distribute.get_strategy()
    if teacher is not None and distill_weights is None:
        raise ValueError(
            "make_train_step got a teacher without distill_weights. Pass "
            "distill_weights=(tf.Variable(soft), tf.Variable(hard)), e.g. (0.5, 0.5)."
        )
    loss_fn = _smoothed_loss(float(label_smoothing))
    if decayed is None:
        decayed = [v for v in model.trainable_variables if "kernel" in v.name]
    decayed_ids = {id(v) for v in decayed}
    # the decay term is added on every replica and the gradients are summed across them
    decay = float(weight_decay) / strategy.num_replicas_in_sync
    scaling = isinstance(optimizer, tf.keras.mixed_precision.LossScaleOptimizer)
    _create_optimizer_variables(optimizer, model.trainable_variables, strategy)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x, training=True), tf.float32)
            per_example = loss_fn(y, logits)
            if teacher is not None:
                soft_weight, hard_weight = distill_weights
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
        # the loss gradient (the first-convolution gradient of Zhang et al. 2017, Figure 2),
        # measured before the weight-decay term is added
        grad_norm = tf.norm(grads[grad_index]) if grad_index is not None else tf.constant(0.0)
        if decay:
            grads = [g + decay * v if id(v) in decayed_ids else g for g, v in zip(grads, variables)]
        optimizer.apply_gradients(zip(grads, variables))
        return loss, _correct(logits, y), grad_norm

    if xla:
        replica_step = tf.function(replica_step, jit_compile=True)

    # no AutoGraph: the step has no tensor-dependent Python control flow, and converting every
    # layer's call cost ~10 CPU-seconds per trace of the Fashion-MNIST recipe's network
    @tf.function(autograph=False)
    def step(x, y):
        loss, correct, grad_norm = strategy.run(replica_step, args=(x, y))
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.MEAN, grad_norm, axis=None),
        )

    return step


def _create_optimizer_variables(optimizer, variables, strategy) -> None:
    """Create the optimizer's slots (Adam's moments, SGD's momentum) before the first step, as
    its first ``apply_gradients`` would: ``tf.function`` traces a first call that creates
    variables twice, once creating them and once without (ResNetE18's quick recipe, 256
    images at 16×16: 1.97 against 2.58 CPU seconds a run on a 2-core Intel Xeon). The same
    slots in the same order: checkpoints and results are unchanged. Larq's Bop (a legacy
    Keras optimizer inside ``CaseOptimizer``) still creates its own in the first step."""
    if isinstance(optimizer, tf.keras.optimizers.Optimizer):
        with strategy.scope():
            optimizer.build(variables)


def make_eval_step(model: tf.keras.Model, strategy: tf.distribute.Strategy | None = None):
    """``step(x, y)``: (summed loss, number of correct predictions) of ``model`` on a batch."""
    strategy = strategy or tf.distribute.get_strategy()
    loss_fn = _per_example_loss()

    def replica_step(x, y):
        logits = model(x, training=False)
        return tf.reduce_sum(loss_fn(y, logits)), _correct(logits, y)

    @tf.function(autograph=False)
    def step(x, y):
        loss, correct = strategy.run(replica_step, args=(x, y))
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
        )

    return step


def evaluate_model(
    model: tf.keras.Model,
    source: data_lib.Source,
    preprocessing: data_lib.Preprocessing,
    batch_size: int,
    strategy: tf.distribute.Strategy | None = None,
    eval_step=None,
) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on the test split of ``source``; ``eval_step`` (from
    ``make_eval_step``) is reused across calls when given, to avoid retracing: it is traced once,
    for the batch shapes of the test set's every batch."""
    strategy = strategy or tf.distribute.get_strategy()
    eval_step = eval_step or make_eval_step(model, strategy)
    ds = data_lib.pipeline(
        source.test_elements(), preprocessing, batch_size=batch_size, training=False
    )
    batches = strategy.experimental_distribute_dataset(ds)
    # one trace for every batch size: the test set's last batch is usually smaller, and a step
    # traced for the full batch's shape traced again for it (ReActNet-A at 28×28, a batch of
    # 16 on a 2-core Intel Xeon: 1.7 CPU s with the trace, 0.3 without)
    eval_step.get_concrete_function(*batches.element_spec)
    loss = correct = 0.0
    for x, y in batches:
        batch_loss, batch_correct = eval_step(x, y)
        loss += float(batch_loss)
        correct += float(batch_correct)
    return loss / source.num_test, correct / source.num_test

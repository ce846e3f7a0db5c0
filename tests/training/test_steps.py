"""The compiled train and eval steps, on tiny models and one batch."""

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.layers import batch_norm, binary_conv2d
from bnnzoo.training.monitors import first_conv_kernel_index
from bnnzoo.training.precision import dtype_policy
from bnnzoo.training.steps import make_eval_step, make_train_step


def _tiny(precision="float32"):
    with dtype_policy(precision):
        inputs = tf.keras.Input((8, 8, 4))
        x = binary_conv2d(8, 3, padding="same")(inputs)
        x = batch_norm()(x)
        x = tf.keras.layers.GlobalAveragePooling2D()(x)
        outputs = tf.keras.layers.Dense(3)(x)
        return tf.keras.Model(inputs, outputs)


def _batch():
    return tf.random.stateless_normal((4, 8, 8, 4), seed=(1, 2)), tf.constant([0, 1, 2, 0])


def test_mixed_float16_step_unscales_its_gradients():
    """Loss scaling multiplies the loss by 2**15; the step must divide the gradients back."""
    tf.keras.utils.set_random_seed(0)
    x, y = _batch()
    models = {precision: _tiny(precision) for precision in ("float32", "mixed_float16")}
    start = models["float32"].get_weights()
    models["mixed_float16"].set_weights(start)
    updates = {}
    for precision, model in models.items():
        optimizer = tf.keras.optimizers.SGD(0.1)
        if precision == "mixed_float16":
            optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
        step = make_train_step(model, optimizer, global_batch=4)
        loss, _, _ = step(x, y)
        assert np.isfinite(float(loss))
        updates[precision] = model.layers[-1].kernel.numpy() - start[-2]
    assert np.abs(updates["float32"]).max() > 0
    np.testing.assert_allclose(updates["mixed_float16"], updates["float32"], atol=2e-3)


def test_recorded_gradient_norm_is_the_loss_gradient_without_weight_decay():
    model = zoo.BinaryResNetE(blocks_per_stage=(1,), filters=(8,), input_shape=(8, 8, 1),
                              num_classes=3, classifier_activation=None)  # fmt: skip
    x = tf.random.stateless_normal((4, 8, 8, 1), seed=(1, 2))
    y = tf.constant([0, 1, 2, 0])
    index = first_conv_kernel_index(model)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            tf.keras.losses.sparse_categorical_crossentropy(y, model(x, training=True), True)
        )
    expected = float(tf.norm(tape.gradient(loss, model.trainable_variables[index])))
    step = make_train_step(model, tf.keras.optimizers.SGD(0.0), global_batch=4,
                           weight_decay=100.0, decayed=model.trainable_variables,
                           grad_index=index)  # fmt: skip
    # a decay of 100 would add 100 * |W| (far above the loss gradient) if it were counted
    _, _, norm = step(x, y)
    assert float(norm) == pytest.approx(expected, rel=1e-4)


def test_weight_decay_reaches_the_kernels_only_by_default():
    model = _tiny()
    x, y = _batch()
    start = {v.name: v.numpy() for v in model.trainable_variables}
    # SGD at lr 0.1 with a decay of 1 takes W - 0.1 (g + W) where plain SGD takes W - 0.1 g:
    # the kernels end 0.1 W apart; the other variables (bias, BatchNorm) do not decay
    plain = _tiny()
    plain.set_weights(model.get_weights())
    make_train_step(plain, tf.keras.optimizers.SGD(0.1), global_batch=4)(x, y)
    make_train_step(model, tf.keras.optimizers.SGD(0.1), global_batch=4, weight_decay=1.0)(x, y)
    for decayed, undecayed in zip(model.trainable_variables, plain.trainable_variables):
        difference = undecayed.numpy() - decayed.numpy()
        if "kernel" in decayed.name:
            np.testing.assert_allclose(difference, 0.1 * start[decayed.name], atol=1e-5)
        else:
            np.testing.assert_allclose(difference, 0.0, atol=1e-6)


def test_label_smoothing_trains_on_the_smoothed_targets():
    """The step's loss is the cross-entropy against (1 - eps) one-hot + eps / classes; with
    eps = 0 it is the plain loss of the labels."""
    model = _tiny()
    x, y = _batch()
    logits = model(x, training=True)
    log_p = tf.nn.log_softmax(logits).numpy()
    losses = []
    for epsilon in (0.0, 0.3):
        targets = (1 - epsilon) * np.eye(3)[y.numpy()] + epsilon / 3
        expected = float(np.mean(-(targets * log_p).sum(-1)))
        step = make_train_step(model, tf.keras.optimizers.SGD(0.0), global_batch=4,
                               label_smoothing=epsilon)  # fmt: skip
        loss, _, _ = step(x, y)
        assert float(loss) == pytest.approx(expected, rel=1e-5)
        losses.append(float(loss))
    assert abs(losses[1] - losses[0]) > 1e-3  # the smoothing changed the loss


def test_a_teacher_needs_distillation_weights():
    model = _tiny()
    with pytest.raises(ValueError, match="teacher without distill_weights"):
        make_train_step(model, tf.keras.optimizers.SGD(0.1), global_batch=4, teacher=model)


def test_eval_step_sums_the_loss_and_counts_the_hits():
    model = _tiny()
    x, y = _batch()
    logits = model(x, training=False)
    expected = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    loss, correct = make_eval_step(model)(x, y)
    assert float(loss) == pytest.approx(float(tf.reduce_sum(expected)), rel=1e-5)
    assert float(correct) == float(np.sum(logits.numpy().argmax(-1) == y.numpy()))


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "loss_scaled"])
def test_the_train_step_is_traced_once(optimizer):
    """The optimizer's slots exist before the first step: ``tf.function`` traces a first call
    that creates variables twice (once creating them, once without). The second step runs the
    same graph, and the slots are the optimizer's own: it keeps using them."""
    model = _tiny("mixed_float16" if optimizer == "loss_scaled" else "float32")
    opt = {"adam": lambda: tf.keras.optimizers.Adam(1e-3),
           "sgd_momentum": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
           "loss_scaled": lambda: tf.keras.mixed_precision.LossScaleOptimizer(
               tf.keras.optimizers.SGD(0.1, momentum=0.9))}[optimizer]()  # fmt: skip
    step = make_train_step(model, opt, global_batch=4)
    slots = list(opt.variables)
    assert len(slots) > 2  # the iteration count, the rate, and a slot per trainable variable
    x, y = _batch()
    for _ in range(2):
        step(x, y)
    assert step.experimental_get_tracing_count() == 1
    assert [v.ref() for v in opt.variables] == [v.ref() for v in slots]
    assert int(opt.iterations) == 2


def test_evaluation_traces_its_step_once_for_a_smaller_last_batch():
    """Ten test images in batches of four: the last batch has two. The eval step is traced once
    for every batch shape (a step traced for the first batch would trace again for the last),
    and the loss and accuracy are the model's own on all ten."""
    from bnnzoo.training.data import Preprocessing, _array_source
    from bnnzoo.training.steps import evaluate_model

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 8, 8, 4), dtype=np.uint8)
    labels = rng.integers(0, 3, 10).astype(np.int64)
    source = _array_source("tiny", images, labels, images, labels, ("a", "b", "c"), 0)
    preprocessing = Preprocessing.for_source(source, size=8)
    model = _tiny()
    step = make_eval_step(model)
    results = [evaluate_model(model, source, preprocessing, 4, eval_step=step) for _ in range(2)]
    assert step.experimental_get_tracing_count() == 1
    x = (images / 255.0 - np.array(source.mean)) / np.array(source.std)
    logits = model(x.astype(np.float32), training=False)
    loss = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    accuracy = float(np.mean(logits.numpy().argmax(-1) == labels))
    for mean_loss, acc in results:
        assert mean_loss == pytest.approx(float(tf.reduce_mean(loss)), rel=1e-5)
        assert acc == pytest.approx(accuracy)

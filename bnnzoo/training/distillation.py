"""Knowledge distillation: a trained teacher's tempered outputs as soft targets, in the two
stages of Wu, Wu, Zhao 2016, "Binarized Neural Networks on the ImageNet Classification Task"
(§2.3): soft targets only first, then soft and hard targets combined.

The distribution loss of Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards Precise Binary
Neural Network with Generalized Activation Functions", is the same loss at temperature 1 with
soft targets only, KL(teacher's softmax ‖ student's softmax): the configuration
``recipes.DISTRIBUTION_LOSS`` (``alpha`` 1, so no stage has a hard-label term)."""

from __future__ import annotations

import tensorflow as tf

from bnnzoo.zoo.loading import check_model_file, load_saved_model


def soft_target_loss(teacher_logits, student_logits, temperature: float):
    """Hinton et al.'s distillation loss per example: T² · KL(teacher_T ‖ student_T)."""
    t = tf.nn.softmax(teacher_logits / temperature)
    log_t = tf.nn.log_softmax(teacher_logits / temperature)
    log_s = tf.nn.log_softmax(student_logits / temperature)
    return temperature**2 * tf.reduce_sum(t * (log_t - log_s), axis=-1)


def distillation_stage(distill: dict, epoch: int) -> tuple[float, float]:
    """(soft weight, hard weight) of an epoch: soft targets only for the first ``soft_epochs``,
    then ``alpha`` soft + ``1 - alpha`` hard.

    Example:
        >>> distillation_stage({"soft_epochs": 1, "alpha": 0.25}, epoch=1)
        (0.25, 0.75)
    """
    if epoch < int(distill.get("soft_epochs", 0)):
        return 1.0, 0.0
    alpha = float(distill.get("alpha", 0.5))
    return alpha, 1.0 - alpha


def check_teacher(distill: dict) -> None:
    """Refuse a teacher that is not a readable saved model, before a run loads anything else."""
    path = distill.get("teacher")
    if not path:
        return
    try:
        check_model_file(path)
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(f"Teacher: {err}") from None


def load_teacher(distill: dict, student: tf.keras.Model) -> tf.keras.Model | None:
    """The teacher of a distillation config as a frozen logits model, or None without one."""
    path = distill.get("teacher")
    if not path:
        return None
    check_teacher(distill)
    try:
        teacher = load_saved_model(path, compile=False)
    except ValueError as err:
        raise ValueError(f"Teacher: {err}") from None
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

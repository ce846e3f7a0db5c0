import numpy as np
import pytest
import tensorflow as tf

from bnnzoo.training import recipes, train
from bnnzoo.training.loop import (
    distillation_stage,
    plot_gradient_norms,
    read_metrics,
    soft_target_loss,
)

# its module fixture is expensive: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("distillation_teacher")

QUICK = "resnet_e18_imagenet_quick"


def test_soft_target_loss_is_tempered_kl():
    teacher = tf.constant([[2.0, 0.0, -1.0]])
    student = tf.constant([[0.5, 0.5, 0.0]])
    t = 2.0
    p = np.exp(teacher.numpy() / t) / np.exp(teacher.numpy() / t).sum()
    q = np.exp(student.numpy() / t) / np.exp(student.numpy() / t).sum()
    expected = t * t * (p * np.log(p / q)).sum()
    assert float(soft_target_loss(teacher, student, t)[0]) == pytest.approx(expected, rel=1e-5)
    assert float(soft_target_loss(teacher, teacher, t)[0]) == pytest.approx(0.0, abs=1e-6)


def test_two_stage_schedule():
    distill = {"soft_epochs": 2, "alpha": 0.7}
    assert [distillation_stage(distill, e) for e in range(4)] == [
        (1.0, 0.0), (1.0, 0.0), (0.7, pytest.approx(0.3)), (0.7, pytest.approx(0.3)),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher")
    train(recipes.resolve(QUICK, ["optimizer.lr=0.01"], epochs=2), out, verbose=0)
    return out


def test_distillation_from_a_trained_teacher(teacher_run, tmp_path):
    config = recipes.resolve(
        QUICK,
        [f"distillation.teacher={teacher_run / 'model.keras'}", "distillation.soft_epochs=1",
         "distillation.alpha=0.25"],
        epochs=2,
    )  # fmt: skip
    train(config, tmp_path, verbose=0)
    rows = read_metrics(tmp_path)
    assert [r["soft_target_weight"] for r in rows] == [1.0, 0.25]


def test_teacher_of_another_shape_is_refused(teacher_run, tmp_path):
    config = recipes.resolve(QUICK, [f"distillation.teacher={teacher_run / 'model.keras'}",
                                     "input_size=24"])  # fmt: skip
    with pytest.raises(ValueError, match="The teacher expects inputs"):
        train(config, tmp_path, verbose=0)


def test_missing_teacher(tmp_path):
    config = recipes.resolve(QUICK, ["distillation.teacher=/no/such/model.keras"])
    with pytest.raises(FileNotFoundError, match="/no/such/model.keras"):
        train(config, tmp_path / "run", verbose=0)


def test_monitors_record_gradient_norms_and_latent_weights(tmp_path):
    config = recipes.resolve(
        QUICK,
        ["monitor.first_conv_gradient=true", 'monitor.latent_weights=["stage1_block1_conv"]'],
        epochs=2,
    )
    result = train(config, tmp_path / "run", verbose=0)
    rows = read_metrics(tmp_path / "run")
    assert all(r["first_conv_grad_norm"] > 0 for r in rows)
    data = np.load(tmp_path / "run" / "latent_weights.npz")
    counts = data["stage1_block1_conv/counts"]
    kernel = result.model.get_layer("stage1_block1_conv").kernel.numpy()
    assert counts.shape == (2, 60) and counts[-1].sum() == kernel.size
    assert list(data["stage1_block1_conv/epochs"]) == [1, 2]
    assert (tmp_path / "run" / "latent_weights.png").is_file()
    png = plot_gradient_norms([tmp_path / "run"], tmp_path / "grad.png")
    assert png.stat().st_size > 1000


def test_unknown_latent_weight_layer_names_the_binary_layers(tmp_path):
    config = recipes.resolve(QUICK, ['monitor.latent_weights=["nope"]'])
    with pytest.raises(ValueError, match="binary layers include: stage1_block1_conv"):
        train(config, tmp_path, verbose=0)


def test_gradient_plot_needs_the_monitor(teacher_run, tmp_path):
    with pytest.raises(ValueError, match="first_conv_gradient=true"):
        plot_gradient_norms([teacher_run], tmp_path / "g.png")


def test_recorded_gradient_norm_is_the_loss_gradient_without_weight_decay():
    from bnnzoo import zoo
    from bnnzoo.training.loop import _make_train_step, first_conv_kernel_index

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
    step = _make_train_step(model, tf.keras.optimizers.SGD(0.0), tf.distribute.get_strategy(), 4,
                            100.0, model.trainable_variables, False, grad_index=index)  # fmt: skip
    # a decay of 100 would add 100 * |W| (far above the loss gradient) if it were counted
    _, _, norm = step(x, y)
    assert float(norm) == pytest.approx(expected, rel=1e-4)

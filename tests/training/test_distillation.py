import numpy as np
import pytest
import tensorflow as tf

from bnnzoo.training import recipes, train
from bnnzoo.training.distillation import distillation_stage, soft_target_loss
from bnnzoo.training.rundir import RunDir

# the teacher is tests/training/conftest.py's quick_run, which other modules share: keep the
# module on the worker that trains it
pytestmark = pytest.mark.xdist_group("quick_run")

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
def teacher_run(quick_run):
    """QUICK trained at lr 0.01 for two epochs (tests/training/conftest.py)."""
    return quick_run[0]


def test_distillation_from_a_trained_teacher(teacher_run, tmp_path):
    config = recipes.resolve(
        QUICK,
        [f"distillation.teacher={teacher_run / 'model.keras'}", "distillation.soft_epochs=1",
         "distillation.alpha=0.25"],
        epochs=2,
    )  # fmt: skip
    train(config, tmp_path, verbose=0)
    rows = RunDir(tmp_path).read_metrics()
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

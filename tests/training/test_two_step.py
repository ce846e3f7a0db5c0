"""Two-step training (ReActNet): real weights and their hand-over, the distribution loss, the
linear schedule, the recipes, and `bnnzoo two-step` killed with SIGKILL and resumed."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bnnzoo import zoo
from bnnzoo.training import recipes
from bnnzoo.training.distillation import distillation_stage
from bnnzoo.training.loop import build_model
from bnnzoo.training.optimizers import make_schedule
from bnnzoo.training.real_weights import binary_weight_layers, hand_over, real_weights
from bnnzoo.training.rundir import RunDir
from bnnzoo.training.steps import make_train_step
from bnnzoo.training.two_step import PLAN_FILE, step_config
from tests.cli._run import run
from tests.training._checkpoints import wait_for_mid_epoch_checkpoint

# the killed job of its module fixture is expensive: keep the module on one xdist worker
pytestmark = pytest.mark.xdist_group("two_step_job")

TINY = dict(widths=(8, 16), stem_width=8, input_shape=(8, 8, 1), num_classes=3,
            classifier_activation=None)  # fmt: skip
# the job of the tests: quick recipes at 16 px, 128 examples (4 steps per epoch of 32)
STUDENT = ["--recipe", "reactnet_fashion_mnist", "--quick", "--quiet", "--set", "input_size=16",
           "--set", "max_train_examples=128", "--set", "max_test_examples=64", "--set",
           "checkpoint_every_steps=2"]  # fmt: skip
JOB = [*STUDENT, "--teacher-set", "input_size=16"]


def _conv_output(layer, x, kernel):
    """A same-padded conv of sign(x) with ``kernel``: what a binary conv layer computes."""
    return tf.nn.conv2d(tf.sign(x), kernel, strides=1, padding="SAME").numpy()


def test_step1_has_real_weights_and_hands_them_over_to_the_binary_step2():
    binary = zoo.create_model("reactnet_a", **TINY)
    step1 = real_weights(binary)
    assert binary_weight_layers(binary) and not binary_weight_layers(step1)
    assert [layer.name for layer in step1.layers] == [layer.name for layer in binary.layers]
    conv1 = step1.get_layer("block1_conv3x3")
    assert conv1.input_quantizer is not None and conv1.kernel_constraint is None
    # step 1's weights made its own, then handed over
    x = tf.random.normal((4, 8, 8, 1), seed=1)
    step1.get_layer("block1_conv3x3").kernel.assign_add(tf.fill(conv1.kernel.shape, 0.01))
    step2 = zoo.create_model("reactnet_a", **TINY)
    hand_over(step1, step2)
    for a, b in zip(step1.get_weights(), step2.get_weights()):
        np.testing.assert_array_equal(a, b)
    conv2 = step2.get_layer("block1_conv3x3")
    assert conv2.kernel_constraint is not None  # step 2's weights are clipped again
    # the forward pass: step 1 convolves sign(x) with the real kernel, step 2 with its sign
    # scaled by each output channel's mean |w| (magnitude-aware)
    h = tf.random.normal((2, 8, 8, 8), seed=2)
    kernel = conv1.kernel.numpy()
    np.testing.assert_allclose(conv1(h).numpy(), _conv_output(conv1, h, kernel), atol=1e-5)
    binarized = np.sign(kernel) * np.abs(kernel).mean(axis=(0, 1, 2), keepdims=True)
    np.testing.assert_allclose(conv2(h).numpy(), _conv_output(conv2, h, binarized), atol=1e-5)
    assert not np.allclose(step1(x).numpy(), step2(x).numpy(), atol=1e-3)


def test_hand_over_refuses_another_architecture_and_real_weights_a_float_model():
    step1 = real_weights(zoo.create_model("reactnet_a", **TINY))
    wider = zoo.create_model("reactnet_a", **{**TINY, "widths": (16, 32), "stem_width": 16})
    with pytest.raises(ValueError, match="Cannot hand layer 'stem_conv' over: its weights"):
        hand_over(step1, wider)
    other = zoo.create_model("reactnet_a", **{**TINY, "widths": (8, 8)})
    with pytest.raises(ValueError, match=r"layers with weights differ \(block2_pw, "):
        hand_over(step1, other)
    floating = zoo.WideResNetCifar(d=1, n=1, input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="has no binary weights .* binary_weights=false"):
        real_weights(floating)


def test_distribution_loss_ignores_the_labels():
    """ReActNet's distribution loss is soft targets at temperature 1 in every epoch: changing
    the labels changes nothing, while Wu's combined stage (alpha 0.5) does depend on them."""
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    teacher = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    x = tf.random.normal((8, 4), seed=3)
    labels, other_labels = tf.zeros(8, tf.int64), tf.fill([8], tf.constant(2, tf.int64))

    def loss(distill, epoch, y):
        weights = [tf.Variable(w) for w in distillation_stage(distill, epoch)]
        step = make_train_step(model, tf.keras.optimizers.SGD(0.0), global_batch=8,
                               teacher=teacher, temperature=distill["temperature"],
                               distill_weights=weights)  # fmt: skip
        return float(step(x, y)[0])

    distribution = recipes.resolve("reactnet_fashion_mnist")["distillation"]
    assert distribution == {**recipes.DISTRIBUTION_LOSS, "teacher": None}
    for epoch in (0, 7):
        assert loss(distribution, epoch, labels) == loss(distribution, epoch, other_labels)
    combined = {"temperature": 1.0, "alpha": 0.5, "soft_epochs": 0}
    assert loss(combined, 0, labels) != loss(combined, 0, other_labels)
    kl = tf.keras.losses.KLDivergence()(tf.nn.softmax(teacher(x)), tf.nn.softmax(model(x)))
    assert loss(distribution, 0, labels) == pytest.approx(float(kl), rel=1e-5)


def test_linear_schedule_decays_to_zero():
    linear = make_schedule(5e-4, {"name": "linear"}, steps_per_epoch=10, total_steps=40)
    rates = [float(linear(step)) for step in (0, 20, 40)]
    assert rates == pytest.approx([5e-4, 2.5e-4, 0.0], abs=1e-9)


def test_the_paper_recipe_and_its_two_steps():
    config = recipes.resolve("reactnet_imagenet")
    assert (config["model"], config["batch_size"], config["epochs"]) == ("reactnet_a", 256, 256)
    assert config["optimizer"]["lr"] == 5e-4 and config["schedule"]["name"] == "linear"
    step1, step2 = step_config(config, 1), step_config(config, 2)
    assert (step1["binary_weights"], step1["optimizer"]["weight_decay"]) == (False, 1e-5)
    assert (step2["binary_weights"], step2["optimizer"]["weight_decay"]) == (True, 0.0)
    shape = dict(input_shape=(16, 16, 1), num_classes=3)
    quick = step_config(recipes.resolve("reactnet_fashion_mnist_quick"), 1)
    assert not binary_weight_layers(build_model(quick, **shape))


@pytest.fixture(scope="module")
def killed_job(tmp_path_factory):
    """`bnnzoo two-step` in a real process, killed with SIGKILL after a mid-epoch checkpoint of
    step 1 (the teacher finished), then resumed in this process."""
    out = tmp_path_factory.mktemp("job") / "job"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "bnnzoo.cli", "two-step", *JOB, "--out", str(out)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    number = wait_for_mid_epoch_checkpoint(process, out / "step1", 4, timeout=300)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert number is not None, "step 1 wrote no mid-epoch checkpoint before the job ended"
    state = json.loads((out / PLAN_FILE).read_text())
    return out, state


def test_a_job_killed_in_step1_resumes_there_and_finishes(killed_job, capsys):
    out, killed_state = killed_job
    assert list(killed_state["done"]) == ["teacher"]
    assert not (out / "step1" / "model.keras").exists()
    code, stdout, err = run(capsys, "two-step", "--resume", str(out))
    assert code == 0, err
    assert "Resumed" in stdout and "binary activations and weights" in stdout
    state = json.loads((out / PLAN_FILE).read_text())
    assert list(state["done"]) == ["teacher", "step1", "step2"]
    assert len(RunDir(out / "teacher").read_metrics()) == 2  # not trained again
    results = json.loads((out / "results.json").read_text())
    assert results["train_seconds"] == pytest.approx(
        sum(step["train_seconds"] for step in results["steps"].values())
    )
    step1, step2 = (RunDir(out / name).read_config() for name in ("step1", "step2"))
    teacher = str(out / "teacher" / "model.keras")
    assert step1["distillation"]["teacher"] == step2["distillation"]["teacher"] == teacher
    assert (step1["binary_weights"], step1["optimizer"]["weight_decay"]) == (False, 1e-5)
    assert (step2["binary_weights"], step2["optimizer"]["weight_decay"]) == (True, 0.0)
    # step 2's model starts with step 1's trained weights
    assert step2["model_kwargs"]["weights"] == str(out / "step1" / "model.weights.h5")
    shape = dict(input_shape=(16, 16, 1), num_classes=10)
    start = build_model(step2, **shape)
    trained1 = tf.keras.models.load_model(out / "step1" / "model.keras")
    for a, b in zip(trained1.get_weights(), start.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_job_killed_between_steps_reads_finished_steps_back(killed_job, capsys):
    out, _ = killed_job
    if not (out / "results.json").exists():
        pytest.skip("needs the finished job of the test before")
    state = json.loads((out / PLAN_FILE).read_text())
    del state["done"]["step2"]  # killed after step 2's results, before the plan recorded them
    (out / PLAN_FILE).write_text(json.dumps(state))
    rows = len(RunDir(out / "step2").read_metrics())
    code, stdout, err = run(capsys, "two-step", "--resume", str(out), "--quiet")
    assert code == 0, err
    assert len(RunDir(out / "step2").read_metrics()) == rows  # nothing trained again
    assert list(json.loads((out / PLAN_FILE).read_text())["done"]) == ["teacher", "step1", "step2"]


OUT = ["--out", "{t}/job"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--recipe", "reactnet_imagenet", *OUT], "has no teacher: two-step training distills"),
        ([*STUDENT, *OUT, "--teacher", "{t}/missing.keras"], "Teacher: No saved model at"),
        ([*JOB, *OUT, "--teacher", "{t}/missing.keras"], "Drop --teacher-set"),
        ([*JOB, *OUT, "--teacher-recipe", "nope"], "Unknown recipe 'nope'"),
        ([*STUDENT, *OUT, "--teacher", "{t}/x.keras", "--teacher-recipe", "quickstart"],
         "Pass one"),
        ([*JOB, *OUT, "--set", "two_step.step1_weight_decay=-1"], "to be a number >= 0"),
        (["--recipe", "wide_resnet_fashion_mnist", "--quick", *OUT, "--teacher-recipe",
          "wide_resnet_fashion_mnist"], "Step 1 of 'wide_resnet_fashion_mnist_quick': Model"),
        (["--resume", "{t}/none"], "Nothing to resume in"),
        (["--resume", "{t}/none", "--recipe", "quickstart"], "do not combine"),
        (["--recipe", "reactnet_fashion_mnist"], "needs --recipe R and --out DIR"),
    ],
)  # fmt: skip
def test_bad_inputs_are_refused_in_one_line_before_anything_is_written(
    args, message, tmp_path, capsys
):
    args = [a.replace("{t}", str(tmp_path)) for a in args]
    code, stdout, err = run(capsys, "two-step", *args)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not stdout
    assert not list(tmp_path.iterdir())

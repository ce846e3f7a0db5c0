import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import bnnzoo  # noqa: E402,F401  (selects Keras 2; must come before TensorFlow)

# isort: split
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Free the models of the previous test: the suite builds hundreds of them."""
    yield
    tf.keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize(model: tf.keras.Model, rng) -> list[np.ndarray]:
    """Give every weight a random value (moving variances positive) and return them."""
    values = []
    for weight in model.weights:
        value = rng.normal(size=weight.shape).astype("float32")
        if "moving_variance" in weight.name:
            value = np.abs(value) + 0.5
        values.append(value)
    model.set_weights(values)
    return values


# The small quickstart of tests/test_quickstart.py: digits, a two-stage ResNetE, 256 training
# images, 16×16 (the whole path in well under a minute).
QUICKSTART_SMALL = (
    'model_kwargs={"blocks_per_stage": [1, 1], "filters": [32, 64]}',
    "max_train_examples=256",
    "input_size=16",
)


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory):
    """One whole quickstart on a machine without Fashion-MNIST (a data dir without its files),
    as ``make demo`` runs it: "auto" dataset, printing to a file (not a terminal); its folder,
    its result and what it printed.

    tests/test_quickstart.py checks the run; tests/test_examples.py runs the export and engine
    examples on the model it trained (``run/model.keras``: two epochs on digits, 16×16×1). Both
    modules are in the xdist group "quickstart", so one worker makes the run once for both.
    """
    import contextlib
    import io

    from bnnzoo import quickstart

    out = tmp_path_factory.mktemp("quickstart")
    no_fashion_mnist = tmp_path_factory.mktemp("no-fashion-mnist")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = quickstart.quickstart(out, dataset="auto", data_dir=no_fashion_mnist, epochs=2,
                                       overrides=QUICKSTART_SMALL, runs=2, eval_images=48,
                                       verbose=1)  # fmt: skip
    return out, result, printed.getvalue()


@pytest.fixture
def tiny_model_factory():
    """A small ResNetE that builds in well under a second, for weight-file tests."""
    from bnnzoo import zoo

    def build(**kwargs):
        kwargs.setdefault("input_shape", (16, 16, 3))
        kwargs.setdefault("num_classes", 4)
        return zoo.BinaryResNetE(blocks_per_stage=(1, 1), filters=(8, 16), **kwargs)

    return build

import subprocess
import sys

import pytest


def _run(code: str, env_extra: dict | None = None):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )


def test_import_selects_keras_2_before_tensorflow():
    result = _run("import bnnzoo, tensorflow as tf; print(tf.keras.layers.Layer.__module__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras.")


def test_import_after_tensorflow_works_when_the_variable_was_set_first():
    code = "import tensorflow as tf, bnnzoo; print(tf.keras.layers.Layer.__module__)"
    result = _run(code, {"TF_USE_LEGACY_KERAS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras.")


@pytest.mark.parametrize(
    "code",
    ["import tensorflow; import bnnzoo", "import tensorflow as tf; tf.keras.layers; import bnnzoo"],
)
def test_import_after_tensorflow_with_keras_3_explains_the_fix(code):
    result = _run(code)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1" in result.stderr
    assert "before importing" in result.stderr


def test_autograph_leaves_keras_2_alone_and_converts_the_rest():
    """After ``import bnnzoo`` AutoGraph skips tf_keras' code, as it skips Keras 3's (bnnzoo's
    ``_autograph``), and still converts larq's and bnnzoo's; the rule is added once."""
    import larq as lq
    import tensorflow as tf
    from tensorflow.python.autograph.core import config
    from tensorflow.python.autograph.impl import conversion

    from bnnzoo import layers
    from bnnzoo._autograph import skip_tf_keras

    assert conversion.is_allowlisted(tf.keras.Model.train_step)
    assert conversion.is_allowlisted(tf.keras.layers.Conv2D.call)
    assert not conversion.is_allowlisted(lq.layers.QuantConv2D.call)
    assert not conversion.is_allowlisted(layers.RSign.call)
    rules = config.CONVERSION_RULES
    assert skip_tf_keras() is False and rules == config.CONVERSION_RULES
    assert sum(rule.matches("tf_keras") for rule in rules) == 1

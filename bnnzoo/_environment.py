"""Select Keras 2 (tf-keras) before TensorFlow is imported.

larq is built on Keras 2. TensorFlow 2.16 ships Keras 3 as ``tf.keras`` unless the environment
variable ``TF_USE_LEGACY_KERAS=1`` is set *before* TensorFlow is first imported, so this module
must run before anything imports TensorFlow.
"""

from __future__ import annotations

import os
import sys

_FIX = (
    "Import bnnzoo (or set the environment variable TF_USE_LEGACY_KERAS=1) before importing "
    "tensorflow, keras or larq, e.g. put `import bnnzoo` at the top of your script, or run "
    "`TF_USE_LEGACY_KERAS=1 python your_script.py`."
)


def select_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1``, or fail if TensorFlow already runs on Keras 3."""
    if "tensorflow" not in sys.modules:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        return
    keras_version = _tf_keras_version()
    if keras_version is not None and not keras_version.startswith("2."):
        raise ImportError(
            f"bnnzoo needs Keras 2 (tf-keras), but TensorFlow was already imported with Keras "
            f"{keras_version} as tf.keras. {_FIX}"
        )
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def _tf_keras_version() -> str | None:
    tf = sys.modules["tensorflow"]
    try:
        return tf.keras.__version__
    except Exception:  # tf.keras is resolved lazily; a broken install shows up later anyway
        return None

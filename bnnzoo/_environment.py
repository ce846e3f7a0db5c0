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
    """Set ``TF_USE_LEGACY_KERAS=1``, or fail if TensorFlow was imported without it.

    TensorFlow binds parts of ``tf.keras`` (its optimizers among them) when it is imported, so
    setting the variable afterwards leaves a mix of Keras 2 and Keras 3 that breaks larq. The
    only safe orders are: bnnzoo first, or the variable set before TensorFlow is imported.
    """
    already_legacy = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true")
    if "tensorflow" in sys.modules and not already_legacy:
        raise ImportError(
            f"bnnzoo needs Keras 2 (tf-keras), but TensorFlow was imported before bnnzoo without "
            f"TF_USE_LEGACY_KERAS=1, so tf.keras is Keras 3. {_FIX}"
        )
    os.environ["TF_USE_LEGACY_KERAS"] = "1"

"""Set the process environment that TensorFlow reads once, before it is imported.

Two things must happen before TensorFlow's first import, so ``bnnzoo/__init__`` does them first:

* Keras 2: larq is built on Keras 2, and TensorFlow 2.16 ships Keras 3 as ``tf.keras`` unless
  ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported (``select_legacy_keras``).
* Quiet native logs, for the ``bnnzoo`` command only: TensorFlow's C++ code (and the copy inside
  Larq Compute Engine's converter) reads ``TF_CPP_MIN_LOG_LEVEL`` when it loads and then prints
  its start-up lines (CUDA, cuFFT/cuDNN/cuBLAS factories, CPU features, TensorRT) and the MLIR
  converter's chatter below that level. When this process is the command (the console script
  or ``python -m bnnzoo.cli``) without ``--verbose``, the variable is set to 3 unless the user
  set it. A script that imports bnnzoo keeps TensorFlow's settings as they are.
"""

from __future__ import annotations

import ntpath
import os
import sys
from collections.abc import Sequence

_FIX = (
    "Import bnnzoo (or set the environment variable TF_USE_LEGACY_KERAS=1) before importing "
    "tensorflow, keras or larq, e.g. put `import bnnzoo` at the top of your script, or run "
    "`TF_USE_LEGACY_KERAS=1 python your_script.py`."
)

# what ``python -m`` runs when the process is the command
_COMMAND_MODULES = ("bnnzoo.cli", "bnnzoo.cli.__main__")
VERBOSE_FLAG = "--verbose"


def select_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1``, or fail if TensorFlow was imported without it; then quiet
    TensorFlow's native logs if this process is the ``bnnzoo`` command (``quiet_native_logs``).

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
    quiet_native_logs()


def quiet_native_logs(
    argv: Sequence[str] | None = None, orig_argv: Sequence[str] | None = None
) -> bool:
    """Set ``TF_CPP_MIN_LOG_LEVEL=3`` (fatal errors only) if this process is the ``bnnzoo``
    command without ``--verbose`` and the variable is unset; returns whether it set it.

    ``argv`` and ``orig_argv`` default to ``sys.argv`` and ``sys.orig_argv``.
    """
    argv = sys.argv if argv is None else argv
    if not is_command(argv, orig_argv) or VERBOSE_FLAG in argv[1:]:
        return False
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:  # the user's choice
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return True


def is_command(argv: Sequence[str] | None = None, orig_argv: Sequence[str] | None = None) -> bool:
    """Whether this process is the ``bnnzoo`` command, judged while bnnzoo is first imported.

    The console script runs with its own path in ``argv[0]`` (``.../bin/bnnzoo``, or
    ``bnnzoo.exe`` / ``bnnzoo-script.py`` on Windows). ``python -m MODULE`` imports MODULE's
    packages with ``argv[0] == "-m"``; the interpreter's own command line then names MODULE.
    """
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", ()) if orig_argv is None else orig_argv
    if not argv:
        return False
    if argv[0] != "-m":
        # ntpath: splits at "/" and "\\" alike
        stem = ntpath.splitext(ntpath.basename(argv[0]))[0]
        return stem.removesuffix("-script") == "bnnzoo"
    for i, arg in enumerate(orig_argv[1:], start=1):
        if arg == "-m":
            return i + 1 < len(orig_argv) and orig_argv[i + 1] in _COMMAND_MODULES
        if arg.startswith("-m"):
            return arg[2:] in _COMMAND_MODULES
    return False

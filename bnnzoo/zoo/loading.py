"""Turn what a user names into a Keras model: a model as it is, a saved model file or folder,
or a registered zoo name (built, optionally without its softmax).

Every converter, ``bnnzoo bench`` and ``bnnzoo export`` take a model this way. A saved model
that cannot be read (truncated, not a model at all) is refused with a ValueError that names the
file (``load_saved_model``, ``check_model_file``), never an error from h5py or zipfile.

Example:
    >>> from bnnzoo.zoo.loading import load_or_build
    >>> load_or_build("binary_densenet28", input_shape=(224, 224, 3)).name
    'binary_densenet28'
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import tensorflow as tf

from bnnzoo.zoo.registry import create_model

SAVED_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def load_or_build(
    model: tf.keras.Model | str | os.PathLike,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
    logits: bool = False,
) -> tf.keras.Model:
    """A Keras model from a model, a saved file (``.keras``, ``.h5``, SavedModel folder) or a
    registered zoo name; ``input_shape``, ``num_classes`` and ``weights`` only apply to names.
    ``logits=True`` builds a zoo name without its softmax (for numeric checks, where a
    saturated softmax would magnify or hide differences); models and files are returned as
    they are.

    Example:
        >>> load_or_build("binary_densenet28", input_shape=(224, 224, 3))
        >>> load_or_build("runs/cifar/model.keras")
    """
    build_options = {"input_shape": input_shape, "num_classes": num_classes, "weights": weights}
    given = sorted(k for k, v in build_options.items() if v is not None)
    if isinstance(model, tf.keras.Model):
        if given:
            raise ValueError(
                f"{', '.join(given)} only apply when building a zoo model by name. Received a "
                f"Keras model together with {given}; drop them."
            )
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise ValueError(
            f"Expected a Keras model, a saved model path or a zoo name. Received: "
            f"{type(model).__name__}."
        )
    text = os.fspath(model)
    path = Path(text)
    if path.suffix.lower() == ".tflite":
        raise ValueError(
            f"{text!r} is a TFLite flatbuffer already. Pass the Keras model it came from (a "
            f".keras/.h5 file, a SavedModel folder or a zoo name) to convert and check it."
        )
    if path.exists():
        if given:
            raise ValueError(
                f"{', '.join(given)} only apply when building a zoo model by name; {text!r} is "
                f"a saved model, whose shape and weights are fixed. Drop them."
            )
        return load_saved_model(path)
    if os.sep in text or "/" in text or path.suffix.lower() in (*SAVED_MODEL_SUFFIXES, ".tf"):
        raise FileNotFoundError(
            f"No saved model at {text!r}. Pass an existing .keras/.h5 file or SavedModel folder, "
            f"or a zoo name (`bnnzoo list`)."
        )
    if logits:
        build_options["classifier_activation"] = None
    return create_model(text, **build_options)  # ValueError with the nearest names


def check_model_file(path: str | os.PathLike) -> Path:
    """``path`` if it looks like a saved Keras model (a ``.keras`` archive, an HDF5 file or a
    SavedModel folder), checked from its first bytes without loading it; else a ValueError
    (FileNotFoundError when there is nothing at ``path``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No saved model at {str(path)!r}. Pass an existing .keras/.h5 file or SavedModel "
            f"folder (e.g. RUN_DIR/model.keras of `bnnzoo train`)."
        )
    if path.is_dir():
        problem = None if (path / "saved_model.pb").is_file() else "a folder without saved_model.pb"
    elif path.stat().st_size == 0:
        problem = "the file is empty"
    elif path.suffix.lower() == ".keras":
        problem = None if _is_keras_archive(path) else "not a .keras archive (truncated or damaged)"
    else:
        import h5py

        problem = None if h5py.is_hdf5(path) else "not an HDF5 file (truncated or damaged)"
    if problem:
        raise ValueError(_unreadable(path, problem))
    return path


def load_saved_model(path: str | os.PathLike, *, compile: bool = True) -> tf.keras.Model:
    """The Keras model saved at ``path`` (larq's layers registered), or a ValueError that names
    the file and what is wrong with it."""
    path = check_model_file(path)
    import larq  # noqa: F401  (registers larq's layers for deserialization)

    try:
        return tf.keras.models.load_model(path, compile=compile)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, tf.errors.OpError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ValueError(_unreadable(path, reason)) from None


def _is_keras_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _unreadable(path: Path, problem: str) -> str:
    return (
        f"{str(path)!r} is not a readable Keras model: {problem}. Expected a model saved with "
        f"model.save() (.keras or .h5) or a SavedModel folder; save the model again, or check "
        f"the path."
    )

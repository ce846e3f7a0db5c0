"""Turn what a user names into a Keras model: a model as it is, a saved model file or folder,
or a registered zoo name (built, optionally without its softmax).

Every converter, ``bnnzoo bench`` and ``bnnzoo export`` take a model this way.

Example:
    >>> from bnnzoo.zoo.loading import load_or_build
    >>> load_or_build("binary_densenet28", input_shape=(224, 224, 3)).name
    'binary_densenet28'
"""

from __future__ import annotations

import os
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
        import larq  # noqa: F401  (registers larq's layers for deserialization)

        return tf.keras.models.load_model(path)
    if os.sep in text or "/" in text or path.suffix.lower() in (*SAVED_MODEL_SUFFIXES, ".tf"):
        raise FileNotFoundError(
            f"No saved model at {text!r}. Pass an existing .keras/.h5 file or SavedModel folder, "
            f"or a zoo name (`bnnzoo list`)."
        )
    if logits:
        build_options["classifier_activation"] = None
    return create_model(text, **build_options)  # ValueError with the nearest names

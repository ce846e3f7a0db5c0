"""What an engine is checked on, and against: the inputs (``random_inputs``, or the caller's,
``check_inputs``), the model's weights where it has none of its own (``randomize_weights``,
``looks_untrained``) and Keras' outputs on those inputs (``keras_outputs``).

``verify`` compares an engine's outputs with these; ``exact`` makes the weights tie-free first.

Example:
    >>> model = randomize_weights(zoo.BinaryResNetE18(input_shape=(224, 224, 3)), seed=0)
    >>> reference = keras_outputs(model, random_inputs(model, n=4))
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bnnzoo._checks import positive_int
from bnnzoo.analysis import flat_layers


def random_inputs(model: tf.keras.Model, n: int = 8, seed: int = 0) -> np.ndarray:
    """``n`` standard-normal inputs of the model's input shape (roughly the range of
    preprocessed images), reproducible from ``seed``."""
    check_single_io(model)
    positive_int("n", n, hint="Pass e.g. n=8.")
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)).astype(model.inputs[0].dtype.as_numpy_dtype)


def keras_outputs(model: tf.keras.Model, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """What Keras computes on ``inputs``: ``model(x, training=False)``, ``batch_size`` inputs at
    a time, the reference every check compares an engine with.

    An eager call, not ``model.predict``: ``predict`` traces and compiles a graph for each
    model it is given, once, and a check runs each model once, so it would pay that every
    time (BinaryDenseNet28 at 32×32, 4 inputs: 9.9 s of CPU against 0.32 s eagerly, on a
    2-core AMD EPYC). The two round differently only where a value is within rounding of
    a sign's threshold (``verify``'s module docstring).

    Example:
        >>> keras_outputs(model, random_inputs(model, n=4)).shape
        (4, 1000)
    """
    positive_int("batch_size", batch_size, hint="Pass e.g. batch_size=32.")
    return np.concatenate(
        [
            np.asarray(model(inputs[i : i + batch_size], training=False))
            for i in range(0, len(inputs), batch_size)
        ]
    )


def looks_untrained(model: tf.keras.Model) -> bool:
    """True when every BatchNorm of the model still has its initial statistics (moving mean
    0 and variance 1): the weights have never been trained or loaded, and a numeric check
    between engines is meaningless (see ``verify``'s module docstring).

    Example:
        >>> looks_untrained(zoo.BinaryResNetE18())
        True
    """
    norms = _batch_norms(model)
    return bool(norms) and all(
        np.all(layer.moving_mean.numpy() == 0) and np.all(layer.moving_variance.numpy() == 1)
        for layer in norms
    )


def randomize_weights(
    model: tf.keras.Model,
    *,
    seed: int = 0,
    inputs: np.ndarray | None = None,
    n: int = 8,
) -> tf.keras.Model:
    """Give a model random weights and BatchNorm statistics measured on data, in place.

    A converter is best checked on trained weights. Without them, neither an untrained model
    (BatchNorm at mean 0, variance 1, offset 0 passes the integer outputs of binary convs to
    ``sign`` unchanged, so exact zeros make the sign a matter of float rounding) nor plain
    random weights (activations grow to ~1e6 through concatenations and shortcuts, so
    BatchNorm's ``x - mean`` cancels catastrophically right before ``sign``) is a fair test.
    This draws every weight from N(0, 1) and then sets each BatchNorm's moving mean and
    variance to the statistics of its input on ``inputs`` (one forward pass in training mode
    with momentum 0), as training would: every pre-sign value is then O(1) with a random
    offset, like in a trained network.

    Args:
        model: the Keras model, changed in place.
        seed: seed of the weights and of the random inputs.
        inputs: batch to measure the statistics on; None draws ``n`` standard-normal inputs.
        n: size of the random batch.

    Returns:
        The same model.

    Example:
        >>> model = randomize_weights(zoo.BinaryResNetE18(input_shape=(224, 224, 3)), seed=0)
        >>> verify_engine(model, lce_engine(to_tflite(model))).passed
        True
    """
    check_single_io(model)
    batch = random_inputs(model, n, seed) if inputs is None else check_inputs(model, inputs)
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(size=w.shape).astype(w.dtype.as_numpy_dtype) for w in model.weights]
    )
    norms = _batch_norms(model)
    momenta = [layer.momentum for layer in norms]
    try:
        for layer in norms:
            layer.momentum = 0.0  # the moving statistics become those of this batch
        model(batch, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    return model


def _batch_norms(model: tf.keras.Model) -> list:
    return [l for l in flat_layers(model) if isinstance(l, tf.keras.layers.BatchNormalization)]


def check_single_io(model) -> None:
    """A ValueError unless ``model`` is a Keras 2 model with one input of fixed shape and one
    output: what the checks compare."""
    if not isinstance(model, tf.keras.Model):
        raise ValueError(
            f"Expected a Keras 2 model (tf.keras.Model). Received: {type(model).__name__}."
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"verify compares models with one input and one output; {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    if any(d is None for d in model.inputs[0].shape[1:]):
        raise ValueError(
            f"verify needs a fixed input shape; {model.name!r} has input shape "
            f"{tuple(model.inputs[0].shape)}. Build it with a fixed input_shape."
        )


def check_inputs(model: tf.keras.Model, inputs) -> np.ndarray:
    """``inputs`` as an array of the model's input dtype, or a ValueError unless it is a batch
    (n >= 1) of the model's input shape."""
    expected = tuple(model.inputs[0].shape[1:])
    array = np.asarray(inputs, dtype=model.inputs[0].dtype.as_numpy_dtype)
    if array.ndim != len(expected) + 1 or tuple(array.shape[1:]) != expected or not len(array):
        hint = " Add a batch axis, e.g. x[None]." if tuple(array.shape) == expected else ""
        raise ValueError(
            f"Expected inputs of shape (n, {', '.join(map(str, expected))}) with n >= 1 for "
            f"model {model.name!r}. Received shape {tuple(array.shape)}.{hint}"
        )
    return array

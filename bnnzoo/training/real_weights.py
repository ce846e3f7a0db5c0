"""Binary activations with real-valued weights, the first step of ReActNet's two-step training
(Liu, Shen, Savvides, Cheng 2020, "ReActNet: Towards Precise Binary Neural Network with
Generalized Activation Functions", §4.1), and the hand-over of its weights to the fully binary
model of the second step.

``real_weights(model)`` rebuilds any functional larq model from its config with the weight
quantizer of every binary layer removed (``kernel_quantizer``, and the ``depthwise_`` and
``pointwise_`` ones of separable layers) and the ``input_quantizer`` kept: the activations stay
binary, the weights are trained as real numbers. The ``WeightClip`` constraint of such a layer
goes too: it keeps latent weights inside the straight-through estimator's pass-through range,
which real weights do not have (the authors' step 1 trains plain real-valued convolutions,
without a clip). Any other constraint stays. Layer names and weight shapes do not change, so
``hand_over(step1_model, step2_model)`` copies the trained weights back into the binary model,
whose constraint clips them at its first update.

Example:
    >>> step1 = real_weights(zoo.create_model("reactnet_a", input_shape=(32, 32, 3)))
    >>> step2 = zoo.create_model("reactnet_a", input_shape=(32, 32, 3))
    >>> hand_over(step1, step2)  # step 2 starts from step 1's weights
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bnnzoo.analysis import flat_layers

# a binary layer's weight quantizers, each with the constraint of the same weights
WEIGHT_QUANTIZERS = {
    "kernel_quantizer": "kernel_constraint",
    "depthwise_quantizer": "depthwise_constraint",
    "pointwise_quantizer": "pointwise_constraint",
}
# the constraint that exists only for the straight-through estimator of binary weights
CLIP_CONSTRAINTS = ("WeightClip", "weight_clip")


def binary_weight_layers(model: tf.keras.Model) -> list[str]:
    """The names of the layers of ``model`` (nested models included) whose weights are
    quantized."""
    return [
        layer.name
        for layer in flat_layers(model)
        if any(getattr(layer, key, None) is not None for key in WEIGHT_QUANTIZERS)
    ]


def real_weights(model: tf.keras.Model) -> tf.keras.Model:
    """``model`` with real-valued weights in its binary layers and its inputs still binarized.

    Args:
        model: a functional or sequential Keras model with larq quantized layers.

    Returns:
        A new model of the same layer names and weights (copied), whose binary layers have no
        weight quantizer and no ``WeightClip``; their ``input_quantizer`` is unchanged.

    Raises:
        ValueError: ``model`` is a subclassed model (it has no config to rebuild from), or has
            no quantized weights to make real.
    """
    if not binary_weight_layers(model):
        raise ValueError(
            f"Model {model.name!r} has no binary weights (no layer with a kernel_quantizer): "
            f"binary_weights=false has nothing to make real. Expected a larq model with binary "
            f"layers; pick a binary model, or keep binary_weights=true for this one."
        )
    try:
        config = model.get_config()
    except NotImplementedError:
        raise ValueError(
            f"Model {model.name!r} is a subclassed Keras model: it has no config to rebuild with "
            f"real weights. Build it with the functional API (as every zoo model is)."
        ) from None
    _drop_weight_quantizers(config)
    rebuilt = type(model).from_config(config)
    hand_over(model, rebuilt)
    return rebuilt


def _drop_weight_quantizers(node) -> None:
    """Remove, in place, every weight quantizer and the clip of the same weights from a
    (nested) model config."""
    if isinstance(node, list):
        for item in node:
            _drop_weight_quantizers(item)
        return
    if not isinstance(node, dict):
        return
    for quantizer, constraint in WEIGHT_QUANTIZERS.items():
        if node.get(quantizer) is not None:
            node[quantizer] = None
            if _is_clip(node.get(constraint)):
                node[constraint] = None
    for value in node.values():
        _drop_weight_quantizers(value)


def _is_clip(constraint) -> bool:
    if isinstance(constraint, dict):
        constraint = constraint.get("class_name")
    return isinstance(constraint, str) and constraint.rsplit(">", 1)[-1] in CLIP_CONSTRAINTS


def hand_over(source: tf.keras.Model, target: tf.keras.Model) -> None:
    """Copy every weight of ``source`` into the layer of the same name in ``target``, all or
    nothing: the second step of ReActNet's training starts from the first step's weights.

    Raises:
        ValueError: the two models differ in their layers with weights or in a weight's shape
            (nothing is copied then).
    """
    sources = {layer.name: layer for layer in flat_layers(source) if layer.weights}
    targets = {layer.name: layer for layer in flat_layers(target) if layer.weights}
    if sorted(sources) != sorted(targets):
        only = sorted(set(sources) ^ set(targets))[:5]
        raise ValueError(
            f"Cannot hand the weights of {source.name!r} over to {target.name!r}: their layers "
            f"with weights differ ({', '.join(only)} in one only). Expected the same model with "
            f"real and binary weights; build both from the same config."
        )
    pairs = []
    for name, layer in sources.items():
        values = layer.get_weights()
        shapes = [tuple(w.shape) for w in targets[name].weights]
        if [np.shape(v) for v in values] != shapes:
            raise ValueError(
                f"Cannot hand layer {name!r} over: its weights have shapes "
                f"{[np.shape(v) for v in values]} in {source.name!r} and {shapes} in "
                f"{target.name!r}. Build both models with the same arguments and input shape."
            )
        pairs.extend(zip(targets[name].weights, values))
    tf.keras.backend.batch_set_value(pairs)


__all__ = ["binary_weight_layers", "hand_over", "real_weights"]

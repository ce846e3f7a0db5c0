"""larq-zoo's own models, registered in bnnzoo: the nine networks larq-zoo 2.4 publishes that
bnnzoo does not re-implement, built by larq-zoo's code and loaded with its published weights.

Each factory is a thin keyword-only wrapper: it checks bnnzoo's Keras-applications arguments
(``input_shape``, ``input_tensor``, ``weights``, ``include_top``, ``num_classes``,
``classifier_activation``, ``pooling``) before anything is built, calls ``larq_zoo.literature.X``
or ``larq_zoo.sota.X`` with ``weights=None``, loads the weights with bnnzoo's strict loader
(``weights="imagenet"``: larq-zoo's release file, downloaded once and checked against the
SHA-256 in ``bnnzoo.zoo.pretrained``), and names the model after its registry entry.

Example:
    >>> from bnnzoo import zoo
    >>> zoo.list_models(family="larq_zoo")
    ['binary_alexnet', 'birealnet', 'dorefanet', 'meliusnet22', 'quicknet', 'quicknet_large',
     'quicknet_small', 'real_to_binary_net', 'xnornet']
    >>> model = zoo.create_model("quicknet", weights="imagenet")
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
from dataclasses import dataclass

import tensorflow as tf

from bnnzoo.layers import AddToLastChannels, ChannelSplit
from bnnzoo.zoo import _common
from bnnzoo.zoo import weights as weights_lib
from bnnzoo.zoo.papers import (
    BANNINK_2021,
    BETHGE_2020,
    HUBARA_2016,
    LIU_2018,
    MARTINEZ_2020,
    RASTEGARI_2016,
    ZHOU_2016,
    Paper,
)
from bnnzoo.zoo.pretrained import IMAGENET
from bnnzoo.zoo.registry import IMAGENET_SHAPE, register_model

FAMILY = "larq_zoo"

# What importing larq-zoo registers with Keras (``lq.utils.register_keras_custom_object``), by
# name: the module that defines it and its ``precision`` (larq's ``set_precision``). A saved
# QuickNet, XNOR-Net or DoReFa-Net names them; larq-zoo is imported only when one of its models
# is built (``LarqZooModel.function``), so every name gets a stand-in at import that imports
# larq-zoo on its first call and calls larq-zoo's own function. Importing larq-zoo replaces
# the stand-ins with its own functions.
LARQ_ZOO_OBJECTS = {
    "blurpool_initializer": ("larq_zoo.sota.quicknet", None),
    "xnor_weight_scale": ("larq_zoo.literature.xnornet", 1),
    "magnitude_aware_sign_unclipped": ("larq_zoo.literature.dorefanet", 1),
    "clip_by_value_activation": ("larq_zoo.literature.dorefanet", None),
}


def _stand_in(name: str, module: str, precision: int | None):
    def stand_in(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__module__ = module  # what Keras writes when it saves a model that uses it
    stand_in.__doc__ = f"larq-zoo's ``{module}.{name}``, imported on the first call."
    if precision is not None:
        stand_in.precision = precision
    return stand_in


def register_stand_ins() -> None:
    """Register a stand-in for every name of ``LARQ_ZOO_OBJECTS`` that Keras does not know yet."""
    objects = tf.keras.utils.get_custom_objects()
    for name, (module, precision) in LARQ_ZOO_OBJECTS.items():
        objects.setdefault(name, _stand_in(name, module, precision))


register_stand_ins()


@dataclass(frozen=True)
class LarqZooModel:
    """How bnnzoo builds one larq-zoo model.

    Attributes:
        name: the registry name.
        larq_zoo_name: the function in ``larq_zoo.literature`` or ``larq_zoo.sota``.
        paper: the paper the architecture comes from.
        published_params: larq-zoo's parameter count at 224×224×3 with 1000 classes.
        min_size: the smallest side the network builds at (its unpadded pooling and convs
            need it); smaller inputs are refused before anything is built.
        flat_head: the classifier flattens a feature map, so the ImageNet classifier only
            fits 224×224 inputs.
    """

    name: str
    larq_zoo_name: str
    paper: Paper
    published_params: int
    min_size: int = 8
    flat_head: bool = False

    def function(self):
        """larq-zoo's model function."""
        import larq_zoo  # here, not at import: it costs every process ~1.8 s of CPU

        for package in (larq_zoo.sota, larq_zoo.literature):
            if hasattr(package, self.larq_zoo_name):
                return getattr(package, self.larq_zoo_name)
        raise AttributeError(f"larq-zoo has no model {self.larq_zoo_name!r}")  # pragma: no cover


MODELS = (
    LarqZooModel("quicknet", "QuickNet", BANNINK_2021, 13_234_088, min_size=29),
    LarqZooModel("quicknet_small", "QuickNetSmall", BANNINK_2021, 12_655_688, min_size=29),
    LarqZooModel("quicknet_large", "QuickNetLarge", BANNINK_2021, 23_342_248, min_size=29),
    LarqZooModel("birealnet", "BiRealNet", LIU_2018, 11_699_112),
    LarqZooModel(
        "binary_alexnet", "BinaryAlexNet", HUBARA_2016, 61_859_192, min_size=57, flat_head=True
    ),
    LarqZooModel("dorefanet", "DoReFaNet", ZHOU_2016, 62_403_912, min_size=44, flat_head=True),
    LarqZooModel("meliusnet22", "MeliusNet22", BETHGE_2020, 6_944_584),
    LarqZooModel("real_to_binary_net", "RealToBinaryNet", MARTINEZ_2020, 11_995_624),
    LarqZooModel("xnornet", "XNORNet", RASTEGARI_2016, 62_396_768, min_size=217, flat_head=True),
)


@_common.builder
def build(
    spec: LarqZooModel,
    *,
    input_shape: tuple | None = None,
    input_tensor: tf.Tensor | None = None,
    weights: str | None = None,
    include_top: bool = True,
    num_classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: str | None = None,
    clip_value: float | None = None,
    name: str | None = None,
) -> tf.keras.Model:
    """Build ``spec``'s model with larq-zoo's code and bnnzoo's arguments.

    Args:
        spec: one of ``MODELS``.
        input_shape, input_tensor, weights, include_top, num_classes, classifier_activation:
            as in Keras applications (``weights``: None, ``"imagenet"``, a file or an
            ``https`` URL with ``#sha256=``). Without the top and a shape the input is
            ``(None, None, 3)``; with the top larq-zoo needs a known size (default 224×224).
            larq-zoo builds on ``input_tensor``'s shape and its layers are then called on the
            tensor (zookeeper refuses tf-keras' KerasTensor itself).
        pooling: with ``include_top=False``, None (the feature map), ``"avg"`` or ``"max"``
            (global pooling to a vector).
        clip_value: not adjustable: larq-zoo fixes each model's quantizers. Only None is
            accepted (a training recipe's ``clip_value`` must be unset).
        name: the model's name; default the registry name.

    Raises:
        ValueError: bad arguments, before anything is built or downloaded.
    """
    name = name or spec.name
    if clip_value is not None:
        raise ValueError(
            f"{spec.name} is built by larq-zoo, whose quantizers fix their clip values; "
            f"clip_value cannot be changed. Received: clip_value={clip_value!r}. Drop it (in a "
            f"training recipe: --set clip_value=null)."
        )
    _common.check_pooling(pooling, include_top)
    _check_flat_imagenet_head(spec, weights, include_top, input_shape, input_tensor)
    inputs = _common.check_inputs(
        model_name=spec.name,
        min_size=spec.min_size,
        imagenet=IMAGENET[spec.larq_zoo_name],
        static_top=True,  # larq-zoo builds its classifiers for one input size
        **_common.application_args(locals()),
    )
    with _quiet_larq():  # on inputs.shape: zookeeper refuses tf-keras' KerasTensor (not a Tensor)
        model = spec.function()(
            input_shape=inputs.shape,
            weights=None,
            include_top=include_top,
            num_classes=inputs.num_classes,
        )
    model = without_lambdas(model)
    if inputs.weights_path is not None:
        weights_lib.load_weights(model, inputs.weights_path)
    outputs = model.outputs[0]
    if include_top and classifier_activation is None:
        outputs = _logits(model)
    if not include_top:
        outputs = _common.global_pool(outputs, pooling)
    model = tf.keras.Model(model.inputs, outputs, name=name)
    return model if inputs.tensor is None else _connect(model, inputs.tensor)


def without_lambdas(model: tf.keras.Model) -> tf.keras.Model:
    """``model`` rebuilt with each of larq-zoo's ``Lambda`` layers replaced by a registered layer
    that computes the same with the same TensorFlow ops; every other layer is a copy with the
    same config and weights.

    A ``Lambda`` holds Python code: Keras' safe mode refuses to load it from a ``.keras`` file,
    and an exporter cannot tell what it computes. larq-zoo 2.4 uses four: MeliusNet's
    ``tf.split`` and ``tf.concat`` around its grouped convolutions and dense blocks
    (``ChannelSplit``, ``Concatenate``), its improvement block's ``x + pad(y)``
    (``AddToLastChannels``), and Real-to-Binary Net's identity that names each block's output
    (``Identity``, same name). A ``Lambda`` of another kind is kept as it is.
    """
    if not any(isinstance(layer, tf.keras.layers.Lambda) for layer in model.layers):
        return model
    copies = []

    def replace(layer):
        if isinstance(layer, tf.keras.layers.Lambda):
            registered = _registered(layer)
            if registered is not None:
                return registered
        copy = layer.__class__.from_config(layer.get_config())
        copies.append((layer, copy))
        return copy

    rebuilt = tf.keras.models.clone_model(model, clone_function=replace)
    for layer, copy in copies:
        copy.set_weights(layer.get_weights())
    return rebuilt


def _registered(layer: tf.keras.layers.Lambda) -> tf.keras.layers.Layer | None:
    """The registered layer computing what larq-zoo's ``layer`` computes, or None."""
    captured = inspect.getclosurevars(layer.function).nonlocals
    op, args, kwargs = captured.get("tf_op"), captured.get("args", ()), captured.get("kwargs", {})
    if op is tf.split and len(args) == 1 and kwargs == {"axis": -1}:
        return ChannelSplit(int(args[0]), name=layer.name)
    if op is tf.concat and not args and kwargs == {"axis": -1}:
        return tf.keras.layers.Concatenate(axis=-1, name=layer.name)
    if set(captured) == {"f_in"} and "pad" in layer.function.__code__.co_names:
        return AddToLastChannels(name=layer.name)  # x_[0] + tf.pad(x_[1], channels in front)
    probe = object()
    if not captured and _identity(layer.function, probe):
        return tf.keras.layers.Identity(name=layer.name)
    return None


def _identity(function, probe) -> bool:
    try:
        return function(probe) is probe
    except Exception:  # noqa: BLE001  (any other function fails on a bare object)
        return False


def _check_flat_imagenet_head(spec, weights, include_top, input_shape, input_tensor) -> None:
    if weights == "imagenet" and include_top is True and spec.flat_head:
        shape = tuple(input_tensor.shape[1:]) if input_tensor is not None else input_shape
        if shape is not None and tuple(shape) != IMAGENET_SHAPE:
            raise ValueError(
                f"{spec.name}'s ImageNet classifier flattens a feature map, so it only fits "
                f"inputs of {IMAGENET_SHAPE}. Received: input_shape={tuple(shape)}. Pass "
                f"include_top=False to use the pretrained features at another size."
            )


def _connect(model: tf.keras.Model, tensor) -> tf.keras.Model:
    """``model``'s layers called anew on the Keras tensor ``tensor``, as Keras applications
    connect to ``input_tensor``: one flat graph whose inputs are ``tensor``'s sources (the
    tensor itself when it is an ``Input``), sharing ``model``'s layers and weights."""
    outputs = model._run_internal_graph(tensor)  # each layer, in order, on the new tensors
    sources = tf.keras.utils.get_source_inputs(tensor)
    return tf.keras.Model(sources, outputs, name=model.name)


@contextlib.contextmanager
def _quiet_larq():
    """Silence larq's advice on layer settings while larq-zoo builds: the settings are
    larq-zoo's published design (DoReFa-Net's unclipped weights), not the user's choice."""
    logger = logging.getLogger("larq.layers_base")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _logits(model: tf.keras.Model) -> tf.Tensor:
    """The input of the model's final softmax (larq-zoo ends every classifier in one)."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if not (
        isinstance(last, tf.keras.layers.Softmax)
        or getattr(activation, "__name__", None) == "softmax"
    ):  # pragma: no cover  (larq-zoo 2.4 always ends in a softmax)
        raise ValueError(f"Expected {model.name} to end in a softmax; it ends in {last.name!r}.")
    return last.input


def _register(spec: LarqZooModel):
    @register_model(
        spec.name,
        family=FAMILY,
        paper=spec.paper,
        published_params=spec.published_params,
        pretrained={"imagenet": IMAGENET[spec.larq_zoo_name]},
    )
    def factory(**kwargs) -> tf.keras.Model:
        return build(spec, **kwargs)

    factory.__name__ = factory.__qualname__ = spec.larq_zoo_name
    factory.__doc__ = (
        f"larq-zoo's {spec.larq_zoo_name} ({spec.paper.short}, {spec.paper.nickname}), built by "
        f"larq-zoo; keyword arguments are those of ``bnnzoo.zoo.larq_zoo.build``."
    )
    return factory


_SPECS = {spec.larq_zoo_name: spec for spec in MODELS}
QuickNet = _register(_SPECS["QuickNet"])
QuickNetSmall = _register(_SPECS["QuickNetSmall"])
QuickNetLarge = _register(_SPECS["QuickNetLarge"])
BiRealNet = _register(_SPECS["BiRealNet"])
BinaryAlexNet = _register(_SPECS["BinaryAlexNet"])
DoReFaNet = _register(_SPECS["DoReFaNet"])
MeliusNet22 = _register(_SPECS["MeliusNet22"])
RealToBinaryNet = _register(_SPECS["RealToBinaryNet"])
XNORNet = _register(_SPECS["XNORNet"])

"""What every zoo factory shares: argument checks, the stem, the classifier head, weights, and
the spec of a network given as the width of every binary conv (Bi-Real ResNets, binary VGGs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import tensorflow as tf

from bnnzoo._checks import one_of, positive_int, positive_ints, true_or_false
from bnnzoo.layers import batch_norm
from bnnzoo.zoo import weights as weights_lib
from bnnzoo.zoo.pretrained import IMAGENET, Pretrained
from bnnzoo.zoo.registry import IMAGENET_SHAPE, registered_input_shape

SMALL_INPUT = 50  # below this side length the 3×3 stride-1 stem of the CIFAR experiments is used
CLASSIFIER_ACTIVATIONS = ("softmax", None)
_Spec = TypeVar("_Spec", bound="WidthSpec")
F = TypeVar("F", bound=Callable[..., tf.keras.Model])
POOLINGS = (None, "avg", "max")  # Keras applications' ``pooling`` with include_top=False
# the arguments every factory takes as Keras applications do, in their order
APPLICATION_ARGS = (
    "input_shape",
    "input_tensor",
    "weights",
    "include_top",
    "num_classes",
    "classifier_activation",
    "pooling",
)


@dataclass(frozen=True)
class Inputs:
    """Validated factory arguments, resolved before any layer is built."""

    shape: tuple
    tensor: tf.Tensor | None
    weights_path: Path | None
    include_top: bool
    num_classes: int
    classifier_activation: str | None
    pooling: str | None = None
    default_shape: tuple = IMAGENET_SHAPE

    @property
    def small(self) -> bool:
        """True when the input is small enough for the CIFAR stem (3×3, stride 1, no pooling).
        A side left open (None) counts as the model's default side, so the features of
        ``include_top=False`` without a shape are the network the default shape builds."""
        sides = [d if d is not None else default for d, default in
                 zip(self.shape[:2], self.default_shape[:2])]  # fmt: skip
        return min(sides) < SMALL_INPUT


def builder(factory: F) -> F:
    """Marks a family builder: it builds its model with AutoGraph off.

    While Keras builds a functional model it runs every layer that is not one of its own (larq's
    quantized layers, bnnzoo's) through AutoGraph, which converts Python control flow on tensors
    into graph ops. The zoo's layers have none (their branches are on Python attributes), so the
    conversion only costs time: without it the same model, with the same weights and outputs,
    builds in about half to three quarters of the time (IGP-ResNet69 at 32 px, BinaryDenseNet28,
    QuickNet; ``tf.autograph.experimental.do_not_convert``). Training and export trace the model
    later with AutoGraph as usual.
    """
    return tf.autograph.experimental.do_not_convert(factory)


def check_inputs(
    *,
    model_name: str,
    input_shape,
    input_tensor,
    weights,
    include_top,
    num_classes,
    classifier_activation="softmax",
    pooling=None,
    min_size: int = 8,
    default_shape: tuple = IMAGENET_SHAPE,
    imagenet: Pretrained | None = None,
    static_top: bool = False,
) -> Inputs:
    """Validate the Keras-applications style arguments of a factory and fetch its weights.

    Runs before any layer is built. Raises ValueError/FileNotFoundError that say what was
    received and what is expected; weights given as a URL or ``"imagenet"`` are downloaded (once,
    verified) here, so a failed download costs no model build. ``imagenet`` is the model's
    published ImageNet weights (``bnnzoo.zoo.pretrained``), None where there are none.

    The input shape is resolved as Keras applications resolve it
    (``imagenet_utils.obtain_input_shape``): ``input_shape``, else ``input_tensor``'s shape,
    else ``default_shape`` with the top and ``(None, None, channels)`` without it, so that the
    features take images of any size. Open sides get the stem of ``default_shape`` (for a
    registered model, its registered input shape). ``static_top``: the classifier flattens a
    feature map (Keras' ``require_flatten``) or is otherwise built for one size, so with the
    top the height and width must be known.
    """
    true_or_false("include_top", include_top)
    default_shape = registered_input_shape() or default_shape  # a registered model's own
    if input_shape is None and input_tensor is None and not include_top:
        input_shape = (None, None, default_shape[-1])
    shape = _check_shape(model_name, input_shape, input_tensor, min_size, default_shape)
    if static_top and include_top and None in shape[:2]:
        raise ValueError(
            f"{model_name} with include_top=True needs a known input height and width: its "
            f"classifier is built for one size. Received: input_shape={shape}. Pass e.g. "
            f"input_shape={tuple(default_shape)}, or include_top=False for features of any size."
        )
    if include_top:
        positive_int("num_classes", num_classes, hint="Pass e.g. num_classes=10.")
    one_of(
        "classifier_activation",
        classifier_activation,
        CLASSIFIER_ACTIVATIONS,
        hint="None gives logits.",
    )
    check_pooling(pooling, include_top)
    source = weights_lib.parse_weights_arg(weights)
    if source.kind == "imagenet":
        _check_imagenet(model_name, shape, include_top, num_classes, imagenet)
    path = weights_lib.resolve(source, imagenet=imagenet, include_top=include_top)
    return Inputs(
        shape, input_tensor, path, include_top, num_classes, classifier_activation, pooling,
        tuple(default_shape),
    )  # fmt: skip


def application_args(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The Keras-applications arguments (``APPLICATION_ARGS``) out of a factory's arguments.

    A factory states them in its signature, as Keras applications do, and passes them on with
    ``check_inputs(model_name=name, min_size=..., **application_args(locals()))``.
    """
    return {key: arguments[key] for key in APPLICATION_ARGS}


def check_pooling(pooling, include_top) -> None:
    """``pooling`` as in Keras applications: None, "avg" or "max", and only without the top
    (where Keras ignores it silently, bnnzoo says so: a pooled classifier was not built)."""
    one_of(
        "pooling",
        pooling,
        POOLINGS,
        hint="None keeps the feature map; 'avg'/'max' pool it to a vector.",
    )
    if pooling is not None and include_top is True:
        raise ValueError(
            f"pooling={pooling!r} applies to the features of include_top=False; the classifier "
            f"pools on its own. Pass include_top=False, or drop pooling."
        )


def imagenet_weights(larq_zoo_name: str | None) -> Pretrained | None:
    """The published ImageNet weights of the larq-zoo model ``larq_zoo_name`` (None: none)."""
    if larq_zoo_name is None:
        return None
    try:
        return IMAGENET[larq_zoo_name]
    except KeyError:
        raise ValueError(
            f"Expected larq_zoo_name to be one of {', '.join(IMAGENET)} (the larq-zoo models "
            f"with published ImageNet weights), or None. Received: {larq_zoo_name!r}."
        ) from None


def _check_shape(model_name, input_shape, input_tensor, min_size, default_shape) -> tuple:
    if input_tensor is not None:
        if not tf.keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                f"Expected input_tensor to be a Keras tensor, e.g. tf.keras.Input(shape=(224, 224, "
                f"3)). Received: {type(input_tensor).__name__}."
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                f"input_shape={tuple(input_shape)} does not match the shape of input_tensor "
                f"{tensor_shape}. Pass only one of them."
            )
        input_shape = tensor_shape
    if input_shape is None:
        return tuple(default_shape)
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise ValueError(
            f"Expected input_shape to be (height, width, channels), e.g. (224, 224, 3). "
            f"Received: input_shape={input_shape!r}."
        )
    shape = tuple(input_shape)
    ok = len(shape) == 3 and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape
    )
    if not ok or shape[2] is None:
        raise ValueError(
            f"Expected input_shape to be (height, width, channels) with positive ints "
            f"(height and width may be None), e.g. (224, 224, 3) or (32, 32, 1). "
            f"Received: input_shape={input_shape!r}."
        )
    small_sides = [d for d in shape[:2] if d is not None and d < min_size]
    if small_sides:
        raise ValueError(
            f"{model_name} needs inputs of at least {min_size}×{min_size} pixels: its stages halve "
            f"the resolution. Received: input_shape={shape}. Resize the images or pass a larger "
            f"input_shape."
        )
    return shape


def _check_imagenet(model_name, shape, include_top, num_classes, imagenet):
    if imagenet is None:
        raise ValueError(
            f"No ImageNet weights are published for {model_name}. Use weights=None, a local "
            f"file, or a URL with '#sha256=...'."
        )
    if include_top and num_classes != 1000:
        raise ValueError(
            f"weights='imagenet' with include_top=True needs num_classes=1000 (the ImageNet "
            f"classifier). Received: num_classes={num_classes}. Pass include_top=False to put your "
            f"own head on the pretrained features."
        )
    if shape[2] != 3 or any(d is not None and d < SMALL_INPUT for d in shape[:2]):
        raise ValueError(
            f"weights='imagenet' needs RGB inputs of at least {SMALL_INPUT}×{SMALL_INPUT} (smaller "
            f"inputs use another stem, so the ImageNet weights do not fit). "
            f"Received: input_shape={shape}."
        )


def model_input(inputs: Inputs, name: str = "input") -> tf.Tensor:
    if inputs.tensor is not None:
        return inputs.tensor
    return tf.keras.Input(shape=inputs.shape, name=name)


def stem(
    x: tf.Tensor,
    *,
    small: bool,
    filters: int = 64,
    bn: bool = True,
    relu: bool = True,
    kernel_initializer: str = "he_normal",
    bn_epsilon: float = 1e-5,
    name: str = "stem",
) -> tf.Tensor:
    """Full-precision stem: 7×7/2 conv → BN → ReLU → 3×3/2 max pool, or for inputs under 50 px
    (the CIFAR experiments of Bethge et al. 2019 and Zhang et al. 2017) a 3×3 stride-1 conv →
    BN → ReLU without pooling.

    ``relu=False`` ends the conv → BN in BN, for a binary layer that reads the stem (the sign of
    a ReLU output is constant); ``bn=False`` leaves the bare conv (→ pool), for a pre-activation
    network whose first block normalizes it. ``kernel_initializer`` and ``bn_epsilon`` are those
    of the conv and the BN (the Bi-Real networks: glorot-normal and their binarization's
    epsilon). Layers: ``{name}_conv``, ``_bn``, ``_relu``, ``_pool``.
    """
    kernel, strides = (3, 1) if small else (7, 2)
    x = tf.keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=kernel_initializer,
        name=f"{name}_conv",
    )(x)
    if bn:
        x = batch_norm(name=f"{name}_bn", epsilon=bn_epsilon)(x)
        if relu:
            x = tf.keras.layers.Activation("relu", name=f"{name}_relu")(x)
    if not small:
        x = tf.keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return x


def classifier(
    x: tf.Tensor,
    inputs: Inputs,
    *,
    kernel_initializer: str,
    before_dense=None,
    name: str = "head",
) -> tf.Tensor:
    """Global average pooling (→ ``before_dense``, e.g. a BatchNorm) → full-precision dense
    layer → softmax (or logits). The softmax computes in float32 under a mixed policy."""
    x = tf.keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    if before_dense is not None:
        x = before_dense(x)
    x = tf.keras.layers.Dense(
        inputs.num_classes, kernel_initializer=kernel_initializer, name=f"{name}_dense"
    )(x)
    if inputs.classifier_activation:
        x = tf.keras.layers.Activation(
            inputs.classifier_activation,
            dtype="float32",
            name=f"{name}_{inputs.classifier_activation}",
        )(x)
    return x


def global_pool(x: tf.Tensor, pooling: str | None) -> tf.Tensor:
    """Keras applications' ``pooling``: None keeps the feature map, "avg"/"max" pool it."""
    if pooling is None:
        return x
    layers = {
        "avg": tf.keras.layers.GlobalAveragePooling2D,
        "max": tf.keras.layers.GlobalMaxPooling2D,
    }
    return layers[pooling](name=f"{pooling}_pool")(x)


def top(x: tf.Tensor, inputs: Inputs, *, kernel_initializer: str, before_dense=None) -> tf.Tensor:
    """The end of a convolutional zoo model: the classifier with ``include_top``, else the
    features, pooled as ``pooling`` asks."""
    if inputs.include_top:
        return classifier(
            x, inputs, kernel_initializer=kernel_initializer, before_dense=before_dense
        )
    return global_pool(x, inputs.pooling)


def finish(x_in: tf.Tensor, x_out: tf.Tensor, inputs: Inputs, *, name: str) -> tf.keras.Model:
    """Wrap the graph in a Model and load the requested weights (all or nothing)."""
    sources = tf.keras.utils.get_source_inputs(inputs.tensor) if inputs.tensor is not None else x_in
    model = tf.keras.Model(sources, x_out, name=name)
    if inputs.weights_path is not None:
        weights_lib.load_weights(model, inputs.weights_path)
    return model


def conv_name(stage: int, index: int) -> str:
    """Layer name of the ``index``-th binary conv (0-based) of stage ``stage`` (0-based)."""
    return f"stage{stage + 1}_conv{index + 1}"


class WidthSpec:
    """What the specs that list the width of every binary 3×3 conv, stage by stage, share
    (``bnnzoo.zoo.bireal.BiRealSpec``, ``bnnzoo.zoo.vgg.VGGSpec``): the checks of ``stages``,
    ``convs_per_block`` and ``align``, and what DWR's reshaping and pruning read.

    A subclass is a frozen dataclass with those three fields; its ``__post_init__`` calls
    ``_check_widths``.
    """

    stages: tuple[tuple[int, ...], ...]
    convs_per_block: int
    align: int | None

    def _check_widths(self, example: str) -> None:
        """Validate ``stages`` (stored as tuples of ints), ``convs_per_block`` and ``align``;
        ``example`` is a valid ``stages`` for the error message."""
        if isinstance(self.stages, (str, bytes)) or not self.stages:
            raise ValueError(
                f"Expected stages to be a non-empty list of per-stage conv widths, e.g. "
                f"{example}. Received: stages={self.stages!r}."
            )
        stages = tuple(positive_ints(f"stages[{i}]", s) for i, s in enumerate(self.stages))
        object.__setattr__(self, "stages", stages)
        positive_int("convs_per_block", self.convs_per_block)
        if self.align is not None:
            positive_int("align", self.align, hint="Pass None for no alignment layer.")

    @property
    def blocks(self) -> tuple[float, ...]:
        """Residual blocks (reshaping units) per stage: convs / convs_per_block."""
        return tuple(len(s) / self.convs_per_block for s in self.stages)

    @property
    def widths(self) -> tuple[int, ...]:
        """The widest conv of each stage."""
        return tuple(max(s) for s in self.stages)

    def binary_convs(self) -> list[tuple[str, int]]:
        """(layer name, output width) of every binary conv, in order, alignment included."""
        convs = [(conv_name(i, j), w) for i, s in enumerate(self.stages) for j, w in enumerate(s)]
        if self.align is not None:
            convs.append(("align_conv", self.align))
        return convs

    def replace(self: _Spec, **changes) -> _Spec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

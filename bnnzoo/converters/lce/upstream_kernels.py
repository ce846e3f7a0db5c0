"""A known defect of Larq Compute Engine 0.16: a quantized kernel is folded into a constant only
up to a size; above it a layer computed in float stays unfolded or crashes the converter, and a
binary convolution stays in float. (``upstream`` holds the other defect, and
``avoid_upstream_defects``, which rewrites both in one copy of the model.)

**What fails.** LCE 0.16 has one binary op: a ``QuantConv2D`` with a 1-bit sign input quantizer
and a binary kernel becomes an ``LceBconv2d``. Every other larq layer with a kernel quantizer is
computed in float: a ``QuantDense`` (LCE has no binary dense op), a ``QuantDepthwiseConv2D``,
and a ``QuantConv2D`` whose input quantizer is not 1-bit (None, or multi-bit like DoReFa's
2-bit). The converter has to evaluate the kernel quantizer on the latent kernel, and it folds
that into a constant only up to a size. Measured on one ``QuantDense`` without bias, LCE
0.16.0, TensorFlow 2.16.2 (``benchmarks/lce_defects.py``): up to 6144×4096 (101 MB of float
weights) the kernel is folded (one ``FULLY_CONNECTED``, a file the size of the float weights,
as without a kernel quantizer). At 8192×4096 (134 MB) it is not: with ``ste_sign`` the file
keeps the latent kernel and computes ``SIGN`` and ``TRANSPOSE`` of it on every inference
(134 MB); with DoReFa's ``magnitude_aware_sign_unclipped`` it computes ``MEAN``, ``SIGN`` and
``MUL`` on every inference and is twice the weights (268 MB). At 9216×4096 (37.7 M weights) the
converter fails, with ``ste_sign`` or magnitude-aware kernels, with or without DoReFa's input
quantizer, and not always the same way: its saved-model path dies of a segmentation fault, or
raises ValueError "cannot create std::vector larger than max_size()" (which LCE hides behind
the warning "Saved-model conversion failed, falling back to graphdef-based conversion"), and
its graphdef fallback then raises the same ValueError or dies of a segmentation fault. A
segmentation fault kills the process; the same happens with ``target="xcore"``. Without a
kernel quantizer the same layer converts (151 MB). The smallest model that shows it:
``Input((9216,))`` into ``QuantDense(4096, kernel_quantizer="ste_sign")``. larq-zoo's
DoReFa-Net at 224×224 has that layer (its 6×6×256 feature map into 4096 units), so ``bnnzoo
export dorefanet`` died of a segmentation fault; so did ``wu_bnn13`` (a binary ``QuantDense``
of 75.5 M weights).

**Binary convolutions too.** A ``QuantConv2D`` with a 1-bit input quantizer becomes an
``LceBconv2d`` only if LCE can fold its quantized kernel, and the same limit applies. Measured
with one 6×6 conv on a 6×6×256 input (a scratch script; LCE 0.16.0, TensorFlow 2.16.2):
4,096 filters (37.7 M weights, XNOR-Net's layer) with an ``ste_sign`` kernel become an
``LceBconv2d`` (a 4.75 MB file); with larq-zoo's ``xnor_weight_scale`` (sign times mean
``|w|``) they stay a float ``CONV_2D`` that computes ``ABS``, ``MEAN`` and ``MUL`` of the latent
kernel on every inference (151 MB), with ``MagnitudeAwareSign`` likewise (302 MB); 1,024 and
2,048 filters with ``xnor_weight_scale`` become ``LceBconv2d``; and 4,096 filters whose kernel is
given as the constant ``xnor_weight_scale(kernel)`` become an ``LceBconv2d`` of 4.75 MB. So
larq-zoo's XNOR-Net ran 96.3 % of its binary MACs bitwise and its file was 7.14× its 1-bit
figure; with its kernels folded first, 100 % and 1.00× (``benchmarks/export_matrix.md``).

**Binary dense layers.** LCE 0.16 has no binary dense op: a ``QuantDense`` with a sign input
and a binary kernel (Wu et al.'s head) stayed a float ``FULLY_CONNECTED`` of float32 weights
(``wu_alexnet``: 95.2 % of its binary MACs bitwise, its file 8.42× the 1-bit figure). For the
arm target it is converted as a ``DenseAsBinaryConv``: the same kernel as a 1x1 binary conv on
the features seen as a 1x1 image, which LCE makes an ``LceBconv2d`` (the same integer sums).

**The rewrite.** Each such layer is replaced by the same layer whose kernel is its kernel
quantizer evaluated once, ``quantizer(latent kernel)`` by TensorFlow in the layer's compute
dtype (float32), and which has no kernel quantizer; its input quantizer, bias, activation and
every other setting are kept. Keras computes that same quantizer on that same kernel on every
call, so the layer computes the same values with the same ops, bit for bit. A binary
convolution keeps its sign input quantizer, so LCE still makes it an ``LceBconv2d``, now from
a constant ``+-alpha`` kernel (the exact check and the binary-MAC share of every zoo family
are unchanged). Two exceptions: a binary convolution that the zero-padding rewrite replaces
keeps its quantizer (that rewrite's ``same``-one layer converts as LCE converts any binary
conv), and for ``target="xcore"`` binary convolutions are left as they are (LCE makes no
``LceBconv2d`` there; XMOS' tools take them).

**Always, not only where needed.** Below the size where LCE stops folding, it folds these
kernels itself: on small layers of each kind (dense with ``ste_sign`` and magnitude-aware
kernels, a DoReFa-input conv, a depthwise conv, a binary conv), LCE's own file and the file of
the rewritten model have the same ops, the same size and the same weight bytes. So the rewrite
changes nothing where LCE manages, and above that size it turns a crash, a doubled file, a sign
per inference or a float binary conv into the file LCE writes for small layers. Where that size
lies is an undocumented limit of LCE's converter (between 101 and 134 MB for a dense
``ste_sign`` kernel here, a crash a little above); a threshold in bnnzoo would be a guess that
breaks silently with another quantizer, layer or version. Folding every such layer costs one
copy of the model before converting, and the file no longer depends on that limit. (The claim
for a small binary conv is
``test_model_without_the_padding_defect_converts_as_lce_alone_converts_it``.)

Inside a subclassed model no layer can be replaced; such layers are left to LCE.

Example:
    >>> [(k.layer, k.weights) for k in quantized_kernels(dorefanet)][-2:]
    [('quant_dense', 37748736), ('quant_dense_1', 16777216)]
"""

from __future__ import annotations

from dataclasses import dataclass

import larq as lq
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class QuantizedKernel:
    """A layer that LCE computes in float and whose kernel has a quantizer.

    Attributes:
        layer: name of the layer, with the names of the nested models it sits in
            (``"outer/inner/dense"``).
        kind: its class name (``"QuantDense"``).
        weights: number of weights of the quantized kernel.
    """

    layer: str
    kind: str
    weights: int


def kernel_attribute(layer: tf.keras.layers.Layer, *, binary_convs: bool = True) -> str | None:
    """``"kernel"`` or ``"depthwise_kernel"`` for a layer whose quantized kernel bnnzoo folds
    before converting (see the module docstring); None for every other layer.
    ``binary_convs=False`` leaves out the convolutions LCE makes ``LceBconv2d`` (for the xcore
    target, whose tools take larq's binary convs as they are).

    Example:
        >>> kernel_attribute(lq.layers.QuantDense(8, kernel_quantizer="ste_sign"))
        'kernel'
    """
    if isinstance(layer, lq.layers.QuantDepthwiseConv2D):
        return "depthwise_kernel" if layer.depthwise_quantizer is not None else None
    if isinstance(layer, lq.layers.QuantDense | lq.layers.QuantConv2D):
        if layer.kernel_quantizer is None:
            return None
        binary_conv = isinstance(layer, lq.layers.QuantConv2D) and has_one_bit_input(layer)
        return None if binary_conv and not binary_convs else "kernel"
    return None


def has_one_bit_input(layer: tf.keras.layers.Layer) -> bool:
    """True for a layer with a 1-bit input quantizer (larq's sign quantizers: ``precision``
    1, as ``bnnzoo.analysis.is_binary`` counts them)."""
    return getattr(getattr(layer, "input_quantizer", None), "precision", None) == 1


def quantized_kernels(
    model: tf.keras.Model, *, binary_convs: bool = True, _prefix: str = ""
) -> list[QuantizedKernel]:
    """The layers of ``model`` (nested models included) whose kernel quantizer bnnzoo evaluates
    before converting with LCE (``binary_convs``: as in ``kernel_attribute``).

    Example:
        >>> quantized_kernels(zoo.BinaryResNetE18(), binary_convs=False)  # binary convs only
        []
    """
    found = []
    for layer in model.layers:
        name = f"{_prefix}{layer.name}"
        if isinstance(layer, tf.keras.Model):
            found += quantized_kernels(layer, binary_convs=binary_convs, _prefix=f"{name}/")
        elif (attribute := kernel_attribute(layer, binary_convs=binary_convs)) is not None:
            size = int(np.prod(getattr(layer, attribute).shape))
            found.append(QuantizedKernel(name, type(layer).__name__, size))
    return found


def quantized_kernel(layer: tf.keras.layers.Layer) -> np.ndarray:
    """The kernel that ``layer`` computes with: its kernel quantizer applied to its latent
    kernel in the layer's compute dtype, as Keras does on every call, stored in the kernel's
    dtype."""
    attribute = kernel_attribute(layer)
    quantizer = (
        layer.depthwise_quantizer if attribute == "depthwise_kernel" else layer.kernel_quantizer
    )
    variable = getattr(layer, attribute)
    latent = getattr(variable, "latent_variable", variable)  # larq's QuantizedVariable
    value = tf.cast(tf.convert_to_tensor(latent), layer.compute_dtype)
    return tf.cast(quantizer(value), latent.dtype).numpy()


def without_kernel_quantizer(
    layer: tf.keras.layers.Layer, *, binary_dense_as_conv: bool = False
) -> tf.keras.layers.Layer:
    """A new, unbuilt layer like ``layer`` with no kernel quantizer (``fill_folded`` gives it
    the quantized kernel once it is built). With ``binary_dense_as_conv``, a binary dense
    layer (``is_binary_dense``) becomes a ``DenseAsBinaryConv`` (see the module docstring)."""
    config = layer.get_config()
    if kernel_attribute(layer) == "depthwise_kernel":
        config["depthwise_quantizer"] = None
    else:
        config["kernel_quantizer"] = None
    if binary_dense_as_conv and is_binary_dense(layer):
        conv = {k: v for k, v in config.items() if k != "units"}
        return DenseAsBinaryConv(filters=layer.units, kernel_size=1, **conv)
    return layer.__class__.from_config(config)


def is_binary_dense(layer: tf.keras.layers.Layer) -> bool:
    """A ``QuantDense`` with a 1-bit input quantizer and a kernel of ``+-alpha`` per output
    unit: an ``LceBconv2d`` once written as a 1x1 conv."""
    if not (isinstance(layer, lq.layers.QuantDense) and has_one_bit_input(layer)):
        return False
    if layer.kernel_quantizer is None or not layer.built:
        return False
    magnitude = np.abs(quantized_kernel(layer))
    return bool(np.all(magnitude == magnitude.max(axis=0)) and np.all(magnitude > 0))


class DenseAsBinaryConv(lq.layers.QuantConv2D):
    """A binary dense layer computed as a 1x1 binary convolution of its input features seen as
    a 1x1 image: the same integer sums, so the same values; LCE 0.16, which has no binary dense
    op, makes it an ``LceBconv2d``. Conversion only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.input_spec = tf.keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        super().build(tf.TensorShape([input_shape[0], 1, 1, input_shape[-1]]))
        self.input_spec = tf.keras.layers.InputSpec(ndim=2)

    def call(self, inputs):
        outputs = super().call(tf.reshape(inputs, (-1, 1, 1, inputs.shape[-1])))
        return tf.reshape(outputs, (-1, self.filters))

    def compute_output_shape(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank == 2:
            return tf.TensorShape([input_shape[0], self.filters])
        return super().compute_output_shape(input_shape)


def fill_folded(original: tf.keras.layers.Layer, folded: tf.keras.layers.Layer) -> None:
    """Give ``folded`` (built, from ``without_kernel_quantizer``) the weights of ``original``,
    with the quantized kernel in place of the latent one (reshaped to a 1x1 conv's kernel for
    a ``DenseAsBinaryConv``)."""
    kernel = getattr(original, kernel_attribute(original))
    if sum(weight is kernel for weight in original.weights) != 1:  # never fold a latent kernel
        raise RuntimeError(f"Cannot find the kernel of layer {original.name!r} in its weights.")
    values = [
        quantized_kernel(original) if weight is kernel else weight.numpy()
        for weight in original.weights
    ]
    folded.set_weights([v.reshape(w.shape) for v, w in zip(values, folded.weights)])

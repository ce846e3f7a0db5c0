"""Export a Keras BNN to OpenVINO so that every binary convolution runs bitwise on x86.

The exporter walks the Keras functional graph layer by layer and emits one OpenVINO op (or a
short fixed sequence) per layer. Every binary convolution becomes::

    FakeQuantize(levels=2, per-channel threshold, outputs {0, 1})  ->  BinaryConvolution

which OpenVINO's CPU plugin executes as a bit-packing ("binarization") kernel followed by its
JIT ``xnor-popcount`` convolution. Everything else (stem, BatchNorm, ReLU, pooling,
concatenation, shortcuts, dense head) becomes ordinary float ops.

Why a graph walker and not OpenVINO's own TensorFlow conversion: that conversion keeps every
larq convolution in float (measured: 27 float ``Convolution`` nodes for BinaryDenseNet28; larq's
``sign`` is ``sign(sign(x) + 0.1)``, which no OpenVINO pattern turns into bits), and getting the
CPU plugin's own ``Convolution(FakeQuantize(levels=2))`` → ``BinaryConvolution`` rewrite to fire
means shaping the graph for a plugin-internal pattern whose result was wrong in a first try.
Emitting ``BinaryConvolution`` directly states the binary semantics in the IR itself (visible
in the ``.xml``, independent of plugin heuristics), each Keras layer maps to one small function
that a test checks against Keras, and every threshold and pad value is computed where the Keras
layer is at hand.

Modules, in the order a model goes through them:

* ``graph``: the walk over the Keras graph, one emitter per layer kind;
* ``float_layers`` and ``binary_layers``: the emitters (``binary_layers`` says how binary
  convolutions stay exact), with ``nodes`` (layout, padding) and ``thresholds`` (where Keras'
  ``sign`` switches, per channel) under them;
* ``int8_stem``: ``quantize_stem``, the stem in int8, calibrated on real images (optional,
  ``to_openvino(model, int8_stem=images)``);
* ``runtime``: ``compile`` (float layers in ``f32`` or ``bf16``), ``predict`` and what the CPU
  plugin made of the model (``binary_ops_in_runtime``, ``reference_kernels``, ``profile``);
* ``export``: ``to_openvino``, ``save``, ``verify_openvino`` and ``export_openvino``, the
  ``bnnzoo export MODEL --format openvino`` command.

Example:
    >>> import bnnzoo
    >>> from bnnzoo import zoo
    >>> from bnnzoo.converters import openvino as ov_export
    >>> model = zoo.create_model("binary_densenet28")
    >>> ov_model = ov_export.to_openvino(model, "out/binary_densenet28.xml")
    >>> compiled = ov_export.compile(ov_model, threads=2)
    >>> probabilities = ov_export.predict(compiled, images)  # NHWC float32, like Keras
    >>> ov_export.binary_ops_in_runtime(compiled)  # {'stage1_layer1_conv': 'jit_avx512_u1', ...}
"""

from bnnzoo.converters.openvino.binary_layers import SIGN_QUANTIZERS, binary_conv_layers
from bnnzoo.converters.openvino.export import (
    OpenVINOExportReport,
    export_openvino,
    save,
    to_openvino,
    verify_openvino,
)
from bnnzoo.converters.openvino.int8_stem import Int8Stem, quantize_stem
from bnnzoo.converters.openvino.nodes import SUPPORTED_LAYERS
from bnnzoo.converters.openvino.runtime import (
    LayerTime,
    RuntimeOp,
    binary_ops_in_runtime,
    compile,
    nhwc_concat,
    predict,
    profile,
    reference_kernels,
    resolve_precision,
    runtime_ops,
    summarize_profile,
)

__all__ = [
    "SIGN_QUANTIZERS",
    "SUPPORTED_LAYERS",
    "Int8Stem",
    "LayerTime",
    "OpenVINOExportReport",
    "RuntimeOp",
    "binary_conv_layers",
    "binary_ops_in_runtime",
    "compile",
    "export_openvino",
    "nhwc_concat",
    "predict",
    "profile",
    "quantize_stem",
    "reference_kernels",
    "resolve_precision",
    "runtime_ops",
    "save",
    "summarize_profile",
    "to_openvino",
    "verify_openvino",
]

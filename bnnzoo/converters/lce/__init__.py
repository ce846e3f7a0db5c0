"""Export to TFLite through Larq Compute Engine (LCE) for ARM phones and microcontrollers.

LCE fuses ``sign(x)`` followed by a binary-kernel convolution (and the BatchNorm after it) into
one ``LceBconv2d`` op that runs as xnor-popcount on ARM; everything else stays a TFLite builtin.
One module per step:

* ``convert``: ``to_tflite`` (``larq_compute_engine.convert_saved_model`` of a SavedModel of
  the model's call alone, ``serving_saved_model``) and its argument
  checks, ``check_int8_range`` among them;
* ``flatbuffer``: ``read_ops``, ``op_histogram``, ``bconv_ops``: what the file holds;
* ``report``: ``binary_mac_report`` (which share of the Keras model's binary MACs LCE runs in
  ``LceBconv2d``, and the binary layers it left in float) and ``size_report`` (the file against
  the 1-bit storage figure of ``count_model``);
* ``runtime``: ``lce_engine`` (LCE's interpreter as an engine of ``bnnzoo.converters.verify``)
  and ``verify_tflite``;
* ``export``: ``export_tflite``, all of the above for the ``bnnzoo export`` command;
* ``upstream`` (with ``upstream_kernels`` and ``upstream_batchnorm``): known LCE 0.16 defects
  and how ``to_tflite`` avoids them (``zero_padding_defects``, ``imprecise_fused_batchnorms``,
  ``avoid_upstream_defects``).

What LCE 0.16 does with the zoo's layers (measured, see ``benchmarks/lce_fusion.md``):

* ``target="arm"``: every binary ``QuantConv2D`` built by ``bnnzoo.layers.binary_conv2d``
  (padding ``same`` with pad value 0 or 1, or ``valid``; strides; dilation; 1×1 and 3×3) becomes
  one ``LceBconv2d``; a ``MagnitudeAwareSign`` kernel fuses too (its per-channel scale becomes
  the op's output multiplier), while ``XnorScaling``'s activation scale ``K`` stays float
  (``ABS``, ``MEAN``, a box-filter ``CONV_2D``, ``MUL``). A BatchNorm → MaxPool → binary conv
  becomes ``LceQuantize`` → ``LceBMaxPool2d`` → ``LceBconv2d``. A binary conv with another pad
  value, a binary depthwise conv and a binary dense layer are left in float
  (``LceDequantize`` → ``CONV_2D``/``DEPTHWISE_CONV_2D``/``FULLY_CONNECTED`` on ±1 values).
* ``target="xcore"``: LCE leaves every binary conv as a float ``CONV_2D`` on ``LceDequantize``-d
  ±1 inputs (no ``LceBconv2d``); XMOS' own tools do the binary lowering afterwards. The share
  reported for an xcore flatbuffer is therefore 0 %.

Example:
    >>> from bnnzoo import zoo
    >>> from bnnzoo.converters.lce import binary_mac_report, op_histogram, to_tflite
    >>> model = zoo.BinaryResNetE18(input_shape=(224, 224, 3))
    >>> flatbuffer = to_tflite(model, "resnet_e18.tflite")
    >>> op_histogram(flatbuffer)["LceBconv2d"]
    16
    >>> binary_mac_report(model, flatbuffer).share_percent
    100.0
"""

from bnnzoo.converters.lce.convert import TARGETS, check_int8_range, to_tflite
from bnnzoo.converters.lce.export import ExportReport, export_tflite
from bnnzoo.converters.lce.flatbuffer import (
    BconvInfo,
    OpInfo,
    TensorInfo,
    bconv_ops,
    op_histogram,
    read_ops,
)
from bnnzoo.converters.lce.report import (
    BinaryMacReport,
    SizeReport,
    UnfusedLayer,
    binary_mac_report,
    size_report,
)
from bnnzoo.converters.lce.runtime import lce_engine, verify_tflite
from bnnzoo.converters.lce.upstream import (
    ZeroPaddingDefect,
    avoid_upstream_defects,
    imprecise_fused_batchnorms,
    zero_padding_defects,
)

__all__ = [
    "TARGETS",
    "BconvInfo",
    "BinaryMacReport",
    "ExportReport",
    "OpInfo",
    "SizeReport",
    "TensorInfo",
    "UnfusedLayer",
    "ZeroPaddingDefect",
    "avoid_upstream_defects",
    "bconv_ops",
    "binary_mac_report",
    "check_int8_range",
    "export_tflite",
    "imprecise_fused_batchnorms",
    "lce_engine",
    "op_histogram",
    "read_ops",
    "size_report",
    "to_tflite",
    "verify_tflite",
    "zero_padding_defects",
]

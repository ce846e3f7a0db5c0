"""Converters: a Keras BNN to engines that run its binary layers bitwise, each checked against
Keras, and their latency side by side.

* ``lce``: TFLite through Larq Compute Engine (ARM phones, microcontrollers): ``to_tflite``,
  ``export_tflite``, what the flatbuffer holds, ``lce_engine``;
* ``openvino``: OpenVINO IR with ``BinaryConvolution`` (x86 CPUs): ``to_openvino``,
  ``export_openvino``, ``compile``, ``predict``; imported on its own (``from
  bnnzoo.converters import openvino``), as it loads OpenVINO;
* ``verify``: the one comparison of an engine's outputs with Keras that both use;
* ``exact``: tie-free weights, under which a correct conversion agrees with Keras to float
  rounding on every input (``check_conversion``, which both exports run);
* ``bench``: every engine timed side by side (a subpackage; its function of the same name is
  ``bnnzoo.converters.bench.bench``).

The names below are re-exported here. ``load_or_build`` lives in ``bnnzoo.zoo.loading``.

Example:
    >>> from bnnzoo.converters import export_tflite
    >>> print(export_tflite("binary_densenet28", "bdn28.tflite", weights="imagenet"))
    >>> from bnnzoo.converters.bench import bench
    >>> print(bench("binary_densenet28", input_shape=(224, 224, 3), runs=30).format())
"""

from bnnzoo.converters.bench import BenchReport
from bnnzoo.converters.exact import Margins, check_conversion, tie_free_weights
from bnnzoo.converters.lce import (
    TARGETS,
    BinaryMacReport,
    ExportReport,
    SizeReport,
    binary_mac_report,
    export_tflite,
    lce_engine,
    op_histogram,
    read_ops,
    size_report,
    to_tflite,
    verify_tflite,
)
from bnnzoo.converters.reference import (
    keras_outputs,
    looks_untrained,
    random_inputs,
    randomize_weights,
)
from bnnzoo.converters.verify import (
    VerificationError,
    VerifyReport,
    compare_outputs,
    verify_engine,
)
from bnnzoo.zoo.loading import load_or_build

__all__ = [
    "TARGETS",
    "BenchReport",
    "BinaryMacReport",
    "ExportReport",
    "Margins",
    "SizeReport",
    "VerificationError",
    "VerifyReport",
    "binary_mac_report",
    "check_conversion",
    "compare_outputs",
    "export_tflite",
    "keras_outputs",
    "lce_engine",
    "load_or_build",
    "looks_untrained",
    "op_histogram",
    "random_inputs",
    "randomize_weights",
    "read_ops",
    "size_report",
    "tie_free_weights",
    "to_tflite",
    "verify_engine",
    "verify_tflite",
]
